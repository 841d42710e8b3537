"""Helpers shared by the tests: the tiny model's config, data paths, tools as modules, images
made on the fly (noise photos, smooth, 16-bit, EXIF-oriented), and subprocesses on the other
Keras backends with the check that their checkpoints code the same under TensorFlow."""

import importlib.util
import os
import subprocess

import numpy as np
from PIL import Image
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.environ.get("TFRNNCOMP_DATA",
                             os.path.join(HERE, "..", "..", "shared", "data"))
KODAK = os.path.join(SHARED_DATA, "kodak")

TINY_CONFIG = {"name": "tiny", "cell": "gru", "width": 0.0625, "train_iterations": 2,
               "max_iterations": 16}


def load_tool(path):
    """A script of ``tools/`` (not a package) as a module; ``path`` is relative to ``tools/``,
    e.g. ``"bench/bench_speed.py"``."""
    name = os.path.basename(path).removesuffix(".py")
    spec = importlib.util.spec_from_file_location(
        f"tool_{name}", os.path.join(HERE, "..", "tools", path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: stands in for python in the tests of the shell scripts of ``tools/training``: logs each call to
#: $CALLS as "GOLDEN ARGS" (GOLDEN: the golden-file regeneration flag, 0 or 1), prints "table of
#: ARGS" and fails with status 4 on a call containing $FAIL_ON
FAKE_PYTHON = """#!/usr/bin/env bash
echo "${TFRNNCOMP_REGENERATE_GOLDEN:-0} $*" >> "$CALLS"
case "$*" in *"$FAIL_ON"*) [ -n "$FAIL_ON" ] && exit 4;; esac
echo "table of $*"
"""


def run_with_fake_python(tmp_path, script, *arguments, fail_on="", **env):
    """Run ``tools/training/SCRIPT`` with :data:`FAKE_PYTHON` as its ``$PYTHON`` (and ``env``
    added): ``(the completed process, the calls it made)``."""
    fake, calls = tmp_path / "python", tmp_path / "calls"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    calls.unlink(missing_ok=True)
    env = dict(os.environ, PYTHON=str(fake), CALLS=str(calls), FAIL_ON=fail_on, **env)
    done = subprocess.run(["bash", os.path.join(HERE, "..", "tools", "training", script),
                           *arguments], env=env, capture_output=True, text=True, timeout=60)
    return done, calls.read_text().splitlines() if calls.exists() else []


#: ``python -c WITHOUT_TENSORFLOW SCRIPT ARGS...`` runs SCRIPT with TensorFlow unimportable, as on
#: the accelerator machine
WITHOUT_TENSORFLOW = ("import runpy, sys; sys.modules['tensorflow'] = None; "
                      "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")


def _backend_environment(backend, why_missing, **extra):
    """The environment of a subprocess that runs Keras on ``backend`` (this repository first on
    its path); skips the test when the backend's package is not importable."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(why_missing)
    return dict(os.environ, KERAS_BACKEND=backend, **extra,
                PYTHONPATH=os.pathsep.join([os.path.join(HERE, ".."),
                                            os.environ.get("PYTHONPATH", "")]))


def jax_environment():
    """The environment of a subprocess that runs Keras on JAX's CPU; skips the test without jax."""
    return _backend_environment(
        "jax", "jax is not installed (pip install -e .[test] installs jax==0.4.30)",
        JAX_PLATFORMS="cpu")


def torch_environment():
    """The environment of a subprocess that runs Keras on PyTorch (its CPU here); skips the test
    without torch."""
    return _backend_environment(
        "torch", "torch is not installed (the test extra leaves it out; pip install torch "
        "into this environment to run this test)", CUDA_VISIBLE_DEVICES="")


def random_photos(root, n=6, size=(40, 56), seed=0):
    """A folder of ``n`` noise PNGs of ``size`` (height, width); returns its path."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, tuple(size) + (3,), dtype=np.uint8)).save(
            os.path.join(root, f"p{i}.png"))
    return str(root)


def assert_codes_as_on_tensorflow(config_path, checkpoint, probe_path, optimizer_step):
    """The checkpoint, written on another backend, loads into the TensorFlow model at
    ``optimizer_step`` and codes ``tools/training/device_run.py``'s probe image to the codes and
    reconstructions saved in ``probe_path`` by that backend."""
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.setup import TrainingConfig, build_model

    model = build_model(load_config(str(config_path)), TrainingConfig())
    model.load_weights(str(checkpoint))
    assert int(model.optimizer.iterations.numpy()) == optimizer_step
    on_tf, elsewhere = load_tool("training/device_run.py").probe(model), np.load(probe_path)
    np.testing.assert_array_equal(on_tf["codes"], elsewhere["codes"])
    np.testing.assert_allclose(on_tf["reconstructions"], elsewhere["reconstructions"], atol=1e-5)


def kodak_or_skip():
    if not os.path.isdir(KODAK):
        pytest.skip(f"Kodak images not found at {KODAK} (set TFRNNCOMP_DATA)")
    return KODAK


def smooth_image(height, width, seed=0):
    """A smooth colour image with some texture (compresses like a photo, not like noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [np.sin(x / (7 + 3 * c)) * np.cos(y / (5 + 2 * c)) for c in range(3)]
    image = 127.5 + 90 * np.stack(channels, -1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def png16(array):
    """The bytes of a 16-bit PNG (greyscale ``HxW`` or RGB ``HxWx3`` uint16), written by hand:
    Pillow writes no 16-bit RGB PNG."""
    import struct
    import zlib

    height, width = array.shape[:2]
    rows = np.asarray(array, ">u2").reshape(height, -1)
    raw = b"".join(b"\0" + row.tobytes() for row in rows)

    def chunk(kind, data):
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 16, 2 if array.ndim == 3 else 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def wide_image(height, width, seed=0, grey=False):
    """``(uint16 image, uint8 image of its high bytes)``: :func:`smooth_image` times 256 plus
    random low bytes."""
    high = smooth_image(height, width, seed)[..., 0] if grey else smooth_image(height, width, seed)
    low = np.random.default_rng(seed).integers(0, 256, high.shape)
    return (high.astype(np.uint16) * 256 + low).astype(np.uint16), high


def save_oriented(path, array, orientation):
    """Save ``array`` as a PNG whose EXIF orientation tag is ``orientation``."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(array).save(path, format="PNG", exif=exif)
    return str(path)


def adaptive_file(codec, codes, height, width, entropy, block, the_map):
    """The bytes of a spatially adaptive file of ``codes`` with iteration map ``the_map`` of
    blocks of ``block x block`` code positions, written from the codec's public parts."""
    from tfrnncomp.format import container as bitstream

    header = codec.header_for(height, width, 3, len(codes), entropy,
                              iteration_map=(block, the_map))
    return bitstream.write(header, codec.encode_chunks(codes, entropy, header))


def tiny_training_checkpoint(root):
    """The backup checkpoint of a tiny GRU run trained for 2 steps under ``root`` (a
    ``pathlib.Path``; Adam moments not zero); the run is ``root/run``, its photos ``root/data``."""
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.setup import TrainingConfig
    from tfrnncomp.training.train import train

    training = TrainingConfig(data=random_photos(root / "data"), patch_size=32, batch_size=2,
                              steps_per_epoch=2, epochs=1, validation_images=0,
                              validation_steps=0, seed=1)
    train(load_config(TINY_CONFIG), training, str(root / "run"), verbose=0)
    return root / "run" / "backup" / "latest.weights.h5"


def loaded_checkpoint(config, checkpoint):
    """The compiled model of ``config`` with the training checkpoint ``checkpoint`` loaded."""
    from tfrnncomp.training.setup import TrainingConfig, build_model

    model = build_model(config, TrainingConfig())
    model.load_weights(str(checkpoint))
    return model


def save(path, array, mode=None):
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    image.save(path)
    return path


def snapshot(path):
    """Bytes and modification time of a file, to check it was not touched."""
    return open(path, "rb").read(), os.stat(path).st_mtime_ns


def tree(root):
    """Every file under ``root``, relative, sorted (hidden temporary files included)."""
    found = []
    for directory, _, files in os.walk(root):
        found += [os.path.relpath(os.path.join(directory, f), root) for f in files]
    return sorted(found)


def assert_one_error_line(code, err):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("tfrnncomp: error:")


def chunk_starts(data):
    """``(starts, end)``: the offset of every chunk of a ``.trc`` file, read from their length
    fields, and the end of the last one."""
    import struct

    from tfrnncomp.format import container

    header, pos = container.decode_header(data)
    starts = []
    for _ in range(header.iterations):
        starts.append(pos)
        pos += 8 + struct.unpack_from(">I", data, pos)[0]
    return starts, pos
