"""The post-filter: a layer outside the iteration loop that changes decoded pixels, never files."""

import json
import os

import keras
import numpy as np
import pytest

from tfrnncomp.errors import ConfigError, TfrnncompError
from tfrnncomp.model import postfilter


def _filter(seed=0, iterations=16):
    """A small filter with a context branch, every kernel drawn from ``seed`` (Keras' own
    initializers depend on what ran before), the last ones not zero (an untrained filter is the
    identity)."""
    layer = postfilter.build({"channels": 4, "depth": 3, "iterations": iterations,
                              "context_channels": 4, "context_depth": 1, "context_factor": 4})
    rng = np.random.default_rng(seed)
    last = (layer.convs[-1].kernel, layer.context[-2].kernel)
    for kernel in (w for w in layer.weights if w.path.endswith("kernel")):
        scale = 0.05 if any(kernel is k for k in last) else 0.2
        kernel.assign(rng.normal(0, scale, kernel.shape).astype("float32"))
    return layer


@pytest.fixture(scope="module")
def layer():
    return _filter()


@pytest.fixture(scope="module")
def codecs(tiny_model, layer):
    from tfrnncomp.codec import Codec

    return Codec(tiny_model, post_filter=layer), Codec(tiny_model, post_filter=None)


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(5).integers(0, 256, (40, 70, 3), dtype=np.uint8)


def test_the_post_filter_round_trips_through_its_config_and_keras_serialization(layer):
    config = layer.get_config()
    assert config == {"name": "post_filter", "channels": 4, "depth": 3, "iterations": 16,
                      "context_channels": 4, "context_depth": 1, "context_factor": 4}
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(again, postfilter.PostFilter) and again.get_config() == config


def test_an_untrained_post_filter_is_the_identity_and_a_bad_config_is_refused():
    fresh = postfilter.build({"channels": 4, "depth": 2})
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (1, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(fresh(x, iteration=3.0)), x)
    with pytest.raises(ValueError):
        postfilter.build({"channels": 4, "depth": 1})


def test_a_context_branch_starts_as_the_filter_it_extends_and_takes_any_image_size():
    plain = postfilter.build({"channels": 4, "depth": 3})
    kernel = plain.convs[-1].kernel
    kernel.assign(np.random.default_rng(1).normal(0, 0.05, kernel.shape).astype("float32"))
    extended = postfilter.with_context(plain, 8, context_depth=2, context_factor=8)
    assert extended.get_config()["context_factor"] == 8 and len(extended.context) == 5
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 21, 35, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(extended(x, iteration=2.0)),
                                  np.asarray(plain(x, iteration=2.0)))
    out = extended.context[-2].kernel
    out.assign(np.random.default_rng(2).normal(0, 0.05, out.shape).astype("float32"))
    changed = np.asarray(extended(x, iteration=2.0))
    assert changed.shape == x.shape and not np.allclose(changed, np.asarray(plain(x, iteration=2.0)))
    with pytest.raises(ValueError, match="already"):
        postfilter.with_context(extended, 8)


def test_the_iteration_plane_is_clipped_to_the_trained_range(layer):
    x = np.zeros((1, 2, 2, 3), np.float32)
    planes = [float(np.asarray(layer.iteration_plane(x, k))[0, 0, 0, 0]) for k in (0, 1, 16, 40)]
    assert planes == [0.0, 0.0, 1.0, 1.0]


def test_files_are_the_same_with_and_without_the_filter_and_only_pixels_differ(codecs, image):
    filtered, plain = codecs
    image = np.ascontiguousarray(np.tile(image, (2, 2, 1))[:64, :96])  # unpadded: the filter
    # sees exactly the decoded image (else also the decoder's pixels of the padding)
    data = filtered.compress(image, iterations=3, entropy="raw")
    assert data == plain.compress(image, iterations=3, entropy="raw")
    with_filter, without = filtered.decompress(data), plain.decompress(data)
    assert with_filter.shape == without.shape == image.shape
    assert not np.array_equal(with_filter, without)
    expected = np.asarray(postfilter.apply_uint8(filtered.post_filter, without[None], 3.0))[0]
    # the same filter on the same pixels; the two graphs may round a value on the .5 edge apart
    difference = np.abs(with_filter.astype(int) - expected)
    assert difference.max() <= 1 and np.count_nonzero(difference) <= difference.size // 1000


