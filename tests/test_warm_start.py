"""A GRU training checkpoint as a residual-GRU one (:mod:`tfrnncomp.training.warm_start`)."""

import json

import numpy as np
import pytest

from tests.helpers import TINY_CONFIG, load_tool, loaded_checkpoint, tiny_training_checkpoint
from tfrnncomp.errors import ConfigError
from tfrnncomp.model.config import load_config
from tfrnncomp.training.warm_start import residual_gru_config, residual_gru_warm_start


@pytest.fixture(scope="module")
def gru_checkpoint(tmp_path_factory):
    return tiny_training_checkpoint(tmp_path_factory.mktemp("gru_run"))


def test_the_residual_gru_warm_start_codes_and_reconstructs_as_the_gru_checkpoint(
        gru_checkpoint, tmp_path):
    converted = tmp_path / "residual.weights.h5"
    residual = residual_gru_warm_start(TINY_CONFIG, str(gru_checkpoint), str(converted))
    assert (residual.cell, residual.decoder_cell_type) == ("residual_gru", "residual_gru")
    gru = loaded_checkpoint(load_config(TINY_CONFIG), gru_checkpoint)
    model = loaded_checkpoint(residual, converted)
    assert type(model.encoder_rnns[0]).__name__ == "ResidualGRUCell"
    assert type(model.decoder_rnns[-1]).__name__ == "ResidualGRUCell"
    probe = load_tool("training/device_run.py").probe
    on_gru, on_residual = probe(gru, iterations=8), probe(model, iterations=8)
    np.testing.assert_array_equal(on_residual["codes"], on_gru["codes"])
    # equal but for float32 rounding: the wider convolutions may take another oneDNN algorithm
    np.testing.assert_allclose(on_residual["reconstructions"], on_gru["reconstructions"],
                               rtol=0, atol=1e-6)
    image = on_gru["image"]
    np.testing.assert_allclose(model(image, iterations=4), gru(image, iterations=4),
                               rtol=0, atol=1e-6)


def test_the_warm_start_pads_input_convolutions_and_their_adam_moments_with_zeros_only(
        gru_checkpoint, tmp_path):
    converted = tmp_path / "residual.weights.h5"
    residual = residual_gru_warm_start(TINY_CONFIG, str(gru_checkpoint), str(converted))
    gru = loaded_checkpoint(load_config(TINY_CONFIG), gru_checkpoint)
    model = loaded_checkpoint(residual, converted)
    assert int(model.optimizer.iterations.numpy()) == int(gru.optimizer.iterations.numpy()) == 2
    pairs = list(zip(gru.trainable_variables, model.trainable_variables))
    pairs += list(zip(gru.optimizer.variables, model.optimizer.variables))
    widened = 0
    for old, new in pairs:
        old, new, path = np.asarray(old.numpy()), np.asarray(new.numpy()), new.path
        if old.shape == new.shape:
            np.testing.assert_array_equal(new, old, err_msg=path)
            continue
        widened += 1
        assert "input_conv" in path and new.shape[-1] == old.shape[-1] * 4 // 3, path
        np.testing.assert_array_equal(new[..., :old.shape[-1]], old, err_msg=path)
        assert not new[..., old.shape[-1]:].any(), path
        assert old.any(), path  # the moments were trained: the copy is checked, not zeros
    cells = len(model.encoder_rnns) + len(model.decoder_rnns)
    assert widened == cells * 2 * 3  # kernel and bias, each with its momentum and velocity


def test_only_a_gru_model_warm_starts_a_residual_gru_model():
    with pytest.raises(ConfigError, match="needs a GRU model"):
        residual_gru_config(dict(TINY_CONFIG, decoder_cell="lstm"))
    assert residual_gru_config(TINY_CONFIG).replace(cell="gru", decoder_cell=None) == \
        load_config(TINY_CONFIG)


def test_the_residual_gru_arm_starts_from_a_converted_checkpoint_its_model_loads(
        gru_checkpoint, tmp_path):
    tool = load_tool("research/training_arms.py")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    destination = tmp_path / "backup.weights.h5"
    tool.WARM_STARTS["residual-gru"](load_config(str(config)), str(gru_checkpoint),
                                     str(destination))
    arm_config = load_config(str(config)).replace(**tool.ARMS["residual-gru"][1])
    model = loaded_checkpoint(arm_config, destination)
    assert int(model.optimizer.iterations.numpy()) == 2
