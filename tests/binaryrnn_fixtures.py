"""The tiny BinaryRNN the BinaryRNN tests share: its config, codes with learnable structure, the
float model, its integer net and the range coder's table (fixtures: import them by name), code
files to train on, and the integer net quantized back from its dequantized float model."""

import numpy as np
import pytest

from tfrnncomp.entropy.coding import rangecoder
from tfrnncomp.entropy.training import binaryrnn
from tfrnncomp.entropy.training.quantize import quantize

TINY = binaryrnn.BinaryRNNConfig(channels=16)


def structured_codes(t, h, w, depth=32, seed=0):
    """Codes with structure a model can learn: runs along rows and across iterations."""
    rng = np.random.default_rng(seed)
    base = rng.random((1, 1, w, depth)) < 0.3
    flips = rng.random((t, h, w, depth)) < 0.1
    return np.where(base ^ flips, 1, -1).astype(np.int8)


@pytest.fixture(scope="module")
def float_model():
    import tensorflow as tf

    tf.random.set_seed(3)
    model = binaryrnn.build_model(TINY)
    # non-zero embedding and biases, so every path is exercised
    model.embedding.embeddings.assign(np.random.default_rng(1).normal(0, 0.3, (16, 16)))
    return model


@pytest.fixture(scope="module")
def net(float_model):
    return quantize(float_model, [structured_codes(6, 6, 7, seed=9)], "tiny@00000000")


@pytest.fixture(scope="module")
def table():
    return rangecoder.BinaryTable()


def code_file(folder, codec, iterations):
    """A code TFRecord of two small smooth images coded by ``codec`` (training data)."""
    from PIL import Image

    from tests.helpers import smooth_image
    from tfrnncomp.entropy.training.codes_data import dump_codes

    paths = []
    for i in range(2):
        paths.append(str(folder / f"{i}.png"))
        Image.fromarray(smooth_image(48, 64, seed=i)).save(paths[-1])
    codes = str(folder / "codes.tfrecord")
    dump_codes(codec, paths, codes, iterations=iterations)
    return codes


def requantized(net):
    """``quantize(dequantize(net))`` with ``net``'s own calibration scales."""
    from unittest import mock

    from tfrnncomp.entropy.training import quantize as module

    scales = {"features": net.meta["calibration"]["features_scale"],
              "hidden": net.meta["calibration"]["hidden_scale"]}
    with mock.patch.object(module, "calibrate", lambda *args, **kwargs: scales):
        return quantize(module.dequantize(net), [], net.codec_model_id)
