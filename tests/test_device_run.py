"""Training off TensorFlow: the accelerator run's preparation, a JAX run's checkpoint in TensorFlow.

The JAX test trains the tiny model 3 steps with ``tools/training/device_run.py`` under
``KERAS_BACKEND=jax`` on the CPU (a subprocess in which TensorFlow cannot be imported), then
loads its checkpoint into the TensorFlow model, which must code a fixed image to the same codes
and reconstructions.
"""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from PIL import Image

from tests.helpers import (HERE, TINY_CONFIG, WITHOUT_TENSORFLOW, assert_codes_as_on_tensorflow,
                           jax_environment, load_tool, random_photos, smooth_image)

CHECKPOINT = os.path.join(HERE, "..", "tools", "training", "default", "checkpoint.weights.h5")
DEVICE_RUN = os.path.join(HERE, "..", "tools", "training", "device_run.py")


def _parts():
    return load_tool("training/checkpoint_parts.py")


def _datasets(path):
    with h5py.File(path, "r") as handle:
        names = []
        handle.visit(names.append)
        return {n: handle[n][()] for n in names if isinstance(handle[n], h5py.Dataset)}


def test_a_split_checkpoint_has_parts_under_16_mib_and_joins_to_the_same_file(tmp_path):
    parts = _parts()
    model, optimizer = tmp_path / "model.weights.h5", tmp_path / "optimizer.weights.h5"
    parts.split(CHECKPOINT, model, optimizer)
    assert os.path.getsize(model) < 16 * 2**20 and os.path.getsize(optimizer) < 16 * 2**20
    assert "optimizer" not in _datasets(model) and all(
        n.startswith("optimizer/") for n in _datasets(optimizer))
    joined = tmp_path / "joined.weights.h5"
    parts.join(model, optimizer, joined)
    original, again = _datasets(CHECKPOINT), _datasets(joined)
    assert sorted(original) == sorted(again)
    assert all(np.array_equal(original[n], again[n]) for n in original)
    with pytest.raises(SystemExit, match="model part first"):
        parts.join(optimizer, model, tmp_path / "wrong.weights.h5")


def test_device_prep_crops_only_the_training_split_and_stops_at_its_budget(tmp_path):
    prep = load_tool("training/device_prep.py")
    from tfrnncomp.training.image_files import list_images, split_files

    data = random_photos(tmp_path / "data", n=20, size=(50, 300))
    train = split_files(list_images(data), "train", 0.3, root=data)
    assert 0 < len(train) < 20
    written = prep.crop_photos(data, str(tmp_path / "photos"), crop=32, quality=90,
                               validation_fraction=0.3)
    assert len(written) == len(train)
    assert all(Image.open(p).size == (32, 32) for p in written)
    small = prep.crop_photos(data, str(tmp_path / "small"), crop=32, max_mib=3000 / 2**20,
                             validation_fraction=0.3)
    assert 0 < len(small) < len(train) and len(os.listdir(tmp_path / "small")) == len(small)
    assert sum(os.path.getsize(p) for p in small) <= 3000


def _validation_folder(folder, count=2, size=192):
    folder.mkdir()
    images = [smooth_image(size, size, seed=s) for s in range(count)]
    for i, image in enumerate(images):
        Image.fromarray(image).save(folder / f"{i:02d}.png")
    return images


def test_device_prep_writes_the_cpu_run_s_validation_crops(tmp_path):
    prep = load_tool("training/device_prep.py")
    from tfrnncomp.training.validation import validation_crops

    data = random_photos(tmp_path / "data", n=30, size=(80, 120))
    names, crops = validation_crops(data, 64, 3, validation_fraction=0.3)
    paths = prep.write_validation_crops(data, str(tmp_path / "validation"), 64, 3, 0.3)
    assert len(paths) == len(crops) > 0 and sorted(paths) == paths
    for path, crop in zip(paths, crops):
        np.testing.assert_array_equal(np.asarray(Image.open(path)), crop)


