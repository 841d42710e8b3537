"""Every shipped model exports, as a stock-op SavedModel and as float32 TFLite step models.

Parametrized over :func:`tfrnncomp.model.zoo.available_models`, so a model added to the zoo is
checked too.  Each export is loaded back and run on a 48x64 crop of the sample image
(2 iterations) against the package's own :class:`~tfrnncomp.codec.Codec` of that model:

* SavedModel: ``compress``/``decompress`` signatures with the documented dtypes and shapes,
  stock TensorFlow ops only, codes and images bit-identical to the package;
* TFLite float32 (LiteRT): step signatures named and shaped after the model's state layout,
  first-iteration codes identical to TF, ``decode`` within 1 grey level of TF's on the
  same codes.

The int8/float16 variants of the shipped weights are checked by ``tools/bench/bench_tflite.py``
(README "Deployment"); the slow test here converts them too.
"""

import json
import os

import numpy as np
import pytest

from tfrnncomp.model import zoo
from tfrnncomp.runtime import steps

HEIGHT, WIDTH, ITERATIONS = 48, 64, 2
SAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "tfrnncomp", "samples", "kodim23_crop.png")
MODELS = zoo.available_models()


def test_the_zoo_ships_at_least_one_model():
    assert zoo.DEFAULT_MODEL in MODELS


@pytest.fixture(scope="module")
def crop():
    from tfrnncomp.training.data import load_image

    return np.ascontiguousarray(load_image(SAMPLE)[:HEIGHT, :WIDTH])


@pytest.fixture(scope="module", params=MODELS)
def shipped(request, crop):
    """(name, codec, TF codes of the crop, TF decode of those codes) for one zoo model."""
    from tfrnncomp.codec import Codec

    default = request.param == zoo.DEFAULT_MODEL  # share the session's codec of it
    codec = request.getfixturevalue("shipped_codec") if default else Codec(request.param)
    codes, reconstruction = codec.encode_codes(crop, ITERATIONS)
    return request.param, codec, codes, reconstruction


@pytest.fixture(scope="module")
def savedmodel_dir(shipped, tmp_path_factory):
    from tfrnncomp.export import savedmodel

    # by name, as `tfrnncomp export` does: the model directory's post-filter comes along
    return savedmodel.export(shipped[0], str(tmp_path_factory.mktemp("zoo-savedmodel")))


@pytest.fixture(scope="module")
def tflite_dir(shipped, tmp_path_factory):
    from tfrnncomp.export import tflite

    out = str(tmp_path_factory.mktemp("zoo-tflite"))
    tflite.export(shipped[0], out, HEIGHT, WIDTH, variants=("float32",), log=lambda m: None)
    return out


def test_every_zoo_model_exports_a_savedmodel_with_the_documented_signatures(
        shipped, savedmodel_dir):
    import tensorflow as tf

    name, codec, _, _ = shipped
    loaded = tf.saved_model.load(savedmodel_dir)
    assert {"compress", "decompress", "serving_default"} <= set(loaded.signatures)
    compress = loaded.signatures["compress"].structured_input_signature[1]
    assert (compress["image"].dtype, compress["image"].shape.as_list()) == (
        tf.uint8, [None, None, 3])
    assert (compress["iterations"].dtype, compress["iterations"].shape.rank) == (tf.int32, 0)
    decompress = loaded.signatures["decompress"].structured_input_signature[1]
    assert (decompress["codes"].dtype, decompress["codes"].shape.as_list()) == (
        tf.int8, [None, None, None, codec.config.bits])
    info = json.load(open(os.path.join(savedmodel_dir, "assets.extra", "tfrnncomp.json")))
    assert info["model_id"] == codec.model_id and info["config"]["name"] == name


def test_every_zoo_model_savedmodel_uses_only_stock_ops(savedmodel_dir):
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(savedmodel_dir, "saved_model.pb"), "rb") as handle:
        saved.ParseFromString(handle.read())
    graph = saved.meta_graphs[0].graph_def
    used = {node.op for node in graph.node}
    for function in graph.library.function:
        used |= {node.op for node in function.node_def}
    assert "Conv2D" in used and [op for op in used if not hasattr(tf.raw_ops, op)] == []


