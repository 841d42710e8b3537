"""Whole-image validation: per-iteration quality of large crops through the codec's functions."""

import csv
import json
import os
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TINY_CONFIG, load_tool, smooth_image
from tfrnncomp.training import validation


def _validation_names(count, fraction=0.05):
    """File names that tfrnncomp.training.data.split_files puts in the validation split."""
    names, i = [], 0
    while len(names) < count:
        name = f"img{i:05d}.png"
        if zlib.crc32(name.encode()) / 2.0**32 < fraction:
            names.append(name)
        i += 1
    return names


def test_the_curve_measures_psnr_ms_ssim_residual_and_the_cosine_of_each_change():
    original = smooth_image(192, 192, seed=3)
    x = original.astype(np.float64)
    # iteration 1 moves halfway to the original (exactly along the residual), iteration 2 adds noise
    half = np.round(127.5 + (x - 127.5) / 2).astype(np.uint8)
    noise = np.clip(half.astype(int) + np.random.default_rng(0).integers(-20, 21, x.shape),
                    0, 255).astype(np.uint8)
    curve = validation.image_curve(original, np.stack([half, noise, original]))
    assert curve["cosine"][0] > 0.99
    assert abs(curve["cosine"][1]) < 0.2
    assert curve["psnr"][1] < curve["psnr"][0] and curve["psnr"][2] == float("inf")
    assert curve["ms_ssim"][2] == pytest.approx(1.0)
    assert curve["residual"][0] == pytest.approx(np.mean(np.abs(x - half)))
    assert curve["residual"][2] == 0.0


def test_the_model_s_own_forward_pass_measures_what_the_codec_s_functions_measure(tiny_model):
    from tfrnncomp.model.network import RNNCompressionModel
    from tfrnncomp.runtime.graph import CodecFunctions

    model = RNNCompressionModel(dict(TINY_CONFIG, train_iterations=4)).build_for_inference()
    model.set_weights(tiny_model.get_weights())
    images = [smooth_image(192, 224, seed=s) for s in (1, 2)]
    through_codec = validation.iteration_curve(CodecFunctions(model), images, 4)
    forward = validation.model_curve(model, images)
    # The forward pass runs both images as one batch, the codec one at a time: float32 sums in
    # another order can put a reconstruction on the other side of a .5 and round one value to its
    # neighbouring uint8. One such value moves mean |residual| by 1 / (2 * 192 * 224 * 3) = 3.9e-6;
    # the tolerance admits five of them (rounding left out, or an iteration off, moves far more).
    tolerance = 5 / (2 * 192 * 224 * 3)
    for field in validation.FIELDS:
        np.testing.assert_allclose(forward[field], through_codec[field], rtol=0, atol=tolerance,
                                   err_msg=field)
    assert validation.score(forward) == pytest.approx(validation.score(through_codec),
                                                      abs=tolerance)
    first_two = validation.model_curve(model, images, iterations=2)
    assert first_two["psnr"] == pytest.approx(forward["psnr"][:2])


def test_validation_crops_are_centre_crops_of_the_validation_split_only(tmp_path):
    val = _validation_names(3)
    for i, name in enumerate(val):
        Image.fromarray(smooth_image(80 + 10 * i, 100, seed=i)).save(tmp_path / name)
    Image.fromarray(smooth_image(100, 100, seed=9)).save(tmp_path / "train_only.png")
    Image.fromarray(smooth_image(40, 40, seed=9)).save(tmp_path / _validation_names(4)[3])
    names, crops = validation.validation_crops(str(tmp_path), size=64, count=8)
    assert names == val  # the small one is skipped, the training image never used
    first = np.asarray(Image.open(tmp_path / val[0]))
    np.testing.assert_array_equal(crops[0], first[8:72, 18:82])
    assert all(c.shape == (64, 64, 3) for c in crops)


def test_spread_picks_evenly_from_first_to_last():
    assert validation.spread(range(10), 3) == [0, 4, 9]  # round(4.5) = 4
    assert validation.spread(range(3), 8) == [0, 1, 2]