def test_a_checkpoint_trained_on_jax_loads_into_tensorflow_and_codes_the_same(tmp_path):
    """The run is scored on the device as it goes and keeps its best checkpoint; TensorFlow's
    codec scores that checkpoint as the device did."""
    from tfrnncomp.model.config import load_config
    from tfrnncomp.runtime.graph import CodecFunctions
    from tfrnncomp.training import validation
    from tfrnncomp.training.setup import TrainingConfig, build_model

    parts = _parts()
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY_CONFIG))
    crops = _validation_folder(tmp_path / "validation")
    out = tmp_path / "out"
    env = jax_environment()
    subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, DEVICE_RUN,
                    "--data", random_photos(tmp_path / "photos"), "--out", str(out),
                    "--config", str(config), "--weights", "", "--steps", "3", "--batch-size", "4",
                    "--patch-size", "32", "--epoch", "7", "--probe", "--save-every", "0",
                    "--learning-rate", "1e-3", "--validation", str(tmp_path / "validation")],
                   env=env, check=True, timeout=900, capture_output=True)
    summary = json.loads((out / "device_run.json").read_text())
    scorings = summary["validation"]
    assert [v["step"] for v in scorings] == [0, 1, 2, 3] and summary["steps_run"] == 3
    best = max(scorings[1:], key=lambda v: v["score"])
    assert summary["backend"] == "jax" and summary["steps"] == summary["optimizer_step"] == best["step"]
    assert summary["beat_start"] == (best["score"] > scorings[0]["score"])
    assert json.loads((out / "training_metadata.json").read_text()) == {"epoch": 7, "batch": 0}

    joined = tmp_path / "checkpoint.weights.h5"
    parts.join(out / "model.weights.h5", out / "optimizer.weights.h5", joined)
    assert_codes_as_on_tensorflow(config, joined, out / "probe.npz", optimizer_step=best["step"])
    model = build_model(load_config(config), TrainingConfig())
    model.load_weights(joined)
    curve = validation.iteration_curve(CodecFunctions(model), crops, 2)
    assert validation.score(curve) == pytest.approx(best["score"], abs=2e-4)
    scored = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, DEVICE_RUN, "--data", "-",
                             "--config", str(config), "--weights", str(joined), "--score-only",
                             "--validation", str(tmp_path / "validation")],
                            env=env, check=True, timeout=900, capture_output=True, text=True)
    assert json.loads(scored.stdout.strip().splitlines()[-1])["score"] == best["score"]


LOOP_CHECK = """
import json, sys
import keras, numpy as np
from tfrnncomp.model.network import RNNCompressionModel
out = {}
for cell, mode in (("gru", "additive"), ("lstm", "residual_scaling")):
    model = RNNCompressionModel({"name": "t", "cell": cell, "width": 0.0625, "train_iterations": 3,
                                 "reconstruction": mode}).build_for_inference()
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (2, 48, 64, 3)).astype("float32")
    looped = model.looped_iterations(keras.ops.convert_to_tensor(x), 3, training=False)
    unrolled = keras.ops.convert_to_numpy(model(x))
    model.train_loop = "scan"
    trained = keras.ops.convert_to_numpy(model(x, training=True))
    scanned = keras.ops.convert_to_numpy(model(x))  # inference through the scan too
    difference = max(float(np.abs(keras.ops.convert_to_numpy(looped) - unrolled).max()),
                     float(np.abs(scanned - unrolled).max()))
    out[mode] = [difference, list(trained.shape), bool(np.isfinite(trained).all())]
model = RNNCompressionModel({"name": "t", "cell": "gru", "width": 0.0625, "train_iterations": 3,
                             "binarizer_training": "sign"}).build_for_inference()
unrolled = keras.ops.convert_to_numpy(model(x, training=True))  # signs: no noise either way
model.train_loop = "scan"
seed = keras.ops.convert_to_numpy(model.binarizer.seed_generator.state).copy()
trained = keras.ops.convert_to_numpy(model(x, training=True))
drawn = not np.array_equal(seed, keras.ops.convert_to_numpy(model.binarizer.seed_generator.state))
out["sign"] = [float(np.abs(trained - unrolled).max()), list(trained.shape),
               bool(np.isfinite(trained).all())]
from tfrnncomp.training.setup import TrainingConfig, build_model
model = build_model(model.config, TrainingConfig())
model.train_loop = "scan"
loss = float(model.train_on_batch(x, return_dict=True)["loss"])
print(json.dumps({"loops": out, "sign_noise_drawn": drawn, "trained_loss": loss}))
"""


def test_the_loop_jax_trains_through_gives_the_unrolled_iterations(tmp_path):
    """Inference through ``looped_iterations`` equals ``call``; a training step runs through it."""
    env = jax_environment()
    script = tmp_path / "loop_check.py"
    script.write_text(LOOP_CHECK)
    done = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(script)], env=env,
                          check=True, timeout=900, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    for difference, shape, finite in result["loops"].values():
        assert difference < 1e-5 and shape == [3, 2, 48, 64, 3] and finite
    assert not result["sign_noise_drawn"]  # a model trained on signs draws no binarizer noise
    assert np.isfinite(result["trained_loss"]) and result["trained_loss"] > 0


