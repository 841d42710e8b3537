"""Training with tf.distribute: ``tfrnncomp train --strategy {default,mirrored,multi_worker}``.

Each run is a subprocess (logical CPU devices and a multi-worker cluster must be set up before
TensorFlow starts) of ``tfrnncomp train`` through a small driver that seeds Keras first.  The
runs share a tiny fixed data set, the TINY_CONFIG model, 32x32 patches, global batch 8, 3 Adam
steps (learning rate 1e-2), ``--seed 1``; a default-strategy run of the same command is the
reference.

Tolerance: every array of ``latest.weights.h5`` (weights, and Adam's moments, which unlike
Adam's steps scale with the gradient, so a wrong loss or gradient scaling shows) must agree
with the reference within 1e-4 of the array's largest magnitude.  Measured: <= 2e-6, from the
order of the floating-point sums (two half-batch gradients summed vs one full batch).  A
replica seeing other samples, or a loss summed instead of averaged over replicas, is off by
O(1).

The binarizer: in training it is stochastic, and under tf.distribute every replica draws
the SAME noise (its seed state is mirrored), so replica 1 does not get the noise a single
device draws for the second half of the batch and no seed makes the runs agree.  The driver
therefore replaces ``SignBinarizer.call`` by its deterministic path (sign, straight-through
gradient) in these tests only.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TINY_CONFIG, smooth_image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT = 600  # generous: a loaded 2-core machine runs these steps 10x slower
RTOL = 1e-4  # of each array's largest magnitude

DRIVER = '''
import os, sys
import keras

keras.utils.set_random_seed(7)  # the same initial weights in every run (and on the chief)
if os.environ.get("DRIVER_DETERMINISTIC_BINARIZER") == "1":
    from keras import ops
    from tfrnncomp.model.layers import binarizer

    def call(self, inputs, training=False):
        x = ops.tanh(self.projection(inputs))
        bits = ops.cast(ops.where(x >= 0.0, 1.0, -1.0), x.dtype)
        return bits + (x - ops.stop_gradient(x)) if training else bits

    binarizer.SignBinarizer.call = call
from tfrnncomp.apps.cli import main

sys.exit(main(sys.argv[1:]))
'''

TRAIN = ["train", "--batch-size", "8", "--patch-size", "32", "--steps-per-epoch", "3",
         "--validation-steps", "0", "--validation-images", "0",
         "--seed", "1", "--learning-rate", "1e-2"]


class Workspace:
    def __init__(self, root):
        self.root = str(root)
        os.makedirs(os.path.join(self.root, "images"))
        for i in range(2):
            Image.fromarray(smooth_image(64, 64, seed=i)).save(
                os.path.join(self.root, "images", f"{i}.png"))
        with open(os.path.join(self.root, "config.json"), "w", encoding="utf-8") as handle:
            json.dump(TINY_CONFIG, handle)
        self.driver = os.path.join(self.root, "driver.py")
        with open(self.driver, "w", encoding="utf-8") as handle:
            handle.write(DRIVER)
        self._reference = None

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def start(self, out, *args, epochs=1, env=None, log=None):
        """Start ``tfrnncomp train ... --out ROOT/out``; output goes to ROOT/(log or out).log."""
        environ = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3",
                       DRIVER_DETERMINISTIC_BINARIZER="1")
        environ.pop("TF_CONFIG", None)
        environ.update(env or {})
        command = [sys.executable, self.driver, *TRAIN, "--data", self.path("images"),
                   "--config", self.path("config.json"), "--epochs", str(epochs),
                   "--out", self.path(out), *args]
        log = open(self.path(f"{log or out}.log"), "w", encoding="utf-8")
        process = subprocess.Popen(command, cwd=self.root, env=environ, stdout=log,
                                   stderr=subprocess.STDOUT)
        process.log_path = log.name
        log.close()
        return process

    def reference(self):
        """The default-strategy run (started once, shared by the tests)."""
        if self._reference is None:
            self._reference = self.start("reference")
        return self._reference


def finish(*processes):
    """Wait for the processes; kill those still running TIMEOUT s from now; check exit codes."""
    failures = []
    deadline = time.monotonic() + TIMEOUT
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()  # only processes this test started, by their Popen handle
            process.wait()
        if process.returncode != 0:
            with open(process.log_path, encoding="utf-8") as handle:
                failures.append(f"{process.log_path} exited {process.returncode}:\n"
                                + "".join(handle.readlines()[-15:]))
    assert not failures, "\n".join(failures)


def load_arrays(path):
    import h5py

    arrays = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: arrays.__setitem__(name, item[()])
                          if isinstance(item, h5py.Dataset) else None)
    return arrays


def assert_same_weights(reference, other, steps=3):
    a, b = load_arrays(reference), load_arrays(other)
    assert sorted(a) == sorted(b)
    assert a["optimizer/vars/0"] == b["optimizer/vars/0"] == steps  # Adam's step counter
    worst = 0.0
    for name in a:
        x, y = a[name].astype(np.float64), b[name].astype(np.float64)
        scale = float(np.abs(x).max()) if x.size else 0.0
        error = float(np.abs(x - y).max()) if x.size else 0.0
        assert error <= RTOL * scale, f"{name}: off by {error:.3g} (scale {scale:.3g})"
        worst = max(worst, error / scale if scale else 0.0)
    return worst


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("distribute"))
    yield ws
    if ws._reference is not None and ws._reference.poll() is None:
        ws._reference.kill()
        ws._reference.wait()


def test_mirrored_over_two_logical_cpus_trains_like_one_device_on_the_same_global_batch(
        workspace):
    mirrored = workspace.start("mirrored", "--strategy", "mirrored", "--cpu-devices", "2")
    finish(workspace.reference(), mirrored)
    worst = assert_same_weights(workspace.path("reference", "latest.weights.h5"),
                                workspace.path("mirrored", "latest.weights.h5"))
    print(f"mirrored vs default: worst relative difference {worst:.2g}")
    with open(workspace.path("mirrored", "training.json"), encoding="utf-8") as handle:
        assert json.load(handle)["strategy"] == "mirrored"


@pytest.fixture(scope="module")
def multi_worker(workspace):
    """Two workers on 127.0.0.1 with the same --out; returns a function running an epoch count."""
    ports = free_ports(2)

    def run(epochs):
        workers = []
        for index in range(2):
            tf_config = {"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                         "task": {"type": "worker", "index": index}}
            workers.append(workspace.start(
                "multi_worker", "--strategy", "multi_worker", epochs=epochs,
                env={"TF_CONFIG": json.dumps(tf_config)}, log=f"worker{index}-{epochs}"))
        return workers

    return run


def _scratch_dirs():
    return [name for name in os.listdir(tempfile.gettempdir())
            if name.startswith("tfrnncomp-") and name.endswith("-worker1")]


@pytest.mark.slow
def test_two_local_workers_train_like_one_worker_on_the_same_global_batch(workspace,
                                                                          multi_worker):
    before = set(_scratch_dirs())
    finish(workspace.reference(), *multi_worker(epochs=1))
    worst = assert_same_weights(workspace.path("reference", "latest.weights.h5"),
                                workspace.path("multi_worker", "latest.weights.h5"))
    print(f"2 workers vs 1: worst relative difference {worst:.2g}")
    # only the chief wrote into the run directory: one header and one row, not two
    with open(workspace.path("multi_worker", "log.csv"), encoding="utf-8") as handle:
        assert len(handle.read().splitlines()) == 2
    with open(workspace.path("multi_worker", "backup", "training_metadata.json")) as handle:
        assert json.load(handle)["epoch"] == 1
    assert set(_scratch_dirs()) == before  # worker 1's scratch directory is gone


@pytest.mark.slow
def test_a_restarted_multi_worker_run_resumes_from_the_chiefs_backup_like_one_worker(
        workspace, multi_worker):
    """Worker 1's scratch directory (and so its own backup) is gone: it must take the chief's."""
    if not os.path.exists(workspace.path("multi_worker", "backup", "training_metadata.json")):
        finish(workspace.reference(), *multi_worker(epochs=1))  # when run on its own
    finish(workspace.reference())
    reference = workspace.start("reference", epochs=2, log="reference-2")
    finish(reference, *multi_worker(epochs=2))
    assert_same_weights(workspace.path("reference", "latest.weights.h5"),
                        workspace.path("multi_worker", "latest.weights.h5"), steps=6)
    with open(workspace.path("multi_worker", "log.csv"), encoding="utf-8") as handle:
        assert [row.split(",")[0] for row in handle.read().splitlines()[1:]] == ["0", "1"]


CLIP_SCRIPT = """
import json
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tfrnncomp.training.fit_hooks import Adam

