"""Tests of the codec's backends (TF graph, TF graph with XLA, LiteRT) and of the no-retracing guarantee.

The LiteRT backend converts the tiny model's step functions once (float32, one
padded shape) into a temporary cache directory shared by the module's tests.
"""

import sys

import numpy as np
import pytest

from tests.helpers import smooth_image
from tfrnncomp.eval import metrics
from tfrnncomp.errors import BackendError

HEIGHT, WIDTH = 40, 70  # padded to 64 x 96


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("litert_cache"))


@pytest.fixture(scope="module")
def litert_codec(tiny_model, cache_dir):
    pytest.importorskip("ai_edge_litert")
    from tfrnncomp.runtime import litert
    from tfrnncomp.codec import Codec

    codec = Codec(tiny_model, backend="litert")
    codec.functions = litert.LiteRTFunctions(codec.model, "float32", cache_dir=cache_dir)
    return codec


@pytest.fixture(scope="module")
def xla_codec(tiny_model):
    from tfrnncomp.codec import Codec

    return Codec(tiny_model, backend="tf-xla")


@pytest.fixture(scope="module")
def image():
    return smooth_image(HEIGHT, WIDTH, seed=3)


def test_an_unknown_backend_is_refused_with_a_backend_error(tiny_model):
    from tfrnncomp.codec import Codec

    with pytest.raises(BackendError, match="unknown backend 'onnx'"):
        Codec(tiny_model, backend="onnx")


def test_a_missing_ai_edge_litert_gives_a_clear_error(tiny_model, monkeypatch):
    from tfrnncomp.codec import Codec

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    with pytest.raises(BackendError, match=r"needs the ai-edge-litert package"):
        Codec(tiny_model, backend="litert-dynamic-int8")