def test_device_prep_downloads_this_environment_s_keras_for_the_device_s_python(monkeypatch):
    import keras

    prep = load_tool("training/device_prep.py")
    calls = []
    monkeypatch.setattr(prep.subprocess, "run", lambda command, check: calls.append(command))
    prep.download_wheels("wheels")
    (command,) = calls
    assert f"keras=={keras.__version__}" in command and {"namex", "optree"} <= set(command)
    assert command[command.index("--python-version") + 1] == "3.12" and "--no-deps" in command


DEVICE_SH = os.path.join(HERE, "..", "tools", "training", "device_run.sh")

#: stands in for python3 on the device: records its arguments and memory share, fails on "--fail"
FAKE_PYTHON = """#!/usr/bin/env bash
out=""; prev=""
for a in "$@"; do [ "$prev" = --out ] && out="$a"; prev="$a"; done
printf '%s\\n' "$@" > "$out/args"
echo "${XLA_PYTHON_CLIENT_MEM_FRACTION:-none}" > "$out/fraction"
echo "trained into $out"
for a in "$@"; do [ "$a" = --fail ] && exit 3; done
exit 0
"""


def _fake_device_run(tmp_path, *arguments):
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    (tmp_path / "device").mkdir(exist_ok=True)
    env = dict(os.environ, PYTHON=str(fake), SKIP_WHEELS="1", OUT=str(tmp_path / "out"),
               PATH="/usr/bin:/bin", DEVICE_DIR=str(tmp_path / "device"))
    return subprocess.run(["bash", DEVICE_SH, *arguments], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_device_shell_wrapper_is_valid_bash():
    subprocess.run(["bash", "-n", DEVICE_SH], check=True)


def test_one_device_run_trains_into_out_and_keeps_its_log(tmp_path):
    done = _fake_device_run(tmp_path, "3", "--batch-size", "64")
    assert done.returncode == 0, done.stderr
    args = (tmp_path / "out" / "args").read_text().split()
    assert args[args.index("--minutes") + 1] == "3" and "--batch-size" in args
    assert (tmp_path / "out" / "fraction").read_text().strip() == "none"
    assert "trained into" in (tmp_path / "out" / "device_run.log").read_text()
    assert args[args.index("--data") + 1] == str(tmp_path / "device" / "photos")
    assert "--validation" not in args


def test_a_device_run_is_scored_on_the_carried_validation_crops_when_there_are_any(tmp_path):
    (tmp_path / "device" / "validation").mkdir(parents=True)
    assert _fake_device_run(tmp_path, "3").returncode == 0
    args = (tmp_path / "out" / "args").read_text().split()
    assert args[args.index("--validation") + 1] == str(tmp_path / "device" / "validation")


def test_device_arms_run_side_by_side_each_into_its_folder_with_a_memory_share(tmp_path):
    done = _fake_device_run(tmp_path, "2", "--arms", "small=--batch-size 8 --learning-rate 1e-4",
                            "large=--batch-size 512")
    assert done.returncode == 0, done.stderr
    small = (tmp_path / "out" / "small" / "args").read_text().split()
    large = (tmp_path / "out" / "large" / "args").read_text().split()
    assert small[small.index("--learning-rate") + 1] == "1e-4"
    assert large[large.index("--batch-size") + 1] == "512" and "--learning-rate" not in large
    assert (tmp_path / "out" / "small" / "fraction").read_text().strip() == "0.45"
    lines = done.stdout.splitlines()
    assert f"small: trained into {tmp_path / 'out' / 'small'}" in lines
    assert f"large: trained into {tmp_path / 'out' / 'large'}" in lines
    assert not (tmp_path / "out" / "device_run.log").exists()


def test_a_failing_device_arm_fails_the_whole_run(tmp_path):
    done = _fake_device_run(tmp_path, "1", "--arms", "good=--batch-size 8", "bad=--fail")
    assert done.returncode == 1 and "bad: trained into" in done.stdout
    assert _fake_device_run(tmp_path, "1", "--arms").returncode == 2


def _device_out(folder, checkpoint, epoch, steps=300, batch_size=256, learning_rate=1.2e-3):
    """A folder as ``device_run.sh`` brings one run back, from ``checkpoint``."""
    os.makedirs(folder, exist_ok=True)
    _parts().split(checkpoint, folder / "model.weights.h5", folder / "optimizer.weights.h5")
    (folder / "training_metadata.json").write_text(json.dumps({"epoch": epoch, "batch": 0}))
    settings = {"epoch": 396, "batch_size": batch_size, "patch_size": 64,
                "learning_rate": learning_rate, "decay_steps": 20000}
    (folder / "device_run.json").write_text(json.dumps(
        {"steps": steps, "seconds": 270.0, "optimizer_step": 40000 + steps, "device": "cuda:0",
         "settings": settings}))
    return folder


def test_a_run_adopts_a_device_checkpoint_with_a_fresh_average_and_a_phase_record(tmp_path):
    adopt = load_tool("training/device_adopt.py")
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 408, "batch": 0}')
    (run / "backup" / "average.npz").write_bytes(b"the replaced weights' average")
    (run / "backup" / "latest.weights.h5").write_bytes(b"the CPU branch")
    device = _device_out(tmp_path / "device" / "lr12", CHECKPOINT, epoch=409, steps=1366)
    assert adopt.main([str(device), "--run", str(run)]) == 0
    original, adopted = _datasets(CHECKPOINT), _datasets(run / "backup" / "latest.weights.h5")
    assert sorted(original) == sorted(adopted)
    assert all(np.array_equal(original[n], adopted[n]) for n in original)
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 409
    assert not (run / "backup" / "average.npz").exists()
    (record,) = [json.loads(line) for line in (run / "phases.log").read_text().splitlines()]
    assert record["from"] == {"epoch": 408} and record["to"]["epoch"] == 409
    assert record["to"]["device_run"]["steps"] == 1366
    assert record["to"]["device_run"]["learning_rate"] == 1.2e-3
    assert sorted(os.listdir(run / "backup")) == ["latest.weights.h5", "training_metadata.json"]


