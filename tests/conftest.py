"""Shared fixtures: a tiny untrained model (fast), the shipped model, a seeded generator
(helpers shared by the tests are in :mod:`tests.helpers`)."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.helpers import TINY_CONFIG  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model():
    from tfrnncomp.model.network import RNNCompressionModel

    return RNNCompressionModel(TINY_CONFIG).build_for_inference()


@pytest.fixture(scope="session")
def tiny_codec(tiny_model):
    from tfrnncomp.codec import Codec

    return Codec(tiny_model)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model):
    from tfrnncomp.model import zoo

    return zoo.save_model(tiny_model, str(tmp_path_factory.mktemp("tiny_model")))


@pytest.fixture(scope="session")
def shipped_codec():
    from tfrnncomp.codec import Codec

    return Codec()


@pytest.fixture()
def rng():
    return np.random.default_rng(1234)