def test_the_cli_reports_a_missing_litert_in_one_line(tmp_path, monkeypatch, capsys,
                                                       tiny_model_dir):
    from PIL import Image

    from tfrnncomp.apps.cli import main

    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    Image.fromarray(smooth_image(32, 32)).save(tmp_path / "in.png")
    code = main(["compress", str(tmp_path / "in.png"), str(tmp_path / "out.trc"),
                 "--model", tiny_model_dir, "--backend", "litert"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "ai-edge-litert" in err
    assert not (tmp_path / "out.trc").exists()


def test_litert_and_tf_backends_agree_within_tolerance(litert_codec, tiny_codec, image):
    lite = litert_codec.functions.encode(image, 4)
    graph = tiny_codec.functions.encode(image, np.int32(4))
    lite_codes, graph_codes = lite["codes"], graph["codes"].numpy()
    np.testing.assert_array_equal(lite_codes[0], graph_codes[0])
    assert np.mean(lite_codes == graph_codes) > 0.99
    # the same codes decode to the same image within one grey level
    decoded_lite = litert_codec.functions.decode(graph_codes, HEIGHT, WIDTH)
    decoded_graph = tiny_codec.functions.decode(graph_codes, np.int32(HEIGHT),
                                                np.int32(WIDTH)).numpy()
    assert np.abs(decoded_lite.astype(int) - decoded_graph.astype(int)).max() <= 1


def test_a_litert_encoded_file_decodes_with_tf_and_vice_versa(litert_codec, tiny_codec, image):
    lite_file = litert_codec.compress(image, iterations=5)
    graph_file = tiny_codec.compress(image, iterations=5)
    from_lite = tiny_codec.decompress(lite_file)
    from_graph = litert_codec.decompress(graph_file)
    assert from_lite.shape == from_graph.shape == image.shape
    # codes may differ after a flipped bit: the quality must not
    reference = metrics.psnr(image, tiny_codec.decompress(graph_file))
    assert abs(metrics.psnr(image, from_lite) - reference) < 0.5
    assert abs(metrics.psnr(image, from_graph) - reference) < 0.1
    progressive = litert_codec.decompress_progressive(lite_file)
    np.testing.assert_array_equal(progressive[2], litert_codec.decompress(lite_file, 3))


def test_converted_step_models_are_cached_on_disk_and_reused(litert_codec, tiny_model,
                                                            cache_dir, image, monkeypatch):
    from tfrnncomp.runtime import litert

    litert_codec.compress(image, iterations=1)  # converted (or already) for 64 x 96
    monkeypatch.setattr(litert, "convert_steps",
                        lambda *a: pytest.fail("converted again instead of using the cache"))
    fresh = litert.LiteRTFunctions(litert_codec.model, "float32", cache_dir=cache_dir)
    codes = fresh.encode_codes(image, 2)
    assert codes.shape == (2, 4, 6, 32)
    np.testing.assert_array_equal(codes, litert_codec.functions.encode_codes(image, 2))


@pytest.mark.parametrize("backend", ["tf", "tf-xla"])
def test_a_second_image_compiles_nothing_new(backend, tiny_codec, xla_codec):
    codec = {"tf": tiny_codec, "tf-xla": xla_codec}[backend]
    functions = codec.functions
    codec.decompress(codec.compress(smooth_image(48, 48, seed=1), iterations=2))
    counts = (functions.encode_codes.experimental_get_tracing_count(),
              functions.decode.experimental_get_tracing_count())
    for seed, (height, width) in enumerate([(48, 48), (48, 48), (80, 33)]):
        codec.decompress(codec.compress(smooth_image(height, width, seed), 3))
    assert (functions.encode_codes.experimental_get_tracing_count(),
            functions.decode.experimental_get_tracing_count()) == counts


def test_the_litert_backend_refuses_adaptive_files_instead_of_decoding_them_wrongly(
        litert_codec, tiny_codec, image):
    from tfrnncomp.errors import BackendError

    adaptive_file = tiny_codec.compress(image, adaptive=True, target_psnr=10.0)
    with pytest.raises(BackendError, match="spatially adaptive file needs backend 'tf'"):
        litert_codec.decompress(adaptive_file)
    with pytest.raises(BackendError, match="spatially adaptive coding needs backend 'tf'"):
        litert_codec.compress(image, adaptive=True, target_psnr=10.0)


def test_the_xla_backend_compiles_the_same_functions_and_agrees_with_tf(xla_codec, tiny_codec,
                                                                        image):
    assert xla_codec.functions.jit_compile and not tiny_codec.functions.jit_compile
    xla = xla_codec.functions.encode(image, np.int32(4))
    graph = tiny_codec.functions.encode(image, np.int32(4))
    xla_codes, graph_codes = xla["codes"].numpy(), graph["codes"].numpy()
    np.testing.assert_array_equal(xla_codes[0], graph_codes[0])
    assert np.mean(xla_codes == graph_codes) > 0.99
    decoded_xla = xla_codec.functions.decode(graph_codes, np.int32(HEIGHT), np.int32(WIDTH))
    decoded_graph = tiny_codec.functions.decode(graph_codes, np.int32(HEIGHT), np.int32(WIDTH))
    difference = decoded_xla.numpy().astype(int) - decoded_graph.numpy().astype(int)
    assert np.abs(difference).max() <= 1


def test_an_xla_encoded_file_decodes_with_tf_and_vice_versa(xla_codec, tiny_codec, image):
    xla_file = xla_codec.compress(image, iterations=5)
    graph_file = tiny_codec.compress(image, iterations=5)
    reference = metrics.psnr(image, tiny_codec.decompress(graph_file))
    assert abs(metrics.psnr(image, tiny_codec.decompress(xla_file)) - reference) < 0.5
    assert abs(metrics.psnr(image, xla_codec.decompress(graph_file)) - reference) < 0.1


def test_the_xla_backend_codes_spatially_adaptive_files(xla_codec, tiny_codec, image):
    adaptive_file = xla_codec.compress(image, adaptive=True, target_psnr=10.0)
    np.testing.assert_array_equal(xla_codec.decompress(adaptive_file),
                                  tiny_codec.decompress(adaptive_file))