def step(optimizer_class, strategy, gradient):
    with strategy.scope():
        variable = keras.Variable([0.0, 0.0])
        # a huge epsilon makes Adam's first step proportional to the (clipped) gradient
        optimizer = optimizer_class(learning_rate=1.0, epsilon=1e3, global_clipnorm=1.0)
        optimizer.build([variable])
    tf.function(lambda: strategy.run(lambda: optimizer.apply([gradient()], [variable])))()
    return variable.numpy().tolist()

def share():  # replica 0 holds (3, 0), replica 1 (0, 4): the sum (3, 4) has norm 5
    replica = tf.distribute.get_replica_context().replica_id_in_sync_group
    return tf.where(tf.equal(replica, 0), tf.constant([3.0, 0.0]), tf.constant([0.0, 4.0]))

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
print(json.dumps({
    "one_device": step(Adam, tf.distribute.get_strategy(), lambda: tf.constant([3.0, 4.0])),
    "tfrnncomp": step(Adam, mirrored, share),
    "keras": step(keras.optimizers.Adam, mirrored, share)}))
"""


def test_two_replicas_clip_the_sum_of_their_gradients_like_one_device(tmp_path):
    script = tmp_path / "clip.py"
    script.write_text(CLIP_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=TIMEOUT,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-3000:]
    steps = json.loads(result.stdout.strip().splitlines()[-1])
    print(steps)
    np.testing.assert_allclose(steps["tfrnncomp"], steps["one_device"], rtol=1e-5)
    ratio = steps["one_device"][1] / steps["one_device"][0]
    assert ratio == pytest.approx(4 / 3, rel=1e-4)  # the clipped sum keeps its direction
    # stock Keras clips each replica's share on its own: (1, 0) + (0, 1), another direction
    assert steps["keras"][1] / steps["keras"][0] == pytest.approx(1.0, rel=1e-4)


def _train_args(tmp_path, *extra):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    return ["train", "--data", str(tmp_path), "--config", str(config),
            "--out", str(tmp_path / "run"), *extra]


def test_the_train_command_accepts_a_strategy_and_a_number_of_cpu_devices(tmp_path):
    from tfrnncomp.apps.parser import build_parser

    args = build_parser().parse_args(_train_args(tmp_path, "--strategy", "mirrored",
                                            "--cpu-devices", "2"))
    assert (args.strategy, args.cpu_devices) == ("mirrored", 2)
    args = build_parser().parse_args(_train_args(tmp_path))
    assert (args.strategy, args.cpu_devices) == ("default", None)


def test_the_train_command_rejects_an_unknown_strategy_with_a_one_line_error(tmp_path, capsys):
    from tfrnncomp.apps.cli import main

    assert main(_train_args(tmp_path, "--strategy", "horovod")) == 2
    assert capsys.readouterr().err.splitlines() == [
        "tfrnncomp: error: unknown strategy 'horovod'; use one of default, mirrored, multi_worker"]
    assert not (tmp_path / "run").exists()


def test_multi_worker_without_tf_config_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    from tfrnncomp.apps.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert main(_train_args(tmp_path, "--strategy", "multi_worker")) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "tfrnncomp: error: --strategy multi_worker needs TF_CONFIG"), err
    assert not (tmp_path / "run").exists()
