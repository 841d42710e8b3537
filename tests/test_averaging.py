"""The moving average of the weights (``--average-momentum``): its formula, its saved state, the
swap that lends it to validation, a run that scores and keeps it beside the raw weights, and the
average of whole checkpoints (tools/research/weight_soup.py)."""

import csv
import json
import shutil

import numpy as np
import pytest

from tests.helpers import TINY_CONFIG
from tests.test_validation import _folder, _one_error_line, _train_argv, _training_names, \
    _validation_names
from tfrnncomp.training.averaging import WeightAverage


@pytest.fixture(scope="module")
def config_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "config.json"
    path.write_text(json.dumps(TINY_CONFIG))
    return str(path)


@pytest.fixture(scope="module")
def model(config_path):
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.setup import TrainingConfig, build_model

    return build_model(load_config(config_path), TrainingConfig())


def _set_weights(model, fill):
    """Give every trainable weight the constant ``fill`` (plus its index, to tell them apart)."""
    for i, variable in enumerate(model.trainable_weights):
        variable.assign(np.full(variable.shape, fill + i, np.float32))


def _average(model, path, momentum=0.5, every=1):
    average = WeightAverage(str(path), momentum, every)
    average.set_model(model)
    average.on_train_begin()
    return average


def test_the_average_follows_the_exponential_moving_average_formula(tmp_path, model):
    _set_weights(model, 1.0)
    average = _average(model, tmp_path / "average.npz", momentum=0.5, every=2)
    _set_weights(model, 3.0)
    average.on_train_batch_end(0)  # step 1 of 2: not sampled
    assert average.updates == 0
    average.on_train_batch_end(1)  # step 2: avg = 0.25 * avg + 0.75 * w
    _set_weights(model, 5.0)
    average.on_train_batch_end(2)
    average.on_train_batch_end(3)
    first = 0.25 * 1.0 + 0.75 * 3.0
    for i, value in enumerate(average.average()):
        np.testing.assert_allclose(value, 0.25 * (first + i) + 0.75 * (5.0 + i), rtol=1e-6)
    assert average.updates == 2


def test_the_saved_average_is_taken_up_by_a_resumed_run_and_a_mismatch_starts_afresh(
        tmp_path, model, capsys):
    path = tmp_path / "backup" / "average.npz"
    _set_weights(model, 1.0)
    average = _average(model, path)
    _set_weights(model, 3.0)
    average.on_train_batch_end(0)
    average.on_epoch_end(0)
    _set_weights(model, 7.0)
    resumed = _average(model, path)
    assert resumed.updates == 1
    for saved, taken in zip(average.average(), resumed.average()):
        np.testing.assert_array_equal(saved, taken)
    with np.load(path) as state:  # a state of other shapes (another model config)
        other = dict(state)
    other["w0"] = np.zeros((1, 2), np.float32)
    np.savez(path, **other)
    capsys.readouterr()
    fresh = _average(model, path)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "starts afresh" in err[0] and str(path) in err[0]
    assert fresh.updates == 0
    for value, variable in zip(fresh.average(), model.trainable_weights):
        np.testing.assert_array_equal(value, np.asarray(variable))


def test_swapping_puts_the_average_in_and_restores_the_raw_weights_exactly(tmp_path, model):
    _set_weights(model, 1.0)
    average = _average(model, tmp_path / "average.npz", momentum=0.9)
    rng = np.random.default_rng(1)
    for variable in model.trainable_weights:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32))
    average.on_train_batch_end(0)
    raw = [np.array(v) for v in model.weights]
    averaged = {id(v): a for v, a in zip(model.trainable_weights, average.average())}
    with average.swapped():
        for variable, value in zip(model.weights, raw):
            np.testing.assert_array_equal(np.asarray(variable), averaged.get(id(variable), value))
    for variable, value in zip(model.weights, raw):
        np.testing.assert_array_equal(np.asarray(variable), value)


