"""The model: architecture sizes, reconstruction modes, model.fit, saving and loading."""

import json
import os

import keras
import numpy as np
import pytest

from tests.helpers import TINY_CONFIG
from tfrnncomp.model.config import REFERENCE, ModelConfig, load_config
from tfrnncomp.errors import ConfigError
from tfrnncomp.model.network import RNNCompressionModel


def _batch(size=32, count=4, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = [np.stack([np.sin(6 * x * rng.uniform(0.5, 2) + c) * y for c in range(3)], -1)
              for _ in range(count)]
    return (np.stack(images) * 0.4).astype("float32")


def test_the_reference_config_has_the_papers_channel_counts_and_kernels():
    assert REFERENCE.encoder_conv == 64
    assert REFERENCE.encoder_units == (256, 512, 512)
    assert REFERENCE.encoder_hidden_kernels == (1, 1, 1)
    assert REFERENCE.decoder_units == (512, 512, 256, 128)
    assert REFERENCE.decoder_hidden_kernels == (1, 1, 3, 3)
    assert REFERENCE.bits == 32 and REFERENCE.bpp_per_iteration == 0.125


def test_the_paper_sized_model_maps_a_32x32_patch_to_128_bits_per_iteration():
    model = RNNCompressionModel(REFERENCE.to_dict())
    x = np.zeros((1, 32, 32, 3), "float32")
    codes, _ = model.encoder_step(x, model.initial_encoder_state(x))
    assert tuple(codes.shape) == (1, 2, 2, 32)  # 2 x 2 x 32 = 128 bits
    out, _ = model.decoder_step(codes, model.initial_decoder_state(codes))
    assert tuple(out.shape) == (1, 32, 32, 3)


def test_a_width_multiplier_scales_channels_to_multiples_of_eight():
    config = ModelConfig(width=0.25)
    assert [config.scaled(c) for c in (64, 256, 512, 128)] == [16, 64, 128, 32]
    assert ModelConfig(width=0.01).scaled(64) == 8


@pytest.mark.parametrize("changes,message", [
    ({"cell": "rnn"}, "cell must be one of"),
    ({"reconstruction": "magic"}, "reconstruction must be one of"),
    ({"width": 0}, "width must be in"),
    ({"train_iterations": 20}, "train_iterations"),
    ({"encoder_units": [1, 2]}, "exactly 3 RNNs"),
])
def test_invalid_configs_raise_a_config_error_naming_the_field(changes, message):
    with pytest.raises(ConfigError, match=message):
        ModelConfig(**changes)


def test_configs_round_trip_through_json_files(tmp_path):
    config = ModelConfig(name="x", cell="lstm", width=0.5, gdn=True)
    path = tmp_path / "config.json"
    path.write_text(config.to_json())
    assert load_config(str(path)) == config
    assert json.loads(config.to_json())["encoder_units"] == [256, 512, 512]
    with pytest.raises(ConfigError, match="unknown model config keys"):
        ModelConfig.from_dict({"nonsense": 1})


def test_the_binarizer_training_mode_is_saved_only_when_it_is_not_the_papers(tmp_path):
    assert "binarizer_training" not in ModelConfig().to_dict()
    config = ModelConfig(binarizer_training="sign")
    assert config.to_dict()["binarizer_training"] == "sign"
    assert load_config(config.to_json()) == config
    model = RNNCompressionModel(dict(TINY_CONFIG, binarizer_training="sign", train_iterations=2))
    assert model.binarizer.training_mode == "sign"
    batch = _batch(count=1, size=32)
    np.testing.assert_array_equal(model(batch, training=True).numpy(),
                                  model(batch, training=True).numpy())  # no noise drawn
    with pytest.raises(ConfigError, match="binarizer_training"):
        ModelConfig(binarizer_training="soft")


def test_the_binarizer_noise_tool_reads_the_tanh_outputs_behind_the_codes_of_each_iteration(
        tmp_path, capsys):
    from tests.helpers import load_tool

    tool = load_tool("research/binarizer_noise.py")
    model = RNNCompressionModel(dict(TINY_CONFIG, max_iterations=3)).build_for_inference()
    image = np.random.default_rng(2).integers(0, 256, (70, 40, 3)).astype(np.uint8)
    found = tool.tanh_outputs(model, image, 3)
    assert found.shape == (3, 4 * 2 * model.config.bits)  # a 64x32 crop: 4x2 code positions
    assert found.min() >= 0.0 and found.max() <= 1.0
    x = image[None, :64, :32].astype("float32") / 255.0 - 0.5
    features, _ = model.encoder_features(x, model.initial_encoder_state(x))
    codes, _ = model.encoder_step(x, model.initial_encoder_state(x))
    np.testing.assert_allclose(found[0], np.abs(np.tanh(
        model.binarizer.projection(features).numpy())).ravel(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(codes.numpy(), model.binarizer(features).numpy())
    assert tool.main(["--validation", str(tmp_path / "absent")]) == 0
    assert "skipped" in capsys.readouterr().out


@pytest.mark.parametrize("cell", ["lstm", "gru", "residual_gru", "associative_lstm"])
@pytest.mark.parametrize("reconstruction", ["one_shot", "additive", "residual_scaling"])
def test_every_cell_and_reconstruction_gives_one_image_per_iteration(cell, reconstruction):
    model = RNNCompressionModel(dict(TINY_CONFIG, cell=cell, reconstruction=reconstruction,
                                     train_iterations=3))
    out = model(_batch(count=2, size=64)).numpy()
    assert out.shape == (3, 2, 64, 64, 3)
    assert np.all(np.isfinite(out))


def test_the_gdn_variant_builds_gdn_and_igdn_blocks():
    model = RNNCompressionModel(dict(TINY_CONFIG, gdn=True)).build_for_inference()
    names = {v.path.split("/")[-2] for v in model.weights}
    assert {"encoder_gdn", "decoder_igdn"} <= names


def test_the_additive_reconstruction_is_the_sum_of_the_decoder_outputs():
    model = RNNCompressionModel(TINY_CONFIG)
    x = _batch(count=1)
    enc = model.initial_encoder_state(x)
    recon = np.zeros_like(x)
    outputs, dec = [], None
    for _ in range(3):
        codes, enc = model.encoder_step(x - recon, enc)
        dec = dec or model.initial_decoder_state(codes)
        out, dec = model.decoder_step(codes, dec)
        outputs.append(out.numpy())
        recon = recon + out.numpy()
    np.testing.assert_allclose(model(x, iterations=3).numpy()[-1], sum(outputs), atol=1e-5)


def test_model_fit_reduces_the_loss_on_a_fixed_tiny_batch():
    keras.utils.set_random_seed(0)
    model = RNNCompressionModel(TINY_CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _batch(count=8)
    history = model.fit(x, batch_size=8, epochs=30, verbose=0)
    losses = history.history["loss"]
    assert losses[0] > 0 and all(np.isfinite(losses))
    assert min(losses[-5:]) < 0.85 * losses[0], losses


def test_fit_reports_nonzero_losses_and_validation_metrics():
    model = RNNCompressionModel(TINY_CONFIG)
    model.compile(optimizer="adam")
    x = _batch(count=4)
    history = model.fit(x, batch_size=4, epochs=1, validation_data=(x,), verbose=0)
    for key in ("loss", "l1_first", "l1_last", "val_loss"):
        assert history.history[key][0] > 0


def test_saving_and_loading_weights_gives_identical_outputs(tmp_path):
    from tfrnncomp.model import zoo

    model = RNNCompressionModel(TINY_CONFIG).build_for_inference()
    x = _batch(count=2)
    zoo.save_model(model, str(tmp_path / "m"))
    loaded = zoo.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    assert zoo.model_id(loaded) == zoo.model_id(model)
    assert sorted(os.listdir(tmp_path / "m")) == ["config.json", "model.weights.h5"]


def test_a_whole_model_round_trips_through_the_keras_format(tmp_path):
    model = RNNCompressionModel(dict(TINY_CONFIG, cell="lstm")).build_for_inference()
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.config == model.config
    x = _batch(count=1)
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())


def test_the_model_id_does_not_depend_on_the_instance_name():
    from tfrnncomp.model import zoo

    a = RNNCompressionModel(TINY_CONFIG).build_for_inference()
    b = RNNCompressionModel(TINY_CONFIG, name="another_name").build_for_inference()
    b.set_weights(a.get_weights())
    assert zoo.model_id(a) == zoo.model_id(b)
    b.weights[0].assign(b.weights[0] + 1.0)
    assert zoo.model_id(a) != zoo.model_id(b)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_state_layout_gives_the_shapes_of_the_states_each_iteration_returns(cell):
    model = RNNCompressionModel({**TINY_CONFIG, "cell": cell})
    height, width = 64, 96
    image = keras.ops.zeros((1, height, width, 3))
    codes, encoder_states = model.encoder_step(image, model.initial_encoder_state(image))
    _, decoder_states = model.decoder_step(codes, model.initial_decoder_state(codes))
    layout = model.state_layout()

    def shapes(states):
        return [tuple(s.shape) for cell_states in states for s in cell_states]

    def expected(entries):
        return [(1, height // scale, width // scale, channels) for scale, channels in entries]

    assert shapes(encoder_states) == expected(layout["encoder"])
    assert shapes(decoder_states) == expected(layout["decoder"])
    assert tuple(codes.shape) == (1, height // layout["block"], width // layout["block"],
                                  layout["bits"])