def test_adopting_refuses_an_incomplete_device_run_and_leaves_the_run_alone(tmp_path):
    adopt = load_tool("training/device_adopt.py")
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 408, "batch": 0}')
    device = _device_out(tmp_path / "device", CHECKPOINT, epoch=409)
    os.remove(device / "optimizer.weights.h5")
    with pytest.raises(SystemExit, match="lacks optimizer.weights.h5"):
        adopt.main([str(device), "--run", str(run)])
    assert sorted(os.listdir(run / "backup")) == ["training_metadata.json"]
    complete = _device_out(tmp_path / "complete", CHECKPOINT, epoch=409)
    with pytest.raises(SystemExit, match="not a training run"):
        adopt.main([str(complete), "--run", str(tmp_path / "nowhere")])
    (complete / "training_metadata.json").write_text('{"batch": 0}')
    with pytest.raises(SystemExit, match="unreadable"):
        adopt.main([str(complete), "--run", str(run)])
    assert sorted(os.listdir(run / "backup")) == ["training_metadata.json"]
    assert json.loads((run / "backup" / "training_metadata.json").read_text())["epoch"] == 408


def test_device_arms_finds_one_run_or_the_arms_of_a_call_and_refuses_twins(tmp_path):
    arms = load_tool("training/device_arms.py")
    for name in ("lr1", "lr4"):
        (tmp_path / "call1" / name).mkdir(parents=True)
        (tmp_path / "call1" / name / "device_run.json").write_text("{}")
    (tmp_path / "call1" / "stray").mkdir()
    (tmp_path / "single").mkdir()
    (tmp_path / "single" / "device_run.json").write_text("{}")
    runs = arms.find_runs([str(tmp_path / "call1"), str(tmp_path / "single")])
    assert list(runs) == ["lr1", "lr4", "single"]
    with pytest.raises(SystemExit, match="two runs are named 'lr1'"):
        arms.find_runs([str(tmp_path / "call1"), str(tmp_path / "call1")])
    with pytest.raises(SystemExit, match="no device_run.json"):
        arms.find_runs([str(tmp_path / "call1" / "stray")])


