"""Start-up and progress: TensorFlow's log lines hidden by the command line unless
``--verbose``, progress bars on stderr (``--progress``), the stages the codec reports, and
``tools/bench/bench_startup.py`` on the tiny model."""

import json
import logging
import os
import subprocess
import sys

import pytest
from PIL import Image

from tests.helpers import load_tool, smooth_image
from tfrnncomp.apps import cli, parser, progress

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _cli(args, folder):
    """Run ``python -m tfrnncomp ARGS`` with TensorFlow's log level left unset."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [REPO, env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "tfrnncomp", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_plain_compress_prints_no_tensorflow_start_up_lines_and_verbose_is_accepted(
        tiny_model_dir, tmp_path):
    Image.fromarray(smooth_image(8, 8)).save(tmp_path / "a.png")
    plain = _cli(["compress", "a.png", "a.trc", "--model", tiny_model_dir], tmp_path)
    assert plain.returncode == 0, plain.stderr
    noise = [line for line in plain.stderr.splitlines()
             if "cuda" in line.lower() or "cpu_feature_guard" in line]
    assert noise == [] and (tmp_path / "a.trc").exists()
    # the TensorFlow lines depend on the machine: only the flag is checked
    verbose = _cli(["--verbose", "compress", "a.png", "b.trc", "--model", tiny_model_dir],
                   tmp_path)
    assert verbose.returncode == 0, verbose.stderr
    assert (tmp_path / "b.trc").read_bytes() == (tmp_path / "a.trc").read_bytes()


@pytest.mark.parametrize("argv, verbose", [
    (["compress", "a.png", "a.trc"], False),
    (["--verbose", "compress", "a.png", "a.trc"], True),
    (["compress", "a.png", "a.trc", "--verbose"], True),
    (["info", "a.trc", "--verbose"], True),
])
def test_verbose_is_a_global_flag_given_before_or_after_the_command(argv, verbose):
    assert parser.build_parser().parse_args(argv).verbose is verbose


def test_quieting_keeps_the_log_levels_the_user_chose(monkeypatch):
    from absl import logging as absl_logging

    calls = []
    monkeypatch.setattr(absl_logging, "set_verbosity", calls.append)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    monkeypatch.setattr(logging.getLogger("tensorflow"), "level", logging.INFO)
    cli._quiet_libraries()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"
    assert logging.getLogger("tensorflow").level == logging.INFO
    assert calls == [absl_logging.ERROR]
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    monkeypatch.setattr(logging.getLogger("tensorflow"), "level", logging.NOTSET)
    cli._quiet_libraries()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert logging.getLogger("tensorflow").level == logging.ERROR


class _Terminal:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("tty, forced, pixels, quiet, shown", [
    (False, False, 4_000_000, False, False),  # not a terminal: only with --progress
    (False, True, 1, False, True),
    (True, True, 1, True, False),  # --quiet or --json win over --progress
    (True, False, 1_000_000, False, False),  # a small image is done before a bar helps
    (True, False, 1_000_001, False, True),
    (True, False, None, False, True),  # unknown size (stdin)
])
def test_a_bar_is_drawn_with_progress_or_on_a_terminal_for_large_images_never_when_quiet(
        monkeypatch, tty, forced, pixels, quiet, shown):
    monkeypatch.setattr(sys, "stderr", _Terminal(tty))
    assert progress.wanted(forced, lambda: pixels, quiet) is shown


def test_the_codec_tells_progress_each_stage_as_it_begins(tiny_codec):
    image = smooth_image(40, 36)
    for settings, stages in [({}, ["encode", "entropy"]),
                             ({"bpp": 2.0}, ["encode", "entropy"]),
                             ({"target_psnr": 10.0}, ["encode", "entropy", "measure"])]:
        seen = []
        data = tiny_codec.compress(image, progress=seen.append, **settings)
        assert seen == stages, settings
    seen = []
    tiny_codec.decompress(data, progress=seen.append)
    assert seen == ["entropy", "decode"]


@pytest.fixture()
def run(capsys, tiny_model_dir, monkeypatch, tiny_codec):
    """``run(command, ...)`` in-process with the tiny model (one shared Codec):
    ``(status, stdout, stderr)``."""
    from tfrnncomp import codec as codec_module

    monkeypatch.setattr(codec_module, "Codec", lambda *args, **kwargs: tiny_codec)

    def run(*args):
        code = cli.main([str(a) for a in args] + ["--model", tiny_model_dir])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_progress_draws_a_bar_by_stage_on_stderr_for_a_single_file(run, tmp_path):
    Image.fromarray(smooth_image(20, 24)).save(tmp_path / "a.png")
    code, out, err = run("compress", tmp_path / "a.png", tmp_path / "a.trc", "--progress")
    assert code == 0 and "a.trc: " in out
    assert "compress: 100%" in err and "4/4, done" in err and "encode" in err
    code, out, err = run("decompress", tmp_path / "a.trc", tmp_path / "b.png", "--progress")
    assert code == 0 and "decompress: 100%" in err and "decode" in err
    # off a terminal and without --progress, or with --quiet / --json: no bar
    assert run("compress", tmp_path / "a.png", tmp_path / "c.trc")[2] == ""
    assert run("compress", tmp_path / "a.png", tmp_path / "d.trc", "--progress",
               "--quiet") == (0, "", "")
    code, out, err = run("compress", tmp_path / "a.png", tmp_path / "e.trc", "--progress",
                         "--json")
    assert err == "" and json.loads(out)["file"] == str(tmp_path / "e.trc")


def test_info_compare_with_progress_steps_once_per_iteration_decoded(run, tmp_path):
    Image.fromarray(smooth_image(20, 24)).save(tmp_path / "a.png")
    run("compress", tmp_path / "a.png", tmp_path / "a.trc", "--iterations", "3")
    code, out, err = run("info", tmp_path / "a.trc", "--compare", tmp_path / "a.png",
                         "--progress")
    assert code == 0 and "compare: 100%" in err and "3/3" in err and "it  3:" in out
    code, out, err = run("info", tmp_path / "a.trc", "--compare", tmp_path / "a.png",
                         "--progress", "--json")
    assert (code, err) == (0, "") and len(json.loads(out)["quality"]) == 3


def test_the_startup_benchmark_writes_every_step_to_json_and_a_table(tiny_model_dir, tmp_path):
    bench = load_tool("bench/bench_startup.py")
    out = tmp_path / "startup.json"
    assert bench.main(["--model", tiny_model_dir, "--repeats", "1", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert set(result) == {"model", "repeats", "steps", "notes", "environment"}
    assert set(result["steps"]) == {key for key, _ in bench.STEPS}
    for step in result["steps"].values():
        assert len(step["runs_s"]) == 1 and step["median_s"] == step["runs_s"][0] > 0
    assert {"cpu", "cpu_flags"} <= set(result["environment"])
    table = (tmp_path / "startup.md").read_text()
    assert table.count("\n| ") == len(bench.STEPS)  # a row per step
