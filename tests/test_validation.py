"""Whole-image validation: per-iteration quality of large crops through the codec's functions."""

import csv
import json
import os
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY_CONFIG, smooth_image
from tfrnncomp import validation


def _validation_names(count, fraction=0.05):
    """File names that tfrnncomp.data.split_files puts in the validation split."""
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
    from tfrnncomp.cli import main
    from tfrnncomp.model import RNNCompressionModel

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
    from tfrnncomp.functions import CodecFunctions

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
