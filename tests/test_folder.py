"""Batch compression of folders: tf.data pipeline, jobs, verified resume, summary."""

import os
import subprocess
import sys

from PIL import Image

from tests.conftest import smooth_image
from tfrnncomp.cli import main


def _tree(root, count):
    for i in range(count):
        sub = root / ("a" if i % 2 else "b")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(smooth_image(30 + i, 40, seed=i)).save(sub / f"{i}.png")


def _outputs(root):
    return {os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f), "rb").read()
            for d, _, files in os.walk(root) for f in files}


def test_parallel_jobs_write_the_same_files_as_one_job(tmp_path, tiny_model_dir):
    _tree(tmp_path / "in", 6)
    for jobs in (1, 3):
        assert main(["compress", str(tmp_path / "in"), str(tmp_path / f"out{jobs}"),
                     "--model", tiny_model_dir, "--iterations", "2", "--jobs", str(jobs)]) == 0
    one, three = _outputs(tmp_path / "out1"), _outputs(tmp_path / "out3")
    assert len(one) == 6 and one == three


def test_a_rerun_skips_verified_outputs_and_redoes_damaged_ones(tmp_path, tiny_model_dir,
                                                                 capsys):
    _tree(tmp_path / "in", 4)
    args = ["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model", tiny_model_dir,
            "--iterations", "2"]
    assert main(args) == 0
    good = _outputs(tmp_path / "out")
    damaged = tmp_path / "out" / "a" / "1.trc"
    damaged.write_bytes(damaged.read_bytes()[:-3])  # a cut file does not verify
    capsys.readouterr()
    assert main(args) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("1 written, 3 skipped (existing), 0 failed;")
    assert _outputs(tmp_path / "out") == good


def test_the_summary_reports_bytes_bpp_and_throughput(tmp_path, tiny_model_dir, capsys):
    _tree(tmp_path / "in", 2)
    assert main(["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model",
                 tiny_model_dir, "--iterations", "1", "--entropy", "raw"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "2 written" in line and "MB in" in line and "MB out" in line
    assert "bpp" in line and "images/s" in line and "MP/s" in line


# -- hostile names and special files ----------------------------------------------------------
def _cli(*args, timeout=240):
    """The installed command line in a subprocess, killed after ``timeout`` seconds."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "tfrnncomp.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_a_fifo_in_the_folder_is_skipped_with_a_message_and_the_run_finishes(
        tmp_path, tiny_model_dir):
    _tree(tmp_path / "in", 1)  # in/b/0.png
    os.mkfifo(tmp_path / "in" / "pipe.png")  # reading it would wait for a writer forever
    result = _cli("compress", tmp_path / "in", tmp_path / "out", "--model", tiny_model_dir,
                  "--iterations", "1")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"tfrnncomp: skipped: {tmp_path / 'in' / 'pipe.png'}: is a FIFO, not a regular file"]
    assert result.stdout.startswith("1 written, 0 skipped (existing), 0 failed;")
    os.mkfifo(tmp_path / "out" / "pipe.trc")
    result = _cli("decompress", tmp_path / "out", tmp_path / "png", "--model", tiny_model_dir)
    assert result.returncode == 0, result.stderr
    assert "pipe.trc: is a FIFO, not a regular file" in result.stderr
    assert result.stdout.strip() == "1 written, 0 skipped (existing), 0 failed"
    assert sorted(_outputs(tmp_path / "png")) == ["b/0.png"]


def test_a_file_name_that_is_not_utf8_is_a_failure_and_the_other_files_are_written(
        tmp_path, tiny_model_dir, capsys):
    _tree(tmp_path / "in", 1)
    image = (tmp_path / "in" / "b" / "0.png").read_bytes()
    with open(os.path.join(os.fsencode(tmp_path / "in"), b"caf\xe9.png"), "wb") as handle:
        handle.write(image)  # a Latin-1 name
    code = main(["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model",
                 tiny_model_dir, "--iterations", "1"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("1 written, 0 skipped (existing), 1 failed;")
    assert err.splitlines() == [f"tfrnncomp: failed: '{tmp_path / 'in'}/caf\\xe9.png': file name "
                                "is not valid UTF-8; rename it"]
    assert sorted(_outputs(tmp_path / "out")) == ["b/0.trc"]


def test_a_failure_line_names_the_file_once_and_escapes_a_newline_in_its_name(
        tmp_path, tiny_model_dir, capsys):
    _tree(tmp_path / "in", 1)
    (tmp_path / "in" / "bad\nname.png").write_bytes(b"not an image")
    code = main(["compress", str(tmp_path / "in"), str(tmp_path / "out"), "--model",
                 tiny_model_dir, "--iterations", "1"])
    out, err = capsys.readouterr()
    assert code == 1 and out.startswith("1 written, 0 skipped (existing), 1 failed;")
    assert err.splitlines() == [f"tfrnncomp: failed: '{tmp_path / 'in'}/bad\\nname.png': cannot "
                                "read image (not a known image format)"]
    (tmp_path / "out" / "bad\nname.trc").write_bytes(b"not a trc file")
    code = main(["decompress", str(tmp_path / "out"), str(tmp_path / "png"), "--model",
                 tiny_model_dir])
    out, err = capsys.readouterr()
    assert code == 1 and out.strip() == "1 written, 0 skipped (existing), 1 failed"
    line, = err.splitlines()
    assert line.startswith(f"tfrnncomp: failed: '{tmp_path / 'out'}/bad\\nname.trc': ")
    assert line.count("name.trc") == 1