def test_device_arms_reports_the_learning_rate_the_schedule_applied_at_the_first_step():
    arms = load_tool("training/device_arms.py")
    summary = {"steps": 1000, "optimizer_step": 41000,
               "settings": {"learning_rate": 1.2e-3, "decay_steps": 20000}}
    assert arms.starting_learning_rate(summary) == pytest.approx(3e-4)
    curve = {"psnr": [20.0 + k for k in range(16)], "ms_ssim": [0.8 + k / 100 for k in range(16)]}
    line = arms.row("lr12", {"curve": curve, "score": 38.6151, "batch_size": 256,
                             "patches": 256000, "learning_rate": 3e-4,
                             "device_run": {"steps": 1000, "seconds": 270.0}})
    assert line == ("| lr12 | 256 | 3.00e-04 | 1000 | 256,000 | 4.5 | 38.615 | "
                    "20.00 / 23.00 / 27.00 / 35.00 | 0.8000 / 0.8300 / 0.8700 / 0.9500 |")


def test_device_arms_lists_each_run_s_own_scorings_and_marks_the_checkpoint_kept():
    arms = load_tool("training/device_arms.py")
    scorings = [{"step": 0, "score": 38.6}, {"step": 500, "score": 38.7123},
                {"step": 900, "score": 38.69}]
    text = arms.learning_curves({"start": {"score": 38.6},
                                 "lr12": {"device_run": {"steps": 500, "validation": scorings}},
                                 "old": {"device_run": {"steps": 300}}})
    assert text.strip().splitlines()[-1] == "- lr12: 0: 38.600, 500*: 38.712, 900: 38.690"
    assert "old" not in text
    assert arms.learning_curves({"old": {"device_run": {"steps": 300}}}) == ""


def test_the_training_record_counts_an_adopted_device_run_instead_of_the_cpu_epochs_it_replaced(
        tmp_path):
    adopt, record = load_tool("training/device_adopt.py"), load_tool("training/record.py")
    run = tmp_path / "run"
    (run / "backup").mkdir(parents=True)
    (run / "backup" / "training_metadata.json").write_text('{"epoch": 8, "batch": 0}')
    (run / "phases.log").write_text('{"from": {"learning_rate": 0.0005}, '
                                    '"to": {"learning_rate": 0.000125}}\n')
    device = _device_out(tmp_path / "device", CHECKPOINT, epoch=9, steps=1366)
    adopt.adopt(str(device), str(run))
    phases = (run / "phases.log").read_text().splitlines()
    ((start, end, details),) = record.device_runs(phases)
    assert (start, end, details["steps"], details["batch_size"]) == (396, 9, 1366, 256)
    rows = [{"epoch": str(e)} for e in (0, 395, 396, 397, 408, 409, 410)]
    assert [r["epoch"] for r in record.without_replaced_epochs(rows, [(396, 409, details)])] == [
        "0", "395", "409", "410"]
    (line,) = record._device_line([(396, 409, details)])
    assert "1366 steps of 256 patches of 64x64 from epoch 396" in line and "as epoch 409" in line


def test_a_device_run_trains_on_patches_large_enough_for_its_config_s_loss(tmp_path):
    run = load_tool("training/device_run.py")
    for loss, size in (("l1_ms_ssim", 192), ("l1", 64), ("l1_ssim", 64)):
        config = tmp_path / f"{loss}.json"
        config.write_text(json.dumps(dict(TINY_CONFIG, loss=loss)))
        args = run.parse_args(["--data", "-", "--config", str(config), "--weights", ""])
        assert args.patch_size == size, loss
    args = run.parse_args(["--data", "-", "--config", str(config), "--weights", "",
                           "--patch-size", "96"])
    assert args.patch_size == 96


def test_a_device_run_records_repository_paths_relative_to_the_repository():
    import argparse

    run = load_tool("training/device_run.py")
    args = argparse.Namespace(out="/anywhere/out", data=os.path.join(run.REPO, ".device", "photos"),
                              weights="/elsewhere/w.weights.h5", batch_size=256)
    assert run.portable_settings(args) == {"data": os.path.join(".device", "photos"),
                                           "weights": "/elsewhere/w.weights.h5",
                                           "batch_size": 256}


