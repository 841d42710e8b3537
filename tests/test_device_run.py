"""Training off TensorFlow: the accelerator run's preparation, a JAX run's checkpoint in TensorFlow.

The JAX test trains the tiny model 2 steps with ``tools/training/device_run.py`` under
``KERAS_BACKEND=jax`` on the CPU (a subprocess in which TensorFlow cannot be imported), then
loads its checkpoint into the TensorFlow model, which must code a fixed image to the same codes
and reconstructions.
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.helpers import (HERE, TINY_CONFIG, WITHOUT_TENSORFLOW, assert_codes_as_on_tensorflow,
                           jax_environment, load_tool, random_photos)

CHECKPOINT = os.path.join(HERE, "..", "tools", "training", "default", "checkpoint.weights.h5")
DEVICE_RUN = os.path.join(HERE, "..", "tools", "training", "device_run.py")


def _parts():
    return load_tool("training/checkpoint_parts.py")


def _datasets(path):
    with h5py.File(path, "r") as handle:
        names = []
        handle.visit(names.append)
        return {n: handle[n][()] for n in names if isinstance(handle[n], h5py.Dataset)}


def test_a_split_checkpoint_has_parts_under_16_mib_and_joins_to_the_same_file(tmp_path):
    parts = _parts()
    model, optimizer = tmp_path / "model.weights.h5", tmp_path / "optimizer.weights.h5"
    parts.split(CHECKPOINT, model, optimizer)
    assert os.path.getsize(model) < 16 * 2**20 and os.path.getsize(optimizer) < 16 * 2**20
    assert "optimizer" not in _datasets(model) and all(
        n.startswith("optimizer/") for n in _datasets(optimizer))
    joined = tmp_path / "joined.weights.h5"
    parts.join(model, optimizer, joined)
    original, again = _datasets(CHECKPOINT), _datasets(joined)
    assert sorted(original) == sorted(again)
    assert all(np.array_equal(original[n], again[n]) for n in original)
    with pytest.raises(SystemExit, match="model part first"):
        parts.join(optimizer, model, tmp_path / "wrong.weights.h5")


def test_device_prep_crops_only_the_training_split_and_stops_at_its_budget(tmp_path):
    prep = load_tool("training/device_prep.py")
    from tfrnncomp.training.image_files import list_images, split_files

    data = random_photos(tmp_path / "data", n=20, size=(50, 300))
    train = split_files(list_images(data), "train", 0.3, root=data)
    assert 0 < len(train) < 20
    written = prep.crop_photos(data, str(tmp_path / "photos"), crop=32, quality=90,
                               validation_fraction=0.3)
    assert len(written) == len(train)
    assert all(Image.open(p).size == (32, 32) for p in written)
    small = prep.crop_photos(data, str(tmp_path / "small"), crop=32, max_mib=3000 / 2**20,
                             validation_fraction=0.3)
    assert 0 < len(small) < len(train) and len(os.listdir(tmp_path / "small")) == len(small)
    assert sum(os.path.getsize(p) for p in small) <= 3000


def test_a_checkpoint_trained_on_jax_loads_into_tensorflow_and_codes_the_same(tmp_path):
    parts = _parts()
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    out = tmp_path / "out"
    env = jax_environment()
    subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, DEVICE_RUN,
                    "--data", random_photos(tmp_path / "photos"), "--out", str(out),
                    "--config", str(config), "--weights", "", "--steps", "2", "--batch-size", "4",
                    "--patch-size", "32", "--epoch", "7", "--probe"],
                   env=env, check=True, timeout=900, capture_output=True)
    summary = json.loads((out / "device_run.json").read_text())
    assert summary["backend"] == "jax" and summary["steps"] == summary["optimizer_step"] == 2
    assert json.loads((out / "training_metadata.json").read_text()) == {"epoch": 7, "batch": 0}

    joined = tmp_path / "checkpoint.weights.h5"
    parts.join(out / "model.weights.h5", out / "optimizer.weights.h5", joined)
    assert_codes_as_on_tensorflow(config, joined, out / "probe.npz", optimizer_step=2)


LOOP_CHECK = """
import json, sys
import keras, numpy as np
from tfrnncomp.model.network import RNNCompressionModel
out = {}
for cell, mode in (("gru", "additive"), ("lstm", "residual_scaling")):
    model = RNNCompressionModel({"name": "t", "cell": cell, "width": 0.0625, "train_iterations": 3,
                                 "reconstruction": mode}).build_for_inference()
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 48, 64, 3)).astype("float32")
    looped = model.looped_iterations(keras.ops.convert_to_tensor(x), 3, training=False)
    model.train_loop = "scan"
    trained = keras.ops.convert_to_numpy(model(x, training=True))
    unrolled = keras.ops.convert_to_numpy(model(x))
    difference = float(np.abs(keras.ops.convert_to_numpy(looped) - unrolled).max())
    out[mode] = [difference, list(trained.shape), bool(np.isfinite(trained).all())]
from tfrnncomp.training.setup import TrainingConfig, build_model
model = build_model(model.config, TrainingConfig())
model.train_loop = "scan"
out["trained"] = [0.0, [3, 2, 48, 64, 3], model.train_on_batch(x, return_dict=True)["loss"] > 0]
print(json.dumps(out))
"""


def test_the_loop_jax_trains_through_gives_the_unrolled_iterations(tmp_path):
    """Inference through ``looped_iterations`` equals ``call``; a training step runs through it."""
    env = jax_environment()
    script = tmp_path / "loop_check.py"
    script.write_text(LOOP_CHECK)
    done = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(script)], env=env,
                          check=True, timeout=900, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for difference, shape, finite in result.values():
        assert difference < 1e-5 and shape == [3, 2, 48, 64, 3] and finite


def test_device_prep_downloads_this_environment_s_keras_for_the_device_s_python(monkeypatch):
    import keras

    prep = load_tool("training/device_prep.py")
    calls = []
    monkeypatch.setattr(prep.subprocess, "run", lambda command, check: calls.append(command))
    prep.download_wheels("wheels")
    (command,) = calls
    assert f"keras=={keras.__version__}" in command and {"namex", "optree"} <= set(command)
    assert command[command.index("--python-version") + 1] == "3.12" and "--no-deps" in command


def test_the_device_shell_wrapper_is_valid_bash():
    script = os.path.join(HERE, "..", "tools", "training", "device_run.sh")
    subprocess.run(["bash", "-n", script], check=True)
