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


@pytest.fixture(scope="session")
def codec_cache():
    """One ``Codec`` per (model, options) for the whole session (see ``shared_codecs``)."""
    return {}


@pytest.fixture()
def shared_codecs(monkeypatch, codec_cache, tiny_codec, tiny_model_dir):
    """Make ``Codec(model)`` return one shared instance per model argument, so that each
    command-line call does not rebuild and retrace the model."""
    from tfrnncomp import codec as codec_module

    real = codec_module.Codec
    codec_cache.setdefault((tiny_model_dir, ()), tiny_codec)

    def shared(model=None, **kwargs):
        key = (model, tuple(sorted(kwargs.items())))
        if key not in codec_cache:
            codec_cache[key] = real(model, **kwargs)
        return codec_cache[key]

    monkeypatch.setattr(codec_module, "Codec", shared)


@pytest.fixture()
def run(capsys, tiny_model_dir):
    """``run("compress", a, b, ...)`` -> (exit code, stdout, stderr) of the command line run
    in-process; adds ``--model`` (tiny) to the commands that take it unless ``model=False``."""
    from tfrnncomp.apps.cli import main

    def run(*args, model=True):
        argv = [str(a) for a in args]
        if model and argv[0] in ("compress", "decompress", "info"):
            argv += ["--model", tiny_model_dir]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture()
def coded(run, shared_codecs, tmp_path):
    """A 170x165 image (big enough for MS-SSIM) coded at 3 iterations."""
    from tests.helpers import save, smooth_image

    original = smooth_image(170, 165, seed=7)
    source = save(tmp_path / "orig.png", original)
    assert run("compress", source, tmp_path / "orig.trc", "--iterations", "3",
               "--entropy", "raw")[0] == 0
    return original, source, str(tmp_path / "orig.trc")