def test_every_prefix_is_filtered_for_its_own_iteration_count(codecs, image):
    filtered, _ = codecs
    data = filtered.compress(image, iterations=3, entropy="raw")
    progressive = filtered.decompress_progressive(data)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(progressive[k - 1], filtered.decompress(data, k))
    codes, reconstruction = filtered.encode_codes(image, 3)
    np.testing.assert_array_equal(reconstruction, progressive[-1])


def test_the_host_loop_filters_exactly_as_the_graph_does(codecs, image):
    from tfrnncomp.runtime import steps

    filtered, _ = codecs
    codes, _ = filtered.encode_codes(image, 2)
    host = steps.TFSteps(filtered.model, post_filter=filtered.post_filter)
    decoded = steps.run_decoder_steps(host.decoder, codes, 40, 70, 16, every_iteration=True,
                                      present=host.present)
    graph = filtered.functions.decode_all(codes, np.int32(40), np.int32(70))
    np.testing.assert_array_equal(decoded, np.asarray(graph))


def test_stopped_blocks_of_an_adaptive_file_are_filtered_for_their_own_count(codecs, image):
    from tfrnncomp.codec import adaptive

    filtered, plain = codecs
    image = np.ascontiguousarray(np.tile(image, (2, 2, 1))[:64, :96])
    block_mse = np.zeros((3, 2, 3), np.float32)  # blocks of 2x2 code positions (32x32 pixels)
    block_mse[:, 0, 2] = [100.0, 50.0, 0.0]  # only this block runs all three iterations
    plan = adaptive.Allocation(rule="lagrangian", threshold=1.0, block=2, iterations=3)
    encoded = filtered.compress_adaptive(image, plan, entropy="raw", block_mse=block_mse)
    counts = np.kron(encoded.iteration_map, np.ones((32, 32)))[:64, :96, None].astype("float32")
    assert sorted(np.unique(counts)) == [1.0, 3.0]
    raw = plain.decompress(encoded.data)
    expected = np.asarray(postfilter.apply_uint8(filtered.post_filter, raw[None],
                                                 counts[None]))[0]
    np.testing.assert_array_equal(filtered.decompress(encoded.data), expected)
    np.testing.assert_array_equal(encoded.reconstruction, expected)


def test_a_model_directory_ships_its_filter_and_the_codec_loads_it(tiny_model_dir, tiny_model,
                                                                   layer, tmp_path, image):
    import shutil

    from tfrnncomp.codec import Codec

    directory = str(tmp_path / "with_filter")
    shutil.copytree(tiny_model_dir, directory)
    from tfrnncomp.model import zoo

    save = _train_tool().save
    record = {"config": layer.get_config(), "postfilter_id": postfilter.weights_id(layer),
              "codec_model_id": "tiny@00000000"}
    save(layer, record, directory)
    with pytest.raises(TfrnncompError, match="trained for model 'tiny@00000000'"):
        Codec(directory)  # a filter of other weights' images is not picked up silently
    save(layer, dict(record, codec_model_id=zoo.model_id(tiny_model)), directory)
    codec = Codec(directory, entropy_model=None)
    assert postfilter.weights_id(codec.post_filter) == postfilter.weights_id(layer)
    plain = Codec(directory, entropy_model=None, post_filter=None)
    data = plain.compress(image, iterations=2, entropy="raw")
    assert not np.array_equal(codec.decompress(data), plain.decompress(data))
    assert Codec(tiny_model_dir).post_filter is None

    from PIL import Image

    from tfrnncomp.apps.cli import main

    trc = tmp_path / "x.trc"
    trc.write_bytes(data)
    assert main(["decompress", str(trc), str(tmp_path / "filtered.png"), "--model", directory]) == 0
    assert main(["decompress", str(trc), str(tmp_path / "plain.png"), "--model", directory,
                 "--no-post-filter"]) == 0
    for name, expected in (("filtered", codec.decompress(data)), ("plain", plain.decompress(data))):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / f"{name}.png")), expected)


def test_a_broken_filter_file_or_a_wrong_argument_gives_a_clear_error(tiny_model_dir, tmp_path,
                                                                     tiny_model):
    import shutil

    from tfrnncomp.codec import Codec

    directory = str(tmp_path / "broken")
    shutil.copytree(tiny_model_dir, directory)
    with open(os.path.join(directory, postfilter.CONFIG_FILE), "w") as handle:
        json.dump({"config": {"channels": 4, "depth": 3}}, handle)  # weights file missing
    with pytest.raises(TfrnncompError, match="post-filter"):
        Codec(directory)
    with pytest.raises(ConfigError, match="post_filter"):
        Codec(tiny_model, post_filter="yes")


