"""A training checkpoint as the start of a wider model (:mod:`tfrnncomp.training.widen`)."""

import json
import shutil

import numpy as np
import pytest

from tests.helpers import TINY_CONFIG, load_tool, loaded_checkpoint, tiny_training_checkpoint
from tfrnncomp.errors import ConfigError
from tfrnncomp.model.config import load_config
from tfrnncomp.training.setup import TrainingConfig
from tfrnncomp.training.widen import widen_checkpoint, widen_run, widened_config

#: twice the tiny model's width (its encoder convolution stays at the minimum of 8 channels)
WIDER = 0.125


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_training_checkpoint(tmp_path_factory.mktemp("narrow_run"))


def _widened(checkpoint, tmp_path, noise):
    destination = tmp_path / "wide.weights.h5"
    config = widen_checkpoint(TINY_CONFIG, str(checkpoint), str(destination), WIDER, noise=noise)
    narrow = loaded_checkpoint(load_config(TINY_CONFIG), checkpoint)
    return narrow, loaded_checkpoint(config, destination)


def test_a_widened_checkpoint_without_noise_codes_and_reconstructs_as_the_narrow_one(
        checkpoint, tmp_path):
    narrow, wide = _widened(checkpoint, tmp_path, noise=0.0)
    assert wide.config.width == WIDER
    assert wide.count_params() > 1.5 * narrow.count_params()
    assert [c.units for c in wide.decoder_rnns] == [2 * c.units for c in narrow.decoder_rnns]
    probe = load_tool("training/device_run.py").probe
    on_narrow, on_wide = probe(narrow, iterations=8), probe(wide, iterations=8)
    np.testing.assert_array_equal(on_wide["codes"], on_narrow["codes"])
    np.testing.assert_allclose(on_wide["reconstructions"], on_narrow["reconstructions"],
                               rtol=0, atol=1e-5)


def test_the_widening_noise_breaks_the_copies_symmetry_but_keeps_the_reconstructions_close(
        checkpoint, tmp_path):
    narrow, wide = _widened(checkpoint, tmp_path, noise=0.01)
    kernel = wide.encoder_rnns[1].input_conv.kernel.numpy()
    units = narrow.encoder_rnns[1].units
    assert not np.allclose(kernel[..., :units], kernel[..., units:2 * units])
    image = load_tool("training/device_run.py").probe(narrow, iterations=1)["image"]
    difference = np.abs(np.asarray(wide(image, iterations=4)) - np.asarray(narrow(image,
                                                                                   iterations=4)))
    assert 0 < difference.max() < 2e-3


def test_the_widening_copies_adam_moments_and_keeps_the_iteration_count(checkpoint, tmp_path):
    narrow, wide = _widened(checkpoint, tmp_path, noise=0.01)
    assert int(wide.optimizer.iterations.numpy()) == int(narrow.optimizer.iterations.numpy()) == 2
    velocity, = [(old.numpy(), new.numpy()) for old, new in
                 zip(narrow.optimizer.variables, wide.optimizer.variables)
                 if new.path.endswith("decoder_rnn_1_input_conv_bias_velocity")]
    old, new = velocity
    assert old.any()
    # unit c of sub-pixel group p is copied to units c and c + (old group size) of new group p
    group, wide_group = narrow.decoder_rnns[0].units // 4, wide.decoder_rnns[0].units // 4
    np.testing.assert_array_equal(new[:group], old[:group])
    np.testing.assert_array_equal(new[group:2 * group], old[:group])
    np.testing.assert_array_equal(new[wide_group:wide_group + group], old[group:2 * group])


def test_only_gru_and_lstm_models_without_gdn_widen_and_never_narrower():
    with pytest.raises(ConfigError, match="can be widened"):
        widened_config(dict(TINY_CONFIG, decoder_cell="associative_lstm"), WIDER)
    with pytest.raises(ConfigError, match="can be widened"):
        widened_config(dict(TINY_CONFIG, gdn=True), WIDER)
    with pytest.raises(ConfigError, match="at least the old"):
        widened_config(TINY_CONFIG, 0.03)


def test_the_wider_arm_starts_from_a_widened_checkpoint_its_model_loads(checkpoint, tmp_path):
    tool = load_tool("research/training_arms.py")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    destination = tmp_path / "backup.weights.h5"
    tool.WARM_STARTS["width-0.5"](load_config(str(config)), str(checkpoint), str(destination))
    arm_config = load_config(str(config)).replace(**tool.ARMS["width-0.5"][1])
    assert arm_config.width == 0.5
    assert int(loaded_checkpoint(arm_config, destination).optimizer.iterations.numpy()) == 2


def test_a_widened_run_resumes_as_the_wider_model_with_its_history(checkpoint, tmp_path):
    from tfrnncomp.training.train import train

    run = tmp_path / "run"
    shutil.copytree(checkpoint.parent.parent, run)
    tool = load_tool("training/widen.py")
    assert tool.main([str(run), "--width", str(WIDER), "--name", "tiny-wide"]) == 0
    config = load_config(str(run / "config.json"))
    assert (config.name, config.width) == ("tiny-wide", WIDER)
    phase = json.loads((run / "phases.log").read_text().splitlines()[-1])
    assert phase["from"]["width"] == TINY_CONFIG["width"] and phase["to"]["width"] == WIDER
    assert phase["epoch"] == json.loads(
        (run / "backup" / "training_metadata.json").read_text())["epoch"]
    training = TrainingConfig(data=str(checkpoint.parent.parent.parent / "data"), patch_size=32,
                              batch_size=2, steps_per_epoch=2, epochs=2, validation_images=0,
                              validation_steps=0, seed=1)
    model = train(config, training, str(run), verbose=0).model
    assert int(model.optimizer.iterations.numpy()) == 4  # 2 steps before, 2 after the widening
    assert model.encoder_rnns[0].units == 2 * load_config(TINY_CONFIG).scaled(256)
    assert len((run / "log.csv").read_text().splitlines()) == 3  # header, epoch 1, epoch 2


def test_widening_a_folder_without_a_run_fails_with_one_line(tmp_path, capsys):
    assert load_tool("training/widen.py").main([str(tmp_path), "--width", "0.5"]) == 2
    assert "is not a training run" in capsys.readouterr().err


def test_the_tool_widens_one_checkpoint_and_refuses_to_write_over_it(checkpoint, tmp_path, capsys):
    tool = load_tool("training/widen.py")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    out = tmp_path / "wide.weights.h5"
    assert tool.main(["--checkpoint", str(checkpoint), "--config", str(config), "--width",
                      str(WIDER), "--noise", "0", "--out", str(out)]) == 0
    assert loaded_checkpoint(widened_config(TINY_CONFIG, WIDER), out).config.width == WIDER
    before = checkpoint.read_bytes()
    assert tool.main(["--checkpoint", str(checkpoint), "--config", str(config), "--width",
                      str(WIDER), "--out", str(checkpoint)]) == 2
    assert "is the input checkpoint" in capsys.readouterr().err
    assert checkpoint.read_bytes() == before
