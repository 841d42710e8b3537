"""tools/training/remeasure_entropy.sh: what a new BinaryRNN changes is re-measured, in order."""

import os
import subprocess

from tests.helpers import run_with_fake_python

HERE = os.path.dirname(__file__)
SCRIPT = os.path.join(HERE, "..", "tools", "training", "remeasure_entropy.sh")


def _run(tmp_path, *arguments, fail_on=""):
    return run_with_fake_python(tmp_path, "remeasure_entropy.sh", *arguments, fail_on=fail_on)


def test_remeasuring_re_rates_kodak_then_benchmarks_summarises_plots_compares_and_regenerates_golden(tmp_path):
    work = tmp_path / "work"
    done, calls = _run(tmp_path, str(work))
    assert done.returncode == 0, done.stderr
    scripts = [call.split()[1] for call in calls]
    assert scripts == ["tools/bench/evaluate_model.py", "tools/bench/evaluate_model.py",
                       "tools/bench/bench_entropy.py",
                       "tools/bench/rd_summary.py", "tools/bench/rd_summary.py",
                       "tools/bench/rd_summary.py", "tools/bench/plot_rd.py", "tools/research/published_curves.py",
                       "tools/research/visual_compare.py", "-m",
                       "android_demo/codec-core/tools/make_vectors.py",
                       "android_demo/codec-core/tools/make_binaryrnn_vectors.py"]
    assert "--entropy binaryrnn" in calls[0] and "--metrics-from" in calls[0]
    assert "--no-post-filter" in calls[1] and "no-postfilter.json" in calls[1]
    assert "--sizes-from results/kodak/tfrnncomp-gru-w25-binaryrnn.json" in calls[1]
    assert "--out results/postfilter/kodak/bd-rate.md" in calls[5]
    assert calls[-3].startswith("1 -m pytest") and "tests/test_golden_codec.py" in calls[-3]
    assert all(call.startswith("0 ") for call in calls[:-3] + calls[-2:])
    assert (work / "rd_summary.md").read_text().startswith("table of tools/bench/rd_summary.py")
    assert "--per-image" in (work / "rd_per_image.md").read_text()


def test_remeasuring_stops_at_the_first_failing_step(tmp_path):
    done, calls = _run(tmp_path, str(tmp_path / "work"), fail_on="bench_entropy")
    assert done.returncode == 4
    assert [call.split()[1] for call in calls] == ["tools/bench/evaluate_model.py",
                                                   "tools/bench/evaluate_model.py",
                                                   "tools/bench/bench_entropy.py"]


def test_remeasuring_without_a_work_folder_is_refused_before_any_step(tmp_path):
    done, calls = _run(tmp_path)
    assert done.returncode != 0 and "usage: remeasure_entropy.sh WORK_DIR" in done.stderr
    assert calls == []


def test_refresh_model_ends_with_the_same_remeasurement():
    with open(os.path.join(HERE, "..", "tools", "training", "refresh_model.sh")) as handle:
        text = handle.read()
    assert "tools/training/remeasure_entropy.sh" in text and "bench_entropy.py" not in text
    subprocess.run(["bash", "-n", SCRIPT], check=True)