def test_the_train_command_logs_whole_image_validation_and_keeps_the_best_weights(tmp_path):
    from tfrnncomp.apps.cli import main
    from tfrnncomp.model.network import RNNCompressionModel

    data = tmp_path / "images"
    data.mkdir()
    for i, name in enumerate(_validation_names(2) + ["a.png", "b.png"]):
        Image.fromarray(smooth_image(200, 200, seed=i)).save(data / name)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--config", str(config), "--out", str(run),
            "--patch-size", "64", "--batch-size", "2", "--steps-per-epoch", "2",
            "--epochs", "2", "--validation-crop", "192", "--validation-images", "2",
            "--seed", "1"]
    assert main(args) == 0
    training = json.loads((run / "training.json").read_text())
    assert (training["patch_size"], training["batch_size"]) == (64, 2)
    with open(run / "validation.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert set(validation.columns()) == set(rows[0])
    for row in rows:
        psnr = [float(row[f"psnr_{k}"]) for k in validation.LOGGED_ITERATIONS]
        assert all(5.0 < p < 60.0 for p in psnr)
        assert all(0.0 <= float(row[f"ms_ssim_{k}"]) <= 1.0 for k in validation.LOGGED_ITERATIONS)
    # the best weights are those of the best-scoring epoch, loadable into the model
    best = max(rows, key=lambda r: float(r["score"]))
    model = RNNCompressionModel(TINY_CONFIG).build_for_inference()
    model.load_weights(str(run / "best.weights.h5"))
    names, crops = validation.validation_crops(str(data), 192, 2)
    from tfrnncomp.runtime.graph import CodecFunctions

    curve = validation.iteration_curve(CodecFunctions(model), crops, 16)
    assert validation.score(curve) == pytest.approx(float(best["score"]), abs=1e-3)
    assert not [f for f in os.listdir(run) if "tmp" in f]


def test_a_resumed_run_only_replaces_the_best_weights_when_it_beats_every_earlier_epoch(
        tmp_path, tiny_model):
    path = tmp_path / "validation.csv"
    best = tmp_path / "best.weights.h5"
    callback = validation.WholeImageValidation([], str(path), str(best))
    callback.set_model(tiny_model)
    scores = iter([10.0, 9.0, 11.0])
    curve = {f: [0.5] * 16 for f in validation.FIELDS}
    callback.evaluate = lambda: (next(scores), curve)
    callback.on_epoch_end(0)
    first = best.stat().st_mtime_ns
    fresh = validation.WholeImageValidation([], str(path), str(best))  # a restarted run
    fresh.set_model(tiny_model)
    fresh.evaluate = callback.evaluate
    fresh.on_epoch_end(1)
    assert best.stat().st_mtime_ns == first
    fresh.on_epoch_end(2)
    assert validation.read_scores(str(path)) == {0: 10.0, 1: 9.0, 2: 11.0}
    assert best.stat().st_mtime_ns != first


def test_validation_every_n_epochs_scores_the_epochs_counted_from_the_run_s_first(
        tmp_path, tiny_model):
    path = tmp_path / "validation.csv"
    callback = validation.WholeImageValidation([], str(path), every=3)
    callback.set_model(tiny_model)
    scores = iter([10.0, 11.0, 12.0])
    curve = {f: [0.5] * 16 for f in validation.FIELDS}
    callback.evaluate = lambda: (next(scores), curve)
    logs = {}
    for epoch in range(4, 12):  # a run resumed at epoch 4 (0-based): its 3rd, 6th, 9th, ...
        callback.on_epoch_end(epoch, logs)
    assert validation.read_scores(str(path)) == {5: 10.0, 8: 11.0, 11: 12.0}
    assert logs["val_whole_score"] == 12.0


def test_a_model_whose_quality_stops_rising_codes_no_further_by_default(tmp_path, tiny_model):
    from PIL import Image as PILImage

    import tfrnncomp.pillow  # noqa: F401  (registers TRC)
    from tfrnncomp.model import zoo
    from tfrnncomp.codec import Codec
    from tfrnncomp.model.config import ModelConfig, load_config
    from tfrnncomp.errors import ConfigError

    with pytest.raises(ConfigError, match="useful_iterations"):
        ModelConfig(useful_iterations=17)
    assert ModelConfig().default_iterations == 8
    assert ModelConfig(useful_iterations=5).default_iterations == 5
    directory = zoo.save_model(tiny_model, str(tmp_path / "model"))
    tool = load_tool("research/iteration_table.py")
    tool.set_useful(directory, 3)
    assert load_config(os.path.join(directory, "config.json")).useful_iterations == 3
    codec = Codec(directory)
    image = smooth_image(48, 40)
    assert codec.read(codec.compress(image)).header.iterations == 3
    PILImage.fromarray(image).save(tmp_path / "q.trc", quality=100, model=directory)
    with PILImage.open(tmp_path / "q.trc") as opened:
        assert opened.info["iterations"] == 3
    tool.set_useful(directory, 16)  # every iteration helps: no cap
    assert load_config(os.path.join(directory, "config.json")).useful_iterations is None


def test_the_iteration_table_reports_falls_and_useful_iterations(tmp_path, tiny_model_dir, capsys):
    tool = load_tool("research/iteration_table.py")
    curve = {"psnr": [20, 22, 21.9, 23], "ms_ssim": [0.8, 0.9, 0.95, 0.94]}
    assert tool.falls(curve) == [3, 4]
    assert tool.useful_iterations(curve) == 2
    assert tool.useful_iterations({"psnr": [1, 2], "ms_ssim": [0.1, 0.2]}) == 2
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        Image.fromarray(smooth_image(176, 192, seed=i)).save(images / f"{i}.png")
    out = tmp_path / "out"
    assert tool.main(["--model", tiny_model_dir, "--data", str(images), "--iterations", "3",
                      "--out", str(out), "--name", "t"]) == 0
    result = json.loads((out / "t.json").read_text())
    assert len(result["curve"]["psnr"]) == 3 and result["images"] == ["0.png", "1.png"]
    assert result["useful_iterations"] == tool.useful_iterations(result["curve"])
    assert "| 3 | 0.375 |" in (out / "t.md").read_text()
    assert tool.main(["--data", str(tmp_path / "missing")]) == 0
    assert "skipped" in capsys.readouterr().out


def test_bf16_training_keeps_float32_variables_and_validation_runs_a_float32_copy(tiny_model):
    import keras

    from tfrnncomp.model.config import load_config
    from tfrnncomp.errors import ConfigError
    from tfrnncomp.training.train import TrainingConfig, build_model

    before = keras.config.dtype_policy().name
    model = build_model(load_config(TINY_CONFIG), TrainingConfig(precision="mixed_bfloat16"))
    assert keras.config.dtype_policy().name == before  # the policy is restored
    assert model.encoder_conv.compute_dtype == "bfloat16"
    assert {w.dtype for w in model.weights} == {"float32"}
    callback = validation.WholeImageValidation([], os.devnull)
    callback.set_model(model)
    functions = callback._codec_functions()
    assert functions.model.encoder_conv.compute_dtype == "float32"
    for copy, source in zip(functions.model.weights, model.weights):
        np.testing.assert_array_equal(copy.numpy(), source.numpy())
    with pytest.raises(ConfigError, match="precision"):
        build_model(load_config(TINY_CONFIG), TrainingConfig(precision="float16"))


def _training_folder(root, size=256):
    root.mkdir()
    for i, name in enumerate(_validation_names(1) + ["a.png", "b.png"]):
        Image.fromarray(smooth_image(size, size + 16, seed=i)).save(root / name)
    return root


def test_the_train_step_benchmark_times_each_variant_in_its_own_process(tmp_path):
    tool = load_tool("bench/bench_train_step.py")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    data = _training_folder(tmp_path / "data", 64)
    out = tmp_path / "steps.json"
    assert tool.main(["--config", str(config), "--data", str(data), "--patch-size", "32",
                      "--batch-size", "2", "--steps", "2", "--warmup", "1",
                      "--variants", "tf,tf-bf16", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["variant"] for r in rows] == ["tf", "tf-bf16"]
    assert all(r["median_s"] > 0 and np.isfinite(r["first_loss"]) for r in rows)
    assert rows[0]["first_loss"] == pytest.approx(rows[1]["first_loss"], rel=0.05)
    assert rows[0]["speedup_vs_tf"] == 1.0


def test_training_arms_warm_start_from_one_checkpoint_and_stop_on_cpu_time(tmp_path):
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.train import TrainingConfig, build_model

    tool = load_tool("research/training_arms.py")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    model = build_model(load_config(TINY_CONFIG), TrainingConfig())
    checkpoint = tmp_path / "ckpt.weights.h5"
    model.save_weights(str(checkpoint))
    (tmp_path / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    data = _training_folder(tmp_path / "data")
    out = tmp_path / "arms"
    args = ["--checkpoint", str(checkpoint), "--config", str(config), "--data", str(data),
            "--cpu-minutes", "0.01", "--arms", "control,increasing,residual-gru,patch-128", "--runs",
            str(tmp_path / "runs"), "--out", str(out)]
    assert tool.main(args) == 0
    control = json.loads((out / "control.json").read_text())
    increasing = json.loads((out / "increasing.json").read_text())
    assert control["steps"] >= 1 and increasing["config"] == {"loss_weighting": "increasing"}
    assert 5 < control["psnr_16"] < 60 and control["cpu_minutes"] >= 0.01
    # the rate decays with the optimizer's step from the checkpoint's (here 0: the given rate)
    start, end = control["effective_learning_rate"]
    assert start == pytest.approx(3.125e-5) and 0 < end < start
    assert "| increasing |" in (out / "arms.md").read_text()
    patch = json.loads((tmp_path / "runs" / "patch-128" / "training.json").read_text())
    assert (patch["patch_size"], patch["batch_size"]) == (128, 2)
    # the arms resumed the checkpoint's epoch: their logs start after it
    assert (tmp_path / "runs" / "control" / "log.csv").read_text().splitlines()[1].startswith("3,")
    # the residual-GRU arm trained its own model from the converted checkpoint
    residual = tmp_path / "runs" / "residual-gru"
    assert load_config(str(residual / "config.json")).decoder_cell_type == "residual_gru"
    assert (residual / "log.csv").read_text().splitlines()[1].startswith("3,")
    assert tool.main(args) == 0  # a rerun reuses the results
    assert json.loads((out / "control.json").read_text()) == control
    constant = tmp_path / "constant"
    assert tool.main([*args[:-4], "--runs", str(tmp_path / "runs-constant"), "--out",
                      str(constant), "--arms", "control", "--decay-rate", "1"]) == 0
    start, end = json.loads((constant / "control.json").read_text())["effective_learning_rate"]
    assert start == end == pytest.approx(3.125e-5)


def _training_names(count, fraction=0.05):
    """File names that tfrnncomp.training.data.split_files keeps in the training split."""
    names, i = [], 0
    while len(names) < count:
        name = f"photo{i:05d}.png"
        if zlib.crc32(name.encode()) / 2.0**32 >= fraction:
            names.append(name)
        i += 1
    return names


def _folder(root, names, size=176):
    root.mkdir()
    for i, name in enumerate(names):
        Image.fromarray(smooth_image(size, size, seed=i)).save(root / name)
    return root


def _train_argv(tmp_path, data, *extra):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(TINY_CONFIG))
    return ["train", "--data", str(data), "--config", str(config), "--out",
            str(tmp_path / "run"), "--patch-size", "32", "--batch-size", "2",
            "--steps-per-epoch", "1", "--epochs", "1", "--validation-crop", "161",
            "--seed", "1", *extra]


def _one_error_line(capsys):
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("tfrnncomp: error: "), err
    return err[0]


def test_an_empty_validation_split_is_refused_with_advice_and_nothing_is_written(
        tmp_path, capsys):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "ten", _training_names(10), size=64)
    assert main(_train_argv(tmp_path, data)) == 2
    line = _one_error_line(capsys)
    assert "validation split" in line and "none of its 10 images" in line
    for advice in ("--validation-fraction", "--validation-data", "--validation-images 0"):
        assert advice in line
    assert main(_train_argv(tmp_path, data, "--validation-images", "0",
                            "--validation-steps", "1")) == 2
    assert "--validation-steps 0" in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("extra, message", [
    (("--validation-fraction", "1.5"), "--validation-fraction must be"),
    (("--validate-every", "0"), "--validate-every must be at least 1"),
    ((), "training split"),
    (("--validation-data", "missing"), "not found"),
    (("--validation-data", "DATA", "--validation-crop", "512"), "--validation-crop"),
], ids=["fraction out of range", "validation never", "no training images left",
        "missing validation folder", "validation images smaller than the crop"])
def test_a_run_whose_inputs_are_invalid_writes_nothing_into_its_run_directory(
        tmp_path, capsys, extra, message):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "data", _validation_names(2), size=64)  # all held out
    extra = [str(data) if arg == "DATA" else arg for arg in extra]
    assert main(_train_argv(tmp_path, data, *extra)) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_validation_fraction_holds_out_part_of_a_small_folder_and_the_run_records_it(
        tmp_path):
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "ten", _training_names(10))
    fraction = data_lib.smallest_fraction(data_lib.list_images(data), root=str(data))
    assert fraction is not None and fraction > 0.05
    assert main(_train_argv(tmp_path, data, "--validation-fraction", str(fraction),
                            "--validation-images", "1", "--validation-steps", "1")) == 0
    run = tmp_path / "run"
    assert json.loads((run / "training.json").read_text())["validation_fraction"] == fraction
    assert "val_loss" in (run / "log.csv").read_text().splitlines()[0]
    assert len(validation.read_scores(str(run / "validation.csv"))) == 1


