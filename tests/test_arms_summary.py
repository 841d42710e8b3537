"""The one table of every equal-CPU-time comparison of the training run."""

import json

import pytest

from tests.helpers import load_tool


def _arm(folder, arm, score, steps=100, what=None, minutes=8.0):
    folder.mkdir(parents=True, exist_ok=True)
    result = {"arm": arm, "what": what or f"what {arm} changes", "steps": steps,
              "cpu_minutes": minutes, "score": score, "psnr_8": 28.0}
    (folder / f"{arm}.json").write_text(json.dumps(result))


def _rows(text):
    return [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]


def test_each_arm_is_set_beside_its_own_control_in_epoch_order(tmp_path, capsys):
    _arm(tmp_path / "arms-epoch20", "control", 39.0, steps=300)
    _arm(tmp_path / "arms-epoch20", "lr-quarter", 39.25, steps=290)
    _arm(tmp_path / "arms-epoch5", "control", 38.0)
    _arm(tmp_path / "arms-epoch5", "bf16", 37.9, steps=130)
    _arm(tmp_path / "arms-epoch5-l1-ssim", "control", 38.5)
    _arm(tmp_path / "arms-epoch5-l1-ssim", "unroll-4", 38.125, minutes=15.0)
    assert load_tool("research/arms_summary.py").main(["--results", str(tmp_path)]) == 0
    assert _rows(capsys.readouterr().out) == [
        "| 5 | arms-epoch5 | bf16 | what bf16 changes | 8.0 | 130 (100) | 37.900 | 38.000 "
        "| -0.100 |",
        "| 5 | arms-epoch5-l1-ssim | unroll-4 | what unroll-4 changes | 15.0 | 100 (100) | 38.125 "
        "| 38.500 | -0.375 |",
        "| 20 | arms-epoch20 | lr-quarter | what lr-quarter changes | 8.0 | 290 (300) | 39.250 "
        "| 39.000 | +0.250 |"]


def test_other_folders_and_json_files_that_are_not_arms_are_left_out(tmp_path, capsys):
    _arm(tmp_path / "arms-epoch7", "control", 38.0)
    _arm(tmp_path / "arms-epoch7", "xla", 37.0)
    (tmp_path / "arms-epoch7" / "probe.json").write_text(json.dumps({"validation": []}))
    _arm(tmp_path / "average-epoch7", "control", 30.0)
    _arm(tmp_path / "arms", "lr-tenth", 30.0)
    out = tmp_path / "summary.md"
    tool = load_tool("research/arms_summary.py")
    assert tool.main(["--results", str(tmp_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert [row.split(" | ")[2] for row in _rows(printed)] == ["xla"]
    assert out.read_text(encoding="utf-8") == printed


@pytest.mark.parametrize("damage, message", [
    (lambda folder: (folder / "control.json").unlink(), "no control.json"),
    (lambda folder: (folder / "bf16.json").write_text(json.dumps({"arm": "bf16", "score": 1})),
     "without what, steps, cpu_minutes"),
    (lambda folder: (folder / "bf16.json").write_text("{"), "cannot be read as JSON"),
])
def test_a_damaged_arms_folder_is_refused_in_one_line_with_its_path(tmp_path, capsys, damage,
                                                                    message):
    folder = tmp_path / "arms-epoch3"
    _arm(folder, "control", 38.0)
    _arm(folder, "bf16", 37.0)
    damage(folder)
    assert load_tool("research/arms_summary.py").main(["--results", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error and str(folder) in error


def test_a_missing_results_folder_is_refused_with_status_2(tmp_path, capsys):
    assert load_tool("research/arms_summary.py").main(
        ["--results", str(tmp_path / "absent")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_training_arms_writes_by_default_where_the_summary_looks(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "training_metadata.json").write_text('{"epoch": 77, "batch": 0}')
    (tmp_path / "data").mkdir()
    folder = tmp_path / "results" / "training" / "arms-epoch77"
    result = {"arm": "control", "what": "the default run's settings", "steps": 5,
              "cpu_minutes": 0.1, "score": 38.0,
              **{f"{f}_{k}": 0.5 for f in ("psnr", "ms_ssim") for k in (1, 2, 4, 8, 16)}}
    folder.mkdir(parents=True)
    (folder / "control.json").write_text(json.dumps(result))  # done: the tool does not rerun it
    assert load_tool("research/training_arms.py").main(
        ["--checkpoint", str(tmp_path / "ckpt.weights.h5"), "--data", str(tmp_path / "data"),
         "--arms", "control"]) == 0
    assert (folder / "arms.md").exists()
    _arm(folder, "lr-quarter", 38.5)
    capsys.readouterr()
    assert load_tool("research/arms_summary.py").main(
        ["--results", str(tmp_path / "results" / "training")]) == 0
    assert "| 77 | arms-epoch77 | lr-quarter |" in capsys.readouterr().out
