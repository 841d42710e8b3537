"""The training run's learning-rate schedule: a step size that decays by ``--decay-rate`` every
``--decay-steps`` optimizer steps, constant with a rate of 1."""

import json

import keras
import pytest

from tests.test_validation import _folder, _one_error_line, _train_argv, _training_names


def _rate_at(step, **settings):
    from tfrnncomp.training.setup import TrainingConfig, make_optimizer

    optimizer = make_optimizer(TrainingConfig(**settings))
    optimizer.build([keras.Variable(0.0)])
    optimizer.iterations.assign(step)
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def test_the_rate_halves_every_decay_steps_by_default_and_stays_put_with_a_rate_of_one():
    assert _rate_at(40000, learning_rate=4e-6, decay_steps=20000) == pytest.approx(1e-6)
    assert _rate_at(98326, learning_rate=4e-6, decay_steps=20000, decay_rate=1.0) == \
        pytest.approx(4e-6)
    assert _rate_at(20000, learning_rate=4e-6, decay_steps=20000, decay_rate=0.9) == \
        pytest.approx(3.6e-6)


def test_the_train_command_passes_the_decay_rate_to_the_run(tmp_path):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "data", _training_names(3), size=64)
    assert main(_train_argv(tmp_path, data, "--decay-rate", "1", "--validation-images", "0")) == 0
    assert json.loads((tmp_path / "run" / "training.json").read_text())["decay_rate"] == 1.0


@pytest.mark.parametrize("rate", ["0", "1.5", "-0.5"])
def test_the_train_command_refuses_a_decay_rate_outside_zero_to_one_in_one_line(
        tmp_path, capsys, rate):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "data", _training_names(2), size=64)
    assert main(_train_argv(tmp_path, data, "--decay-rate", rate)) == 2
    assert "--decay-rate must be above 0 and at most 1" in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_change_of_decay_rate_on_resumption_is_logged_to_phases_log(tmp_path):
    from tfrnncomp.training import run_dir, train

    (tmp_path / "training.json").write_text(json.dumps(train.TrainingConfig().to_dict()))
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 981}')
    run_dir._log_training_change(str(tmp_path), train.TrainingConfig(learning_rate=4e-6,
                                                                    decay_rate=1.0))
    assert json.loads((tmp_path / "phases.log").read_text()) == {
        "epoch": 981, "from": {"learning_rate": 5e-4, "decay_rate": 0.5},
        "to": {"learning_rate": 4e-6, "decay_rate": 1.0}}
