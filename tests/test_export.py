"""Tests of the deployment exports: step functions and host loop, SavedModel, TFLite/LiteRT.

All on the tiny untrained model of conftest.py and 64x96 images.  What is guaranteed:

* the NumPy host loop over the TF step functions reproduces ``functions.encode`` and
  ``functions.decode`` bit for bit, and the SavedModel reproduces the package's codes
  bit for bit in a process that never imports tfrnncomp;
* LiteRT float32 steps match TF within 1e-5 per step; codes of the first iteration are
  equal and at least 99% of all bits agree over 8 iterations (later iterations code
  residuals whose tiny float differences can flip a bit whose pre-sign value is ~0);
* any codes decode validly on either backend, and the same codes decode to images within
  1 grey level of each other (float32).
"""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.helpers import smooth_image
from tfrnncomp.runtime import steps
from tfrnncomp.format import container as bitstream
from tfrnncomp.codec import Codec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEIGHT, WIDTH = 64, 96


@pytest.fixture(scope="module")
def image():
    return smooth_image(HEIGHT, WIDTH, seed=11)


@pytest.fixture(scope="module")
def tf_steps(tiny_model):
    return steps.TFSteps(tiny_model)


@pytest.fixture(scope="module")
def savedmodel_dir(tiny_model, tmp_path_factory):
    from tfrnncomp.export import savedmodel

    return savedmodel.export(tiny_model, str(tmp_path_factory.mktemp("savedmodel")))


