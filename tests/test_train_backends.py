"""``tfrnncomp train`` off TensorFlow: NumPy patches, one device, and what needs TensorFlow.

The PyTorch test runs ``tfrnncomp train`` 2 steps under ``KERAS_BACKEND=torch`` on the CPU (a
subprocess in which TensorFlow cannot be imported); the checkpoint it writes must load into the
TensorFlow model and code a fixed image to the same codes and reconstructions.
"""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import (TINY_CONFIG, WITHOUT_TENSORFLOW, assert_codes_as_on_tensorflow,
                           jax_environment, random_photos, torch_environment)
from tfrnncomp.training import train
from tfrnncomp.training.run_dir import finished_epoch
from tfrnncomp.errors import ConfigError
from tfrnncomp.training.patches import PatchBatches


def _photos(root, n=8):
    return random_photos(root, n=n, size=(40, 48), seed=1)


@pytest.fixture
def off_tensorflow(monkeypatch):
    monkeypatch.setattr(train, "_on_tensorflow", lambda: False)


def test_off_tensorflow_a_run_reads_numpy_patch_batches_of_its_splits(tmp_path, off_tensorflow):
    training = train.TrainingConfig(data=_photos(tmp_path / "data"), batch_size=4, patch_size=16,
                                    validation_steps=1, validation_fraction=0.3)
    dataset, validation = train._datasets(training, str(tmp_path / "run"), multi_worker=False)
    assert isinstance(dataset, PatchBatches) and isinstance(validation, PatchBatches)
    assert dataset[0].shape == (4, 16, 16, 3)
    assert not set(dataset.files) & set(validation.files)
    assert train._strategy(training) is None


def test_off_tensorflow_what_needs_tensorflow_is_refused_with_a_clear_error(tmp_path,
                                                                            off_tensorflow):
    data = _photos(tmp_path / "data")
    with pytest.raises(ConfigError, match="--strategy mirrored needs the TensorFlow backend"):
        train._strategy(train.TrainingConfig(data=data, strategy="mirrored"))
    with pytest.raises(ConfigError, match="hard patches and TFDS sources"):
        train._datasets(train.TrainingConfig(data=data, hard_patches=True), str(tmp_path), False)
    with pytest.raises(ConfigError, match="--validation-images 0"):
        train.whole_image_validation(train.TrainingConfig(data=data), str(tmp_path))


RUN = """
import json, sys
from tfrnncomp.training.train import TrainingConfig, train
config, data, run_dir, epochs = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
history = train(config, TrainingConfig(data=data, batch_size=4, patch_size=32, steps_per_epoch=2,
                                       epochs=epochs, validation_images=0, seed=1), run_dir,
                verbose=0)
print(json.dumps(history.history))
"""


@pytest.mark.slow
def test_a_run_trains_and_resumes_under_jax(tmp_path):
    env = jax_environment()
    data, run_dir = _photos(tmp_path / "data"), str(tmp_path / "run")
    for epochs in (1, 2):
        done = subprocess.run([sys.executable, "-c", RUN, json.dumps(TINY_CONFIG), data, run_dir,
                               str(epochs)], env=env, check=True, timeout=600,
                              capture_output=True, text=True)
        history = json.loads(done.stdout.strip().splitlines()[-1])
        assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    assert finished_epoch(run_dir) == 2
    assert os.path.isfile(os.path.join(run_dir, "latest.weights.h5"))


TORCH_RUN = """
import sys
import numpy as np
from tests.helpers import load_tool
from tfrnncomp.apps.cli import main
from tfrnncomp.model.config import load_config
from tfrnncomp.training.setup import TrainingConfig, build_model
data, config, run_dir = sys.argv[1:4]
status = main(["train", "--data", data, "--config", config, "--out", run_dir, "--patch-size", "32",
               "--batch-size", "4", "--steps-per-epoch", "2", "--epochs", "1",
               "--validation-images", "0", "--seed", "1"])
assert status == 0, status
model = build_model(load_config(config), TrainingConfig())
model.load_weights(run_dir + "/latest.weights.h5")
np.savez(run_dir + "/probe.npz", **load_tool("training/device_run.py").probe(model))
"""


def test_a_two_step_pytorch_run_writes_a_checkpoint_that_codes_the_same_under_tensorflow(
        tmp_path):
    env = torch_environment()
    config, run_dir, script = tmp_path / "tiny.json", tmp_path / "run", tmp_path / "torch_run.py"
    config.write_text(json.dumps(TINY_CONFIG))
    script.write_text(TORCH_RUN)
    done = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(script),
                           _photos(tmp_path / "data"), str(config), str(run_dir)],
                          env=env, timeout=600, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    assert finished_epoch(str(run_dir)) == 1
    with open(run_dir / "log.csv", encoding="utf-8", newline="") as log:
        (row,) = csv.DictReader(log)
    assert np.isfinite(float(row["loss"]))
    assert_codes_as_on_tensorflow(config, run_dir / "latest.weights.h5", run_dir / "probe.npz",
                                  optimizer_step=2)