def test_the_litert_backend_runs_the_filter_as_a_third_step_model(tiny_model, layer, codecs,
                                                                  image, tmp_path):
    pytest.importorskip("ai_edge_litert")
    from tfrnncomp.codec import Codec
    from tfrnncomp.runtime import litert

    codec = Codec(tiny_model, post_filter=layer, backend="litert")
    codec.functions.cache_dir = str(tmp_path)
    data = codecs[0].compress(image, iterations=2, entropy="raw")
    difference = codec.decompress(data).astype(int) - codecs[0].decompress(data)
    assert np.abs(difference).max() <= 1 and np.mean(difference != 0) < 0.01
    cached = [name for _, _, names in os.walk(tmp_path) for name in names]
    assert f"{litert.POST_FILTER_STEP}.tflite" in cached


def test_the_savedmodel_decompress_signature_filters_as_the_codec_does(tiny_model, codecs,
                                                                       image, tmp_path):
    import tensorflow as tf

    from tfrnncomp.export import savedmodel

    path = savedmodel.export(tiny_model, str(tmp_path / "served"), post_filter=codecs[0].post_filter)
    served = tf.saved_model.load(path).signatures["decompress"]
    codes, _ = codecs[0].encode_codes(image, 2)
    out = served(codes=tf.constant(codes), height=tf.constant(40), width=tf.constant(70))
    np.testing.assert_array_equal(out["image"].numpy(),
                                  codecs[0].decode_codes(codes, 40, 70))
    with open(os.path.join(path, "assets.extra", "tfrnncomp.json")) as handle:
        assert json.load(handle)["post_filter_id"] == postfilter.weights_id(codecs[0].post_filter)


def _train_tool():
    from tests.helpers import load_tool

    return load_tool("training/train_postfilter.py")


def test_the_training_tool_writes_a_filter_the_codec_loads(tiny_model_dir, tmp_path):
    from PIL import Image

    from tfrnncomp.codec import Codec

    data = tmp_path / "photos"
    data.mkdir()
    rng = np.random.default_rng(3)
    for i in range(30):  # enough for a validation split (5 % of the files, by name hash)
        pixels = rng.integers(0, 256, (170, 180, 3), dtype=np.uint8)  # MS-SSIM needs 161
        Image.fromarray(pixels).save(data / f"photo{i}.png")
    out = tmp_path / "filter"
    status = _train_tool().main(["--out", str(out), "--model", tiny_model_dir, "--data", str(data),
                                 "--crop", "96", "--validation-count", "1", "--channels", "4",
                                 "--depth", "2", "--minutes", "0.02",
                                 "--results", str(tmp_path / "results")])
    assert status == 0
    with open(out / postfilter.CONFIG_FILE) as handle:
        record = json.load(handle)
    assert record["training"]["steps"] >= 1 and len(record["validation"]["psnr"]) == 16
    layer, _ = postfilter.load(str(out))
    assert postfilter.weights_id(layer) == record["postfilter_id"]
    assert os.listdir(tmp_path / "results")


def test_the_tflite_export_carries_the_filter_step_and_its_host_loop_runs_it(tiny_model, codecs,
                                                                            image, tmp_path):
    pytest.importorskip("ai_edge_litert")
    from tfrnncomp.export import tflite
    from tfrnncomp.export.litert_backend import LiteRTSteps
    from tfrnncomp.runtime import litert

    layer = codecs[0].post_filter
    manifest = tflite.export(tiny_model, str(tmp_path), height=64, width=96,
                             variants=["float32"], post_filter=layer, log=lambda _: None)
    assert manifest["steps"][-1] == litert.POST_FILTER_STEP
    assert manifest["post_filter_id"] == postfilter.weights_id(layer)
    codes, _ = codecs[0].encode_codes(image, 2)
    decoded = LiteRTSteps(str(tmp_path)).decode(codes, 40, 70)
    difference = decoded.astype(int) - codecs[0].decode_codes(codes, 40, 70)
    assert np.abs(difference).max() <= 1 and np.mean(difference != 0) < 0.01
    with pytest.raises(Exception, match="another model"):
        tflite.export(tiny_model, str(tmp_path), height=64, width=96, variants=["float16"],
                      post_filter=None, log=lambda _: None)


