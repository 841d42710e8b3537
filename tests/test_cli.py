"""Tests of the ``tfrnncomp`` command line, run in-process through ``main([...])``: round
trips, rate and quality options, the installed entry point.

The tiny untrained model of conftest.py is saved to a directory and passed with ``--model``
(conftest.py's ``run`` fixture); ``shared_codecs`` lets every ``Codec(...)`` the CLI builds
reuse one instance per model. The first test loads the model from its directory for real.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.helpers import assert_one_error_line, save, smooth_image, snapshot
from tfrnncomp.eval import metrics
from tfrnncomp.format import container as bitstream
from tfrnncomp.apps.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- round trips ----------------------------------------------------------------------------
def test_compress_and_decompress_load_the_model_given_with_model_and_round_trip_a_png(
        run, tmp_path, tiny_codec):
    original = smooth_image(31, 45, seed=1)
    source = save(tmp_path / "in.png", original)
    untouched = snapshot(source)
    code, out, err = run("compress", source, tmp_path / "out.trc", "--iterations", "3")
    assert (code, err) == (0, "")
    data = (tmp_path / "out.trc").read_bytes()
    assert out.strip() == (f"{tmp_path / 'out.trc'}: {len(data)} bytes, "
                           f"{len(data) * 8 / (31 * 45):.4f} bpp, 3 iterations")
    assert data == tiny_codec.compress(original, 3)
    code, out, err = run("decompress", tmp_path / "out.trc", tmp_path / "back.png")
    assert (code, err) == (0, "")
    assert "back.png" in out
    decoded = np.asarray(Image.open(tmp_path / "back.png"))
    assert np.array_equal(decoded, tiny_codec.decompress(data))
    assert snapshot(source) == untouched
    assert (tmp_path / "out.trc").read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == ["back.png", "in.png", "out.trc"]


@pytest.mark.parametrize("kind", ["rgb", "grey", "palette"])
def test_odd_sized_rgb_greyscale_and_palette_pngs_round_trip_through_the_cli(
        run, shared_codecs, tmp_path, tiny_codec, kind):
    if kind == "rgb":
        original, mode, channels = smooth_image(31, 45, seed=2), None, 3
    elif kind == "grey":
        original, mode, channels = smooth_image(50, 17, seed=3)[..., 0], None, 1
    else:
        original, mode, channels = smooth_image(33, 20, seed=4), "P", 3
    source = save(tmp_path / f"{kind}.png", original, mode)
    assert Image.open(source).mode == {"rgb": "RGB", "grey": "L", "palette": "P"}[kind]
    height, width = original.shape[:2]

    code, out, err = run("compress", source, tmp_path / "x.trc", "--iterations", "4",
                         "--entropy", "raw")
    assert (code, err) == (0, "")
    data = (tmp_path / "x.trc").read_bytes()
    assert data == tiny_codec.compress(Image.open(source), 4, entropy="raw")
    header = bitstream.read(data).header
    assert (header.height, header.width, header.channels) == (height, width, channels)
    assert len(data) == tiny_codec.file_size(height, width, 4)

    code, out, err = run("decompress", tmp_path / "x.trc", tmp_path / "x.png")
    assert (code, err) == (0, "")
    decoded = Image.open(tmp_path / "x.png")
    assert decoded.mode == ("L" if channels == 1 else "RGB")
    assert decoded.size == (width, height)
    assert np.array_equal(np.asarray(decoded), tiny_codec.decompress(data))


def test_decompress_iterations_k_decodes_the_first_k_iterations(run, shared_codecs, tmp_path,
                                                                tiny_codec):
    source = save(tmp_path / "in.png", smooth_image(40, 23, seed=5))
    assert run("compress", source, tmp_path / "in.trc", "--iterations", "5")[0] == 0
    data = (tmp_path / "in.trc").read_bytes()
    for k in (1, 3):
        code, _, err = run("decompress", tmp_path / "in.trc", tmp_path / f"k{k}.png",
                           "--iterations", str(k))
        assert (code, err) == (0, "")
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"k{k}.png")),
                              tiny_codec.decompress(data, k))
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "k1.png")),
                              np.asarray(Image.open(tmp_path / "k3.png")))
    code, _, err = run("decompress", tmp_path / "in.trc", tmp_path / "k9.png", "--iterations", "9")
    assert_one_error_line(code, err)
    assert "5 whole iterations" in err
    assert not (tmp_path / "k9.png").exists()


def test_compress_bpp_picks_the_iterations_the_codec_picks(run, shared_codecs, tmp_path,
                                                          tiny_codec):
    source = save(tmp_path / "in.png", smooth_image(64, 96, seed=6))
    for entropy in ("raw", "context"):
        code, _, err = run("compress", source, tmp_path / "in.trc", "--bpp", "1.0",
                           "--entropy", entropy, "--force")
        assert (code, err) == (0, "")
        data = (tmp_path / "in.trc").read_bytes()
        assert data == tiny_codec.compress(Image.open(source), bpp=1.0, entropy=entropy)
        assert len(data) * 8 / (64 * 96) <= 1.0
    with pytest.raises(SystemExit) as exit_info:  # argparse: mutually exclusive options
        run("compress", source, tmp_path / "in.trc", "--bpp", "1.0", "--iterations", "2")
    assert exit_info.value.code == 2


def test_a_budget_below_the_smallest_file_is_an_error_naming_it_unless_best_effort(
        run, shared_codecs, tmp_path, tiny_codec):
    original = smooth_image(64, 96, seed=6)
    source = save(tmp_path / "in.png", original)
    smallest = len(tiny_codec.compress(original, 1))
    for budget in (["--target-size", "50"], ["--bpp", "0.01"]):
        target = tmp_path / f"{budget[0][2:]}.trc"
        code, out, err = run("compress", source, target, *budget)
        assert_one_error_line(code, err)
        assert f"the smallest file is {smallest} bytes" in err and "1 iteration" in err
        assert err.rstrip().endswith("; pass --best-effort to write it")
        assert out == "" and not target.exists()
        code, out, err = run("compress", source, target, *budget, "--best-effort")
        assert (code, err) == (0, "")
        assert target.stat().st_size == smallest
        assert out.strip() == (f"{target}: {smallest} bytes, "
                               f"{smallest * 8 / (64 * 96):.4f} bpp, 1 iteration; {budget[0]} "
                               f"{budget[1]} not met, the nearest "
                               "file written (--best-effort)")


def test_an_unreachable_quality_target_is_an_error_naming_the_best_reached_unless_best_effort(
        run, shared_codecs, coded, tmp_path, tiny_codec):
    original, source, _ = coded
    for flag, value, name in (("--target-psnr", "99", "PSNR"),
                              ("--target-msssim", "0.999999", "MS-SSIM")):
        code, out, err = run("compress", source, tmp_path / "q.trc", flag, value)
        assert_one_error_line(code, err)
        assert f"the most iterations (16) reach {name} " in err and "--best-effort" in err
        assert not (tmp_path / "q.trc").exists()
    code, out, err = run("compress", source, tmp_path / "q.trc", "--target-psnr", "99",
                         "--best-effort")
    assert (code, err) == (0, "")
    data = (tmp_path / "q.trc").read_bytes()
    psnr = metrics.psnr(original, tiny_codec.decompress(data))
    assert bitstream.read(data).header.iterations == 16
    assert out.strip().endswith(f", 16 iterations, PSNR {psnr:.2f} dB; --target-psnr 99 "
                                "not met, the nearest file written (--best-effort)")


def test_compress_json_prints_the_summary_as_one_object_and_quiet_prints_nothing(
        run, shared_codecs, coded, tmp_path, tiny_codec):
    original, source, _ = coded
    code, out, err = run("compress", source, tmp_path / "j.trc", "--target-psnr", "1",
                         "--json")
    assert (code, err) == (0, "") and len(out.splitlines()) == 1
    summary = json.loads(out)
    data = (tmp_path / "j.trc").read_bytes()
    assert summary == {
        "file": str(tmp_path / "j.trc"), "bytes": len(data),
        "bpp": pytest.approx(len(data) * 8 / (170 * 165)),
        "iterations": bitstream.read(data).header.iterations, "target": "target_psnr",
        "target_value": 1.0,
        "psnr": pytest.approx(metrics.psnr(original, tiny_codec.decompress(data))),
        "met": True}
    assert run("compress", source, tmp_path / "q.trc", "--iterations", "2",
               "--quiet") == (0, "", "")
    assert (tmp_path / "q.trc").exists()


def test_iterations_out_of_range_fail_in_one_line_before_tensorflow_is_imported(
        tiny_model_dir):
    for command in ("compress", "decompress"):
        argv = [command, "a.png", "b.trc", "--iterations", "0", "--model", tiny_model_dir]
        script = ("import sys; from tfrnncomp.apps import cli; "
                  f"rc = cli.main({argv!r}); print('tensorflow' in sys.modules, rc)")
        result = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=120,
                                capture_output=True, text=True)
        assert result.stdout.split() == ["False", "2"], result
        assert result.stderr == "tfrnncomp: error: --iterations must be in 1..16, got 0\n"


@pytest.mark.parametrize("flags, message", [
    (["--adaptive"], "--adaptive needs one stopping rule: --target-psnr or --slope"),
    (["--adaptive", "--target-psnr", "30", "--slope", "1"], "--target-psnr or --slope"),
    (["--slope", "1"], "--slope is a stopping rule of --adaptive; add --adaptive"),
    (["--adaptive", "--slope", "1", "--bpp", "0.5"],
     "--adaptive takes --target-psnr, or --slope with an optional --iterations cap; not --bpp"),
    (["--search", "9"], "--search must be in 0..8 sweeps, got 9"),
    (["--adaptive", "--target-psnr", "30", "--search", "1"],
     "--search does not combine with --adaptive"),
])
def test_adaptive_setting_errors_name_the_command_line_flags(run, tmp_path, flags, message):
    source = save(tmp_path / "in.png", smooth_image(32, 32))
    code, _, err = run("compress", source, tmp_path / "out.trc", *flags)
    assert_one_error_line(code, err)
    assert message in err and "target_psnr" not in err
    assert not (tmp_path / "out.trc").exists()


def test_compress_search_writes_the_file_the_codec_writes_with_search(run, tmp_path,
                                                                       tiny_codec):
    original = smooth_image(32, 48, seed=2)
    source = save(tmp_path / "in.png", original)
    code, _, err = run("compress", source, tmp_path / "out.trc", "--iterations", "2",
                       "--search", "1", "-q")
    assert (code, err) == (0, "")
    assert (tmp_path / "out.trc").read_bytes() == tiny_codec.compress(original, 2, search=1)


# -- the installed entry point ----------------------------------------------------------------
def test_the_command_line_runs_as_a_module_and_as_the_console_script_and_prints_its_help():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    commands = [[sys.executable, "-m", "tfrnncomp", "--help"]]
    script = os.path.join(os.path.dirname(sys.executable), "tfrnncomp")
    if os.path.isfile(script):  # installed with pip: the console script too
        commands.append([script, "--help"])
    for command in commands:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                                cwd=REPO)
        assert result.returncode == 0, result.stderr
        for name in ("compress", "decompress", "info", "train", "models"):
            assert name in result.stdout


def test_models_lists_the_shipped_default_model(run):
    code, out, err = run("models")
    assert (code, err) == (0, "")
    line, = [line for line in out.splitlines() if line.startswith("gru-w25 (default): gru-w25@")]
    assert ", gru, width 0.25, 16 iterations (useful " in line
    assert "entropy model binaryrnn@" in line and line.endswith(" MB")
    assert "post-filter postfilter@" in line


def test_train_help_shows_the_defaults_of_its_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    entries = out.split("\n  -")[1:]  # each option's entry, its wrapped lines indented deeper
    helps = {"-" + entry.split()[0]: " ".join(entry.split()) for entry in entries}
    for option, default in (("--epochs", "100"), ("--patch-size", "64"),
                            ("--validation-fraction", "0.05"), ("--validation-images", "8"),
                            ("--validation-crop", "256"), ("--learning-rate", "0.0005")):
        assert helps[option].endswith(f"(default: {default})")
    assert "--validation-data" in helps and "(default: None)" not in out


def test_train_takes_the_precision_xla_and_validation_interval_options_of_the_training_config(
        monkeypatch, tmp_path):
    from tfrnncomp.training import train
    from tfrnncomp.apps import cli

    seen = {}
    monkeypatch.setattr(train, "train", lambda config, training, out, **kw: seen.update(
        training=training))
    argv = ["train", "--data", str(tmp_path), "--config", "c.json", "--out", str(tmp_path / "r")]
    assert cli.main(argv + ["--precision", "mixed_bfloat16", "--jit-compile"]) == 0
    assert (seen["training"].precision, seen["training"].jit_compile) == ("mixed_bfloat16", True)
    assert cli.main(argv) == 0
    assert (seen["training"].precision, seen["training"].jit_compile) == ("float32", False)
    assert seen["training"].validate_every == 1
    assert cli.main(argv + ["--validate-every", "4"]) == 0
    assert seen["training"].validate_every == 4