def test_validation_data_validates_on_its_own_folder_all_of_data_trains_and_the_run_resumes(
        tmp_path):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "data", _validation_names(2))  # all held out by the split
    held_out = _folder(tmp_path / "held_out", ["only.png"])
    argv = _train_argv(tmp_path, data, "--validation-data", str(held_out),
                       "--validation-images", "1", "--validation-steps", "1")
    assert main(argv) == 0
    run = tmp_path / "run"
    training = json.loads((run / "training.json").read_text())
    assert training["validation_data"] == str(held_out)
    # a run recorded before these settings existed resumes with their defaults' behaviour
    del training["validation_data"], training["validation_fraction"]
    (run / "training.json").write_text(json.dumps(training))
    assert main([*argv, "--epochs", "2"]) == 0
    with open(run / "log.csv", newline="") as handle:
        assert [int(r["epoch"]) for r in csv.DictReader(handle)] == [0, 1]
    assert len(validation.read_scores(str(run / "validation.csv"))) == 2
    assert not (run / "phases.log").exists()


def test_rerunning_a_finished_run_says_it_already_finished_and_changes_nothing(
        tmp_path, capsys):
    from tfrnncomp.apps.cli import main

    data = _folder(tmp_path / "data", _training_names(2), size=64)
    argv = _train_argv(tmp_path, data, "--validation-images", "0")
    assert main(argv) == 0
    run = tmp_path / "run"
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*")}
    capsys.readouterr()
    assert main(argv) == 0
    assert "already finished at epoch 1; pass --epochs to continue" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*")} == before


def test_every_training_arm_names_only_settings_the_config_and_the_trainer_accept():
    import dataclasses

    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.train import TrainingConfig

    tool = load_tool("research/training_arms.py")
    fields = {f.name for f in dataclasses.fields(TrainingConfig)} | {"learning_rate_factor"}
    for arm, (training, config_changes, what) in tool.ARMS.items():
        assert set(training) <= fields, arm
        changed = load_config(TINY_CONFIG).replace(**config_changes)
        for key, value in config_changes.items():
            assert getattr(changed, key) == value, arm
        assert what, arm