def test_every_zoo_model_savedmodel_reproduces_the_package_bit_for_bit(
        shipped, savedmodel_dir, crop):
    import tensorflow as tf

    _, codec, codes, reconstruction = shipped
    loaded = tf.saved_model.load(savedmodel_dir)
    out = loaded.signatures["compress"](image=tf.constant(crop),
                                        iterations=tf.constant(ITERATIONS))
    padded_height, padded_width = steps.padded_size(HEIGHT, WIDTH)
    block, bits = codec.config.block_size, codec.config.bits
    assert out["codes"].dtype == tf.int8
    assert out["codes"].shape == (ITERATIONS, padded_height // block, padded_width // block, bits)
    assert np.array_equal(out["codes"].numpy(), codes)
    assert np.array_equal(out["reconstruction"].numpy(), reconstruction)
    image = loaded.signatures["decompress"](codes=tf.constant(codes), height=tf.constant(HEIGHT),
                                            width=tf.constant(WIDTH))["image"]
    assert image.dtype == tf.uint8 and np.array_equal(image.numpy(), reconstruction)


def test_every_zoo_model_tflite_steps_have_the_state_layouts_signatures(shipped, tflite_dir):
    from tfrnncomp.export.litert_backend import LiteRTSteps

    codec = shipped[1]
    backend = LiteRTSteps(tflite_dir, "float32")
    assert backend.model_id == codec.model_id
    padded = steps.padded_size(HEIGHT, WIDTH)
    expected = {"encoder_step": steps.encoder_state_shapes(codec.model, *padded),
                "decoder_step": steps.decoder_state_shapes(codec.model, *padded)}
    for step, state_shapes in expected.items():
        part = step.split("_")[0]
        details = backend.model(step).runner.get_input_details()
        for i, shape in enumerate(state_shapes):
            assert tuple(details[f"{part}_state_{i}"]["shape"]) == tuple(shape)
        assert all(d["dtype"] == np.float32 for d in details.values())
    image_input = backend.model("encoder_step").runner.get_input_details()["image"]
    assert tuple(image_input["shape"]) == (1, *padded, 3)
    bits_output = backend.model("encoder_step").runner.get_output_details()["bits"]
    assert tuple(bits_output["shape"]) == steps.code_shape(codec.model, *padded)


def test_every_zoo_model_tflite_float32_matches_tf_on_a_crop(shipped, tflite_dir, crop):
    from tfrnncomp.export.litert_backend import LiteRTSteps

    _, codec, codes, reconstruction = shipped
    backend = LiteRTSteps(tflite_dir, "float32")
    lite_codes, lite_reconstruction = backend.encode(crop, ITERATIONS)
    assert lite_codes.shape == codes.shape and lite_codes.dtype == np.int8
    assert np.array_equal(lite_codes[0], codes[0])
    assert (lite_codes == codes).mean() >= 0.99
    decoded = backend.decode(codes, HEIGHT, WIDTH)
    assert np.abs(decoded.astype(int) - reconstruction).max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize("name", MODELS)
def test_every_zoo_model_converts_to_every_tflite_variant(name, crop, tmp_path):
    from tfrnncomp.export import tflite
    from tfrnncomp.export.litert_backend import LiteRTSteps
    from tfrnncomp.codec import Codec

    codec = Codec(name)
    tflite.export(codec.model, str(tmp_path), HEIGHT, WIDTH, calibration_images_count=2,
                  calibration_iterations=4, log=lambda m: None)
    reference, _ = codec.encode_codes(crop, ITERATIONS)
    for variant in tflite.VARIANTS:
        backend = LiteRTSteps(str(tmp_path), variant)
        codes, _ = backend.encode(crop, ITERATIONS)
        assert codes.shape == reference.shape and set(np.unique(codes)) <= {-1, 1}
        assert (codes == reference).mean() >= 0.8, variant
        assert codec.decompress(backend.compress(crop, ITERATIONS)).shape == crop.shape
