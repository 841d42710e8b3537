"""Shared fixtures: a tiny untrained model (fast), the shipped model, data paths."""

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_DATA = os.environ.get("TFRNNCOMP_DATA",
                             os.path.join(HERE, "..", "..", "shared", "data"))
KODAK = os.path.join(SHARED_DATA, "kodak")

TINY_CONFIG = {"name": "tiny", "cell": "gru", "width": 0.0625, "train_iterations": 2,
               "max_iterations": 16}


def load_tool(name):
    """A script of ``tools/`` (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(
        f"tool_{name.removesuffix('.py')}", os.path.join(HERE, "..", "tools", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kodak_or_skip():
    if not os.path.isdir(KODAK):
        pytest.skip(f"Kodak images not found at {KODAK} (set TFRNNCOMP_DATA)")
    return KODAK


@pytest.fixture(scope="session")
def tiny_model():
    from tfrnncomp.model import RNNCompressionModel

    return RNNCompressionModel(TINY_CONFIG).build_for_inference()


@pytest.fixture(scope="session")
def tiny_codec(tiny_model):
    from tfrnncomp.codec import Codec

    return Codec(tiny_model)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model):
    from tfrnncomp import zoo

    return zoo.save_model(tiny_model, str(tmp_path_factory.mktemp("tiny_model")))


@pytest.fixture(scope="session")
def shipped_codec():
    from tfrnncomp.codec import Codec

    return Codec()


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)


def smooth_image(height, width, seed=0):
    """A smooth colour image with some texture (compresses like a photo, not like noise)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = [np.sin(x / (7 + 3 * c)) * np.cos(y / (5 + 2 * c)) for c in range(3)]
    image = 127.5 + 90 * np.stack(channels, -1) + rng.normal(0, 6, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)