def test_the_int8_export_keeps_the_filtered_image_within_a_few_levels(tiny_model, codecs, image,
                                                                     tmp_path):
    pytest.importorskip("ai_edge_litert")
    from tfrnncomp.export import tflite
    from tfrnncomp.export.litert_backend import LiteRTSteps

    # full-integer activations once zeroed the filter's rounded input (every pixel off by
    # ~100 levels); the filter step keeps float activations in the int8 variant
    tflite.export(tiny_model, str(tmp_path), height=64, width=96, variants=["int8"],
                  post_filter=codecs[0].post_filter, calibration_images_count=1,
                  log=lambda _: None)
    codes, _ = codecs[0].encode_codes(image, 2)
    decoded = LiteRTSteps(str(tmp_path), variant="int8").decode(codes, 40, 70)
    difference = np.abs(decoded.astype(int) - codecs[0].decode_codes(codes, 40, 70))
    assert difference.max() <= 8 and difference.mean() < 2.0


def test_late_sampling_draws_that_share_of_patches_from_the_late_iterations():
    tool = _train_tool()
    rng = np.random.default_rng(0)
    originals = [np.zeros((64, 64, 3), np.uint8)]
    decodes = [np.zeros((16, 64, 64, 3), np.uint8)]
    x, k, y = tool.patches(originals, decodes, rng, 16, late=(13, 1.0), size=(32, 64))
    assert x.shape == y.shape == (64, 32, 32, 3) and k.min() >= 13 and k.max() <= 16
    _, k, _ = tool.patches(originals, decodes, rng, 16, late=(13, 0.0), size=(32, 400))
    assert k.min() < 13  # without a share, every iteration is drawn


def test_the_filter_loss_is_the_codec_models_mixed_loss_with_ssim_or_ms_ssim():
    import tensorflow as tf

    from tfrnncomp.eval import metrics

    tool = _train_tool()
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (1, 176, 176, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    scale = (lambda v: tf.constant(v, tf.float32) / 255.0 - 0.5)
    assert float(tool.filter_loss("ms_ssim", 0.84, scale(a), scale(a))) == pytest.approx(0, abs=1e-5)
    l1 = float(tf.reduce_mean(tf.abs(scale(a) - scale(b))))
    expected = 0.16 * l1 + 0.84 * (1 - metrics.ms_ssim(a[0], b[0]))
    assert float(tool.filter_loss("ms_ssim", 0.84, scale(a), scale(b))) == pytest.approx(
        expected, abs=1e-4)
    assert float(tool.filter_loss("ssim", 0.0, scale(a), scale(b))) == pytest.approx(l1, rel=1e-5)


def test_the_training_tool_refuses_an_ms_ssim_loss_on_patches_too_small_for_five_scales(capsys):
    with pytest.raises(SystemExit) as stop:
        _train_tool().parse(["--out", "x", "--loss", "ms_ssim", "--patch", "96"])
    assert stop.value.code == 2 and "176" in capsys.readouterr().err


def test_the_previous_image_probe_starts_from_the_filter_it_extends_and_then_reads_it():
    from tests.helpers import load_tool

    probe = load_tool("research/postfilter_previous_probe.py")
    decodes = np.random.default_rng(3).integers(0, 256, (3, 12, 20, 3), dtype=np.uint8)
    stacked = probe.with_previous(decodes)
    assert stacked.shape == (3, 12, 20, 6) and (stacked[0, ..., 3:] == 128).all()
    np.testing.assert_array_equal(stacked[1:, ..., 3:], decodes[:-1])
    plain = postfilter.build({"channels": 4, "depth": 3})
    kernel = plain.convs[-1].kernel
    kernel.assign(np.random.default_rng(1).normal(0, 0.05, kernel.shape).astype("float32"))
    x = stacked.astype("float32") / 255.0 - 0.5
    k = np.float32(2.0)
    extended = probe.probe_filter(plain, previous=True)
    np.testing.assert_allclose(np.asarray(extended(x, k)), np.asarray(plain(x[..., :3], k)),
                               atol=1e-6)
    kernel = extended.extra.kernel
    kernel.assign(np.random.default_rng(4).normal(0, 0.05, kernel.shape).astype("float32"))
    assert not np.allclose(np.asarray(extended(x, k)), np.asarray(plain(x[..., :3], k)))
    control = probe.probe_filter(plain, previous=False)
    np.testing.assert_allclose(np.asarray(control(x[..., :3], k)),
                               np.asarray(plain(x[..., :3], k)), atol=1e-6)