@pytest.fixture(scope="module")
def tflite_dir(tiny_model, tmp_path_factory):
    from tfrnncomp.export import tflite

    out = str(tmp_path_factory.mktemp("tflite"))
    tflite.export(tiny_model, out, HEIGHT, WIDTH, variants=("float32",), log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def litert(tflite_dir):
    from tfrnncomp.export.litert_backend import LiteRTSteps

    return LiteRTSteps(tflite_dir, "float32")


def _env():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    return env


# -- step functions and host loop ----------------------------------------------------------
@pytest.mark.parametrize("size", [(HEIGHT, WIDTH), (37, 50)])
def test_host_loop_over_tf_steps_reproduces_encode_exactly(tiny_codec, tf_steps, size):
    image = smooth_image(*size, seed=2)
    codes, reconstruction = tiny_codec.encode_codes(image, 5)
    step_codes, step_reconstruction = steps.run_steps(tf_steps.encoder, tf_steps.decoder,
                                                      image, 5)
    assert step_codes.dtype == np.int8 and np.array_equal(step_codes, codes)
    assert np.array_equal(step_reconstruction, reconstruction)


@pytest.mark.parametrize("variant", [
    {"reconstruction": "residual_scaling"},
    {"reconstruction": "one_shot", "cell": "lstm", "gdn": True},
])
def test_host_loop_is_exact_for_every_reconstruction_mode_and_cell(variant):
    from tests.helpers import TINY_CONFIG
    from tfrnncomp.model.network import RNNCompressionModel

    model = RNNCompressionModel(dict(TINY_CONFIG, **variant)).build_for_inference()
    codec, tf_steps = Codec(model), steps.TFSteps(model)
    image = smooth_image(32, 64, seed=9)
    codes, reconstruction = codec.encode_codes(image, 3)
    step_codes, step_reconstruction = steps.run_steps(tf_steps.encoder, tf_steps.decoder,
                                                      image, 3)
    assert np.array_equal(step_codes, codes)
    assert np.array_equal(step_reconstruction, reconstruction)
    decoded = steps.run_decoder_steps(tf_steps.decoder, codes, 32, 64, model.config.block_size)
    assert np.array_equal(decoded, reconstruction)


def test_decoder_steps_reproduce_decode_exactly(tiny_codec, tf_steps, image):
    codes, _ = tiny_codec.encode_codes(image, 4)
    decoded = steps.run_decoder_steps(tf_steps.decoder, codes, HEIGHT, WIDTH,
                                      tiny_codec.config.block_size)
    assert np.array_equal(decoded, tiny_codec.decode_codes(codes, HEIGHT, WIDTH))


def test_stopping_the_host_loop_early_gives_a_prefix_of_the_codes(tf_steps, image):
    seen = []
    long_codes, _ = steps.run_steps(tf_steps.encoder, tf_steps.decoder, image, 4,
                                    callback=lambda t, bits, rec: seen.append(t))
    short_codes, _ = steps.run_steps(tf_steps.encoder, tf_steps.decoder, image, 2)
    assert seen == [0, 1, 2, 3]
    assert np.array_equal(short_codes, long_codes[:2])


def test_state_shape_helpers_match_the_models_initial_states(tiny_model):
    import tensorflow as tf

    x = tf.zeros((1, 64, 96, 3))
    encoder = [tuple(t.shape) for cell in tiny_model.initial_encoder_state(x) for t in cell]
    decoder = [tuple(t.shape) for cell in tiny_model.initial_decoder_state(tf.zeros((1, 4, 6, 32)))
               for t in cell]
    assert steps.encoder_state_shapes(tiny_model, 64, 96) == encoder
    assert steps.decoder_state_shapes(tiny_model, 64, 96) == decoder
    assert steps.code_shape(tiny_model, 64, 96) == (1, 4, 6, 32)


def test_step_function_outputs_are_named_bits_reconstruction_gain_and_states(tiny_model):
    functions = steps.StepFunctions(tiny_model, HEIGHT, WIDTH)
    enc = functions.encoder_step.get_concrete_function().structured_outputs
    dec = functions.decoder_step.get_concrete_function().structured_outputs
    assert set(enc) == {"bits"} | {f"encoder_state_{i}" for i in range(3)}
    assert set(dec) == {"reconstruction", "gain"} | {f"decoder_state_{i}" for i in range(4)}
    assert [s.name for s in functions.encoder_signature[:3]] == ["image", "reconstruction", "gain"]


# -- SavedModel -----------------------------------------------------------------------------
def test_savedmodel_has_compress_and_decompress_signatures(savedmodel_dir):
    import tensorflow as tf

    loaded = tf.saved_model.load(savedmodel_dir)
    assert {"compress", "decompress", "serving_default"} <= set(loaded.signatures)
    compress = loaded.signatures["compress"]
    inputs = compress.structured_input_signature[1]
    assert inputs["image"].dtype == tf.uint8 and inputs["image"].shape.as_list() == [None, None, 3]
    assert set(compress.structured_outputs) == {"codes", "reconstruction"}
    assert set(loaded.signatures["decompress"].structured_input_signature[1]) == {
        "codes", "height", "width"}
    info = json.load(open(os.path.join(savedmodel_dir, "assets.extra", "tfrnncomp.json")))
    assert info["model_id"].startswith("tiny@")
    assert os.path.basename(savedmodel_dir) == "1"


def test_savedmodel_in_a_fresh_process_without_tfrnncomp_reproduces_codes(
        savedmodel_dir, tiny_codec, image, tmp_path):
    codes, reconstruction = tiny_codec.encode_codes(image, 3)
    np.save(tmp_path / "image.npy", image)
    script = textwrap.dedent(f"""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in ("tfrnncomp", "tests"):
                    raise ImportError("blocked: " + name)
        sys.meta_path.insert(0, Block())
        import numpy as np, tensorflow as tf
        model = tf.saved_model.load({savedmodel_dir!r})
        image = np.load("image.npy")
        out = model.signatures["compress"](image=tf.constant(image), iterations=tf.constant(3))
        dec = model.signatures["decompress"](codes=out["codes"], height=tf.constant({HEIGHT}),
                                             width=tf.constant({WIDTH}))
        np.savez("out.npz", codes=out["codes"].numpy(),
                 reconstruction=out["reconstruction"].numpy(), decoded=dec["image"].numpy())
        assert not [m for m in sys.modules if m.split(".")[0] == "tfrnncomp"], "imported"
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(),
                          timeout=300, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    out = np.load(tmp_path / "out.npz")
    assert out["codes"].dtype == np.int8 and np.array_equal(out["codes"], codes)
    assert np.array_equal(out["reconstruction"], reconstruction)
    assert np.array_equal(out["decoded"], reconstruction)


def _saved_model_proto(savedmodel_dir):
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(savedmodel_dir, "saved_model.pb"), "rb") as handle:
        saved.ParseFromString(handle.read())
    return saved


def _signature_defs(savedmodel_dir):
    return _saved_model_proto(savedmodel_dir).meta_graphs[0].signature_def


def _validate(request, signature_defs):
    """What TF Serving checks: the signature exists, inputs match by name, dtype and shape."""
    signature = signature_defs[request.model_spec.signature_name]
    assert set(request.inputs) == set(signature.inputs)
    for name, proto in request.inputs.items():
        expected = signature.inputs[name]
        assert proto.dtype == expected.dtype, name
        dims = [d.size for d in proto.tensor_shape.dim]
        want = [d.size for d in expected.tensor_shape.dim]
        assert len(dims) == len(want) and all(w in (-1, d) for d, w in zip(dims, want)), name


def test_predict_requests_for_each_signature_validate_and_run(savedmodel_dir, tiny_codec, image):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    defs = _signature_defs(savedmodel_dir)
    codes, _ = tiny_codec.encode_codes(image, 2)
    feeds = {"compress": {"image": image, "iterations": np.int32(2)},
             "decompress": {"codes": codes, "height": np.int32(HEIGHT), "width": np.int32(WIDTH)}}
    loaded = tf.saved_model.load(savedmodel_dir)
    for name, feed in feeds.items():
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tfrnncomp"
        request.model_spec.signature_name = name
        for key, value in feed.items():
            request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
        _validate(predict_pb2.PredictRequest.FromString(request.SerializeToString()), defs)
        outputs = loaded.signatures[name](
            **{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
        assert set(outputs) == set(defs[name].outputs)
    bad = predict_pb2.PredictRequest()
    bad.model_spec.signature_name = "compress"
    bad.inputs["image"].CopyFrom(tf.make_tensor_proto(image.astype(np.float32)))
    bad.inputs["iterations"].CopyFrom(tf.make_tensor_proto(np.int32(2)))
    with pytest.raises(AssertionError):
        _validate(bad, defs)


def _saved_model_cli():
    return os.path.join(os.path.dirname(sys.executable), "saved_model_cli")


def test_saved_model_cli_show_lists_the_signatures(savedmodel_dir):
    shown = subprocess.run([_saved_model_cli(), "show", "--dir", savedmodel_dir, "--all"],
                           env=_env(), capture_output=True, text=True, timeout=300,
                           check=True).stdout
    for name in ("compress", "decompress", "serving_default"):
        assert f"signature_def['{name}']" in shown


def test_saved_model_cli_run_executes_decompress(savedmodel_dir, tmp_path):
    np.save(tmp_path / "codes.npy", np.ones((1, 2, 2, 32), np.int8))
    subprocess.run([_saved_model_cli(), "run", "--dir", savedmodel_dir, "--tag_set", "serve",
                    "--signature_def", "decompress", "--inputs", f"codes={tmp_path}/codes.npy",
                    "--input_exprs", "height=20;width=30", "--outdir", str(tmp_path)],
                   env=_env(), capture_output=True, timeout=300, check=True)
    decoded = np.load(tmp_path / "image.npy")
    assert decoded.shape == (20, 30, 3) and decoded.dtype == np.uint8


def test_savedmodel_export_refuses_an_existing_version_without_force(savedmodel_dir,
                                                                     tiny_model):
    from tfrnncomp.errors import OutputError
    from tfrnncomp.export import savedmodel

    before = os.listdir(savedmodel_dir)
    with pytest.raises(OutputError, match="exists; pass --force"):
        savedmodel.export(tiny_model, os.path.dirname(savedmodel_dir))
    assert os.listdir(savedmodel_dir) == before
    assert os.listdir(os.path.dirname(savedmodel_dir)) == ["1"]


def test_default_savedmodel_uses_only_stock_tensorflow_ops(savedmodel_dir):
    import tensorflow as tf

    graph = _saved_model_proto(savedmodel_dir).meta_graphs[0].graph_def
    used = {node.op for node in graph.node}
    for function in graph.library.function:
        used |= {node.op for node in function.node_def}
    # tf.raw_ops lists TensorFlow's own ops only (not those of loaded libraries such as
    # tensorflow-compression's range coder)
    assert {"Conv2D", "While"} <= used
    assert [op for op in used if not hasattr(tf.raw_ops, op)] == []


@pytest.mark.slow
def test_range_coder_signatures_match_the_python_context_coder(tiny_model, tiny_codec,
                                                              tmp_path):
    import tensorflow as tf
    import tensorflow_compression_ops  # noqa: F401  (the op library the signatures need)
    from tfrnncomp.export import savedmodel

    path = savedmodel.export(tiny_model, str(tmp_path), with_range_coder=True)
    loaded = tf.saved_model.load(path)
    for height, width in [(HEIGHT, WIDTH), (37, 50)]:
        image = smooth_image(height, width, seed=7)
        out = loaded.signatures["compress_trc"](image=tf.constant(image),
                                                 iterations=tf.constant(4))
        codes, payloads = out["codes"].numpy(), list(out["payloads"].numpy())
        assert payloads == tiny_codec.encode_chunks(codes, "context")
        data = bitstream.write(tiny_codec.header_for(height, width, 3, 4, "context"), payloads)
        assert np.array_equal(tiny_codec.decompress(data), out["reconstruction"].numpy())
        back = loaded.signatures["decompress_trc"](payloads=out["payloads"],
                                                   height=tf.constant(height),
                                                   width=tf.constant(width))
        assert np.array_equal(back["codes"].numpy(), codes)
        assert np.array_equal(back["image"].numpy(), out["reconstruction"].numpy())


# -- TFLite / LiteRT ------------------------------------------------------------------------
def test_tflite_float32_steps_match_tf_within_1e_5(litert, tf_steps, image):
    x = steps.to_model_range(image)[None]
    shapes = litert.encoder.state_shapes(HEIGHT, WIDTH)
    states = [np.random.default_rng(i).uniform(-1, 1, s).astype(np.float32)
              for i, s in enumerate(shapes)]
    reconstruction = np.full_like(x, 0.1)
    gain = np.ones((1, HEIGHT, WIDTH, 1), np.float32)
    tf_bits, tf_states = tf_steps.encoder(x, reconstruction, gain, states)
    lite_bits, lite_states = litert.encoder(x, reconstruction, gain, states)
    assert np.array_equal(np.sign(lite_bits), np.sign(tf_bits))
    for a, b in zip(lite_states, tf_states):
        np.testing.assert_allclose(a, b, atol=1e-5)
    dec_states = [np.zeros(s, np.float32) for s in litert.decoder.state_shapes(HEIGHT, WIDTH)]
    tf_out = tf_steps.decoder(tf_bits, reconstruction, gain, dec_states)
    lite_out = litert.decoder(tf_bits, reconstruction, gain, dec_states)
    for a, b in zip([lite_out[0], lite_out[1]] + lite_out[2], [tf_out[0], tf_out[1]] + tf_out[2]):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_litert_float32_codes_equal_tf_in_iteration_one_and_agree_on_99_percent(
        litert, tiny_codec, image):
    reference, _ = tiny_codec.encode_codes(image, 8)
    codes, _ = litert.encode(image, 8)
    assert codes.shape == reference.shape and codes.dtype == np.int8
    assert np.array_equal(codes[0], reference[0])
    assert (codes == reference).mean() >= 0.99


def test_a_file_encoded_through_litert_decodes_with_the_python_codec(litert, tiny_codec, image):
    for entropy in ("raw", "context"):
        data = litert.compress(image, 6, entropy=entropy)
        decoded = tiny_codec.decompress(data)
        codes, reconstruction = litert.encode(image, 6)
        assert np.array_equal(decoded, tiny_codec.decode_codes(codes, HEIGHT, WIDTH))
        assert np.abs(decoded.astype(int) - reconstruction).max() <= 1
        assert np.array_equal(tiny_codec.decompress(data, iterations=2),
                              tiny_codec.decode_codes(codes[:2], HEIGHT, WIDTH))


def test_a_file_encoded_by_the_python_codec_decodes_through_litert(litert, tiny_codec, image):
    for entropy in ("raw", "context"):
        data = tiny_codec.compress(image, 6, entropy=entropy)
        decoded = litert.decompress(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        assert np.abs(decoded.astype(int) - tiny_codec.decompress(data)).max() <= 1
    grey = tiny_codec.compress(image[..., 0], 2)
    assert litert.decompress(grey).shape == (HEIGHT, WIDTH)
    header = dataclasses.replace(litert.header(HEIGHT, WIDTH, 1), model_id="other@00000000")
    codes, _ = litert.encode(image, 1)
    with pytest.raises(ValueError, match="written by model"):
        litert.decompress(bitstream.write(header, [bitstream.pack_codes(codes[0])]))


def test_litert_backend_runs_raw_files_without_importing_tensorflow(tflite_dir, tiny_codec,
                                                                    image, tmp_path):
    np.save(tmp_path / "image.npy", image)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        from tfrnncomp.export.litert_backend import LiteRTSteps
        backend = LiteRTSteps({tflite_dir!r})
        data = backend.compress(np.load({str(tmp_path / "image.npy")!r}), 3)
        open({str(tmp_path / "out.trc")!r}, "wb").write(data)
        assert backend.decompress(data).shape == ({HEIGHT}, {WIDTH}, 3)
        assert "tensorflow" not in sys.modules and "keras" not in sys.modules
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(), timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert tiny_codec.decompress((tmp_path / "out.trc").read_bytes()).shape == image.shape


def test_litert_resizes_fixed_size_step_models_to_other_image_sizes(litert, tiny_codec):
    portrait = smooth_image(96, 64, seed=4)
    codes, _ = litert.encode(portrait, 2)
    reference, _ = tiny_codec.encode_codes(portrait, 2)
    assert codes.shape == reference.shape == (2, 6, 4, 32)
    assert np.array_equal(codes[0], reference[0])
    assert litert.decode(codes, 96, 64).shape == (96, 64, 3)


def test_tflite_manifest_describes_files_and_state_layout(tflite_dir, tiny_model):
    manifest = json.load(open(os.path.join(tflite_dir, "tflite.json")))
    assert (manifest["height"], manifest["width"]) == (HEIGHT, WIDTH)
    layout = tiny_model.state_layout()
    assert manifest["state_layout"]["encoder"] == [list(x) for x in layout["encoder"]]
    for step in ("encoder_step", "decoder_step"):
        info = manifest["variants"]["float32"][step]
        assert os.path.getsize(os.path.join(tflite_dir, info["file"])) == info["bytes"]


def test_tflite_export_refuses_existing_variant_files_without_force(tflite_dir, tiny_model):
    from tfrnncomp.errors import OutputError
    from tfrnncomp.export import tflite

    before = {name: os.path.getmtime(os.path.join(tflite_dir, name))
              for name in os.listdir(tflite_dir)}
    with pytest.raises(OutputError, match="encoder_step.float32.tflite: exists; pass --force"):
        tflite.export(tiny_model, tflite_dir, HEIGHT, WIDTH, variants=("float32",))
    assert {name: os.path.getmtime(os.path.join(tflite_dir, name))
            for name in os.listdir(tflite_dir)} == before


@pytest.mark.parametrize("step", ["encoder_step", "decoder_step"])
def test_int8_calibration_samples_follow_the_host_loop_with_the_step_inputs_names(
        tiny_model, step):
    from tfrnncomp.export import tflite

    images = tflite.calibration_images(2, 32, 64)
    samples = list(tflite.representative_dataset(tiny_model, images, 3, step)())
    functions = steps.StepFunctions(tiny_model)
    signature = (functions.encoder_signature if step == "encoder_step"
                 else functions.decoder_signature)
    assert len(samples) == 2 * 3
    assert all(set(sample) == {spec.name for spec in signature} for sample in samples)
    assert not samples[0]["reconstruction"].any() and samples[1]["reconstruction"].any()
    if step == "decoder_step":
        assert set(np.unique(samples[0]["bits"])) <= {-1.0, 1.0}


@pytest.mark.slow
def test_every_tflite_variant_converts_and_decodes_validly(tiny_model, tiny_codec, tmp_path,
                                                          image):
    from tfrnncomp.export import tflite
    from tfrnncomp.export.litert_backend import LiteRTSteps

    tflite.export(tiny_model, str(tmp_path), HEIGHT, WIDTH, calibration_images_count=2,
                  calibration_iterations=4, log=lambda m: None)
    sizes = {}
    for variant in tflite.VARIANTS:
        backend = LiteRTSteps(str(tmp_path), variant)
        codes, _ = backend.encode(image, 4)
        assert codes.shape == (4, 4, 6, 32) and set(np.unique(codes)) <= {-1, 1}
        decoded = tiny_codec.decompress(backend.compress(image, 4))
        assert decoded.shape == image.shape
        sizes[variant] = os.path.getsize(tflite.model_file(str(tmp_path), "decoder_step",
                                                           variant))
    assert sizes["float16"] < sizes["float32"] and sizes["dynamic_int8"] < sizes["float16"]


def test_int8_calibration_defaults_to_the_training_split_beside_the_repository(monkeypatch,
                                                                               tmp_path):
    from tfrnncomp.eval.schema import REPO
    from tfrnncomp.export import tflite

    monkeypatch.delenv("TFRNNCOMP_DATA", raising=False)
    beside = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "train"))
    if not os.path.isdir(beside):
        pytest.skip(f"no training data at {beside}")
    assert tflite.default_calibration_dir() == beside  # not synthetic images
    (tmp_path / "train").mkdir()
    monkeypatch.setenv("TFRNNCOMP_DATA", str(tmp_path))
    assert tflite.default_calibration_dir() == str(tmp_path / "train")
