"""Batch compression of folders: tf.data pipeline, jobs, verified resume, summary."""

import os

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