def test_the_training_record_gives_the_moving_average_s_score_when_the_average_ships(tmp_path):
    record = load_tool("training/record.py")
    header = "epoch,seconds,score,psnr_1,ms_ssim_1\n"
    (tmp_path / "validation.csv").write_text(header + "1,9,38.90,21.9,0.81\n2,9,39.02,21.8,0.82\n")
    (tmp_path / "validation-average.csv").write_text(
        header + "1,9,38.95,21.9,0.81\n2,9,39.05,21.9,0.81\n3,9,39.10,22.0,0.82\n")
    raw = record._whole_image_line(record._whole_image_row(str(tmp_path), 2))
    average = record._whole_image_line(record._whole_image_row(str(tmp_path), 2, True), True)
    assert "best score 39.020 at epoch 2" in raw and "validation.csv" in raw
    assert "best score 39.050 at epoch 2" in average and "validation-average.csv" in average
    assert "moving average" in average and "moving average" not in raw
    latest = record._whole_image_line(record._whole_image_row(str(tmp_path), 1, True, True),
                                      True, True)
    assert "score 38.950 at epoch 1" in latest and "best" not in latest
    out = tmp_path / "record"
    out.mkdir()
    with pytest.raises(SystemExit) as refused:  # before it writes anything
        record.main([str(tmp_path), "--out", str(out), "--latest"])
    assert refused.value.code == 2 and not list(out.iterdir())


def test_the_training_record_of_an_earlier_epoch_gives_the_settings_that_epoch_trained_with():
    record = load_tool("training/record.py")
    phases = ['{"from": {"learning_rate": 0.0005}, "to": {"learning_rate": 0.000125}}',
              '{"epoch": 452, "from": {"loss": "l1", "ssim_weight": 0.84}, '
              '"to": {"loss": "l1_ssim", "ssim_weight": 0.3}}',
              '{"epoch": 469, "from": {"loss": "l1_ssim", "ssim_weight": 0.3}, '
              '"to": {"loss": "l1", "ssim_weight": 0.84}}',
              '{"epoch": 470, "from": {"batch_size": 8}, "to": {"batch_size": 16}}']
    config, training = {"loss": "l1", "ssim_weight": 0.84}, {"batch_size": 16}
    at_456 = record.settings_at(config, training, phases, 456)
    assert at_456 == ({"loss": "l1_ssim", "ssim_weight": 0.3}, {"batch_size": 8}, phases[:2])
    assert record.settings_at(config, training, phases, 469) == (
        {"loss": "l1", "ssim_weight": 0.84}, {"batch_size": 8}, phases[:3])
    assert record.settings_at(config, training, phases, None) == (config, training, phases)
    assert config == {"loss": "l1", "ssim_weight": 0.84}   # the run's own settings untouched


def _run_at_epoch(run, epoch):
    """A run directory of a tiny model's config whose backup has done ``epoch`` epochs."""
    from tfrnncomp.model.config import ModelConfig
    from tfrnncomp.training import run_dir
    from tfrnncomp.training.setup import TrainingConfig

    config = ModelConfig(name="tiny", width=0.125, max_iterations=2, train_iterations=2)
    run_dir.prepare_run_dir(str(run), config, TrainingConfig(batch_size=8))
    (run / "backup").mkdir()
    (run / "backup" / "training_metadata.json").write_text(json.dumps({"epoch": epoch}))
    return config


def test_a_run_resumed_with_another_loss_dates_the_change_in_phases_log(tmp_path):
    import dataclasses

    from tfrnncomp.training import run_dir
    from tfrnncomp.training.setup import TrainingConfig

    run = tmp_path / "run"
    config = _run_at_epoch(run, 12)
    run_dir.prepare_run_dir(str(run), dataclasses.replace(config, loss="l1_ssim"),
                            TrainingConfig(batch_size=4))
    rows = [json.loads(line) for line in (run / "phases.log").read_text().splitlines()]
    assert [(r["epoch"], r["to"].get("loss", r["to"].get("batch_size"))) for r in rows] == [
        (12, "l1_ssim"), (12, 4)]


def test_a_run_may_switch_the_binarizer_to_signs_but_not_change_the_model(tmp_path):
    import dataclasses

    from tfrnncomp.errors import ConfigError
    from tfrnncomp.training import run_dir
    from tfrnncomp.training.setup import TrainingConfig

    run = tmp_path / "run"
    config = _run_at_epoch(run, 7)
    signs = dataclasses.replace(config, binarizer_training="sign")
    run_dir.prepare_run_dir(str(run), signs, TrainingConfig(batch_size=8))
    (row,) = [json.loads(line) for line in (run / "phases.log").read_text().splitlines()]
    assert row["epoch"] == 7 and row["from"]["binarizer_training"] == "stochastic"
    assert row["to"]["binarizer_training"] == "sign"
    with pytest.raises(ConfigError, match="another model config"):
        run_dir.check_run_dir(str(run), dataclasses.replace(signs, width=0.25))
