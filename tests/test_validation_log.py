"""tools/research/validation_log.py: a run's whole-image validation summarised over epoch ranges."""

import pytest

from tests.helpers import load_tool
from tfrnncomp.training.validation import columns

tool = load_tool("research/validation_log.py")


def _write(path, scores):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(",".join(columns()) + "\n")
        for epoch, score in scores.items():
            figures = [20.0 + epoch % 3, 22, 24, 26, 28.0, 0.8, 0.9, 0.94, 0.97, 0.98]
            handle.write(",".join(str(v) for v in [epoch, 10.0, score] + figures) + "\n")


def test_each_range_gets_the_mean_lowest_and_highest_score_of_each_log(tmp_path):
    _write(tmp_path / "validation.csv", {1: 38.0, 2: 38.2, 3: 38.4, 4: 38.1})
    _write(tmp_path / "validation-average.csv", {3: 38.5, 4: 38.3})
    out = tmp_path / "summary.md"
    tool.main([str(tmp_path), "--ranges", "1-2,3-", "--out", str(out)])
    lines = out.read_text().splitlines()
    # PSNR 21/22, 22, 24, 26 and MS-SSIM 0.8, 0.9, 0.94, 0.97 after iterations 1, 2, 4, 8
    assert ("| 1-2 | raw | 2 | 38.100 | 38.000 | 38.200 | 21.50 | 28.00 | 0.8000 | 0.9800 "
            "| 23.375 | 11.1092 |") in lines
    assert "| 3-4 | raw | 2 | 38.250 | 38.100 | 38.400 |" in "\n".join(lines)
    assert "| 3-4 | average | 2 | 38.400 | 38.300 | 38.500 |" in "\n".join(lines)
    assert not any(line.startswith("| 1-2 | average") for line in lines)


def test_the_paired_comparison_uses_only_the_epochs_both_logs_hold(tmp_path):
    _write(tmp_path / "validation.csv", {1: 38.0, 2: 38.2, 3: 38.4, 4: 38.1})
    _write(tmp_path / "validation-average.csv", {2: 38.3, 3: 38.3, 4: 38.4, 5: 40.0})
    logs = tool.read_logs(tmp_path)
    text = "\n".join(tool.paired(logs["raw"], logs["average"], 3))
    assert "epochs 3-4 (2)" in text
    assert "mean +0.1000" in text
    assert "higher in 1 of 2 epochs" in text
    bounded = tool.paired(logs["raw"], logs["average"], 3, 3)
    assert "epochs 3-3 (1)" in bounded[0] and "mean -0.1000" in bounded[0]


def test_a_run_without_a_validation_log_is_a_one_line_error(tmp_path):
    with pytest.raises(SystemExit, match="has no validation.csv"):
        tool.main([str(tmp_path)])


def test_a_malformed_range_is_a_one_line_error():
    with pytest.raises(SystemExit, match="A-B or A-"):
        tool.parse_ranges("3-x", 10)


def test_the_early_iteration_means_stop_at_upto(tmp_path):
    _write(tmp_path / "validation.csv", {3: 38.0})
    out = tmp_path / "summary.md"
    tool.main([str(tmp_path), "--upto", "2", "--out", str(out)])
    text = out.read_text()
    assert "iterations <= 2" in text
    # PSNR 20 and 22, MS-SSIM 0.8 (6.99 dB) and 0.9 (10 dB)
    assert text.splitlines()[2].endswith("| 21.000 | 8.4949 |")


def test_epoch_times_leave_out_the_pairs_across_a_restart(tmp_path):
    _write(tmp_path / "validation.csv", {e: 38.0 for e in range(1, 7)})
    rows = [(1, 1000.0, 100.0), (2, 1120.0, 100.0), (3, 1230.0, 100.0),  # 20 s, 10 s after
            (4, 5000.0, 100.0),  # a restart: 3770 s after epoch 3
            (5, 5105.0, 100.0), (6, 5210.0, 100.0)]
    with open(tmp_path / "times.csv", "w", encoding="utf-8") as handle:
        handle.write("epoch,end_unix_time,seconds,steps\n")
        handle.writelines(f"{e},{end},{seconds},100\n" for e, end, seconds in rows)
    out = tmp_path / "summary.md"
    tool.main([str(tmp_path), "--ranges", "1-3,4-", "--out", str(out)])
    lines = out.read_text().splitlines()
    assert "| 1-3 | 2 | 100.0 | 115.0 | 15.0 |" in lines
    assert "| 4-6 | 2 | 100.0 | 105.0 | 5.0 |" in lines


def test_a_run_without_times_gets_no_time_table(tmp_path):
    _write(tmp_path / "validation.csv", {1: 38.0, 2: 38.1})
    assert "training s" not in "\n".join(tool.time_table(tool.read_times(tmp_path), [(1, 2)]))