def test_a_run_scores_the_average_beside_the_raw_weights_and_keeps_its_best_loadable(
        tmp_path, config_path):
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training import validation
    from tfrnncomp.training.train import TrainingConfig, build_model, export_run, train

    data = _folder(tmp_path / "data", _validation_names(1) + _training_names(2))
    run = tmp_path / "run"
    training = TrainingConfig(data=str(data), batch_size=2, patch_size=32, steps_per_epoch=2,
                              epochs=1, validation_images=1, validation_crop=161, seed=1,
                              average_momentum=0.9, average_every=1)
    train(config_path, training, str(run), verbose=0)
    with np.load(run / "backup" / "average.npz") as state:
        saved = [state[f"w{i}"] for i in range(len(state["paths"]))]
        assert int(state["updates"]) == 2

    def trainable(weights_file):  # loaded as export-weights and refresh_model.sh load it
        model = build_model(load_config(config_path), TrainingConfig())
        model.load_weights(str(weights_file))
        return [np.asarray(v) for v in model.trainable_weights]

    best_average = trainable(run / "best-average.weights.h5")
    for kept, value in zip(best_average, saved):
        np.testing.assert_array_equal(kept, value)
    assert any(not np.array_equal(a, b)
               for a, b in zip(best_average, trainable(run / "best.weights.h5")))
    export = tmp_path / "export"
    export.mkdir()
    shutil.copy(config_path, export / "config.json")
    shutil.copy(run / "best-average.weights.h5", export / "latest.weights.h5")
    export_run(str(export), str(tmp_path / "model"))

    train(config_path, TrainingConfig(**{**training.to_dict(), "epochs": 2}), str(run),
          verbose=0)  # resumed: the average goes on from its saved state
    with np.load(run / "backup" / "average.npz") as state:
        assert int(state["updates"]) == 4
    with open(run / "validation-average.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert list(rows[0]) == validation.columns()
    assert list(validation.read_scores(str(run / "validation.csv"))) == [0, 1]


def test_the_train_command_refuses_a_momentum_of_one_in_one_line(tmp_path, capsys):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "data", _training_names(2), size=64)
    assert main(_train_argv(tmp_path, data, "--average-momentum", "1")) == 2
    assert "--average-momentum must be" in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_switching_the_average_on_in_a_run_from_before_it_existed_is_logged_to_phases_log(
        tmp_path):
    from tfrnncomp.training import run_dir, train

    old = train.TrainingConfig().to_dict()
    del old["average_momentum"], old["average_every"]
    (tmp_path / "training.json").write_text(json.dumps(old))
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 7}')
    run_dir._log_training_change(str(tmp_path), train.TrainingConfig(average_momentum=0.998))
    assert json.loads((tmp_path / "phases.log").read_text()) == {
        "epoch": 7, "from": {"average_momentum": 0.0}, "to": {"average_momentum": 0.998}}


def test_a_weight_soup_is_the_mix_of_its_checkpoints_and_refuses_to_overwrite_one(tmp_path):
    from tests.helpers import load_tool
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.train import TrainingConfig, build_model

    tool = load_tool("research/weight_soup.py")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    model = build_model(load_config(TINY_CONFIG), TrainingConfig())
    first = [w.copy() for w in model.get_weights()]
    paths = [str(tmp_path / "a.weights.h5"), str(tmp_path / "b.weights.h5")]
    model.save_weights(paths[0])
    second = [w + np.float32(1.0) for w in first]
    model.set_weights(second)
    model.save_weights(paths[1])
    soup = str(tmp_path / "soup.weights.h5")
    assert tool.main(paths + ["--config", str(config), "--out", soup, "--mix", "0.25,0.75"]) == 0
    model.load_weights(soup)
    for got, a, b in zip(model.get_weights(), first, second):
        np.testing.assert_allclose(got, 0.25 * a + 0.75 * b, rtol=1e-6, atol=1e-6)
    with pytest.raises(SystemExit, match="one of the inputs"):
        tool.main(paths + ["--config", str(config), "--out", paths[0]])
    with pytest.raises(SystemExit, match="sum to 1"):
        tool.main(paths + ["--config", str(config), "--out", soup, "--mix", "0.5,0.6"])
    with pytest.raises(SystemExit, match="2 checkpoints but 3 proportions"):
        tool.main(paths + ["--config", str(config), "--out", soup, "--mix", "0.5,0.25,0.25"])


def test_the_average_of_a_run_exports_as_a_checkpoint_and_a_mismatch_is_one_line(tmp_path,
                                                                                 config_path,
                                                                                 model):
    from tests.helpers import load_tool

    tool = load_tool("training/export_average.py")
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    shutil.copy(config_path, run / "config.json")
    _set_weights(model, 1.0)
    average = _average(model, run / "backup" / "average.npz")
    _set_weights(model, 3.0)
    average.on_train_batch_end(0)  # avg = 0.5 * 1 + 0.5 * 3 = 2 (+ index)
    average.on_epoch_end(0)
    model.save_weights(str(run / "backup" / "latest.weights.h5"))
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 8, "batch": 0}')
    out = tmp_path / "average.weights.h5"
    assert tool.main([str(run), "--out", str(out)]) == 0
    raw = [np.array(v) for v in model.weights]
    trainable = {id(v) for v in model.trainable_weights}
    model.load_weights(str(out))
    for i, variable in enumerate(model.trainable_weights):
        np.testing.assert_allclose(np.asarray(variable), 2.0 + i, rtol=1e-6)
    for variable, value in zip(model.weights, raw):
        if id(variable) not in trainable:
            np.testing.assert_array_equal(np.asarray(variable), value)
    with np.load(run / "backup" / "average.npz") as state:
        other = dict(state)
    other["w0"] = np.zeros((1, 2), np.float32)
    np.savez(run / "backup" / "average.npz", **other)
    with pytest.raises(SystemExit, match="does not match the model's weights"):
        tool.main([str(run), "--out", str(out)])
    with pytest.raises(SystemExit, match="the run's checkpoint"):
        tool.main([str(run), "--out", str(run / "backup" / "latest.weights.h5")])
