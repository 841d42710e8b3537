"""tools/training/measure_average.sh: the run's moving average against the shipped weights on
the validation images, in order, the shipped weights coded only once."""

from tests.helpers import run_with_fake_python


def _run(tmp_path, *arguments, fail_on=""):
    """The script on a fake run folder; the calls without the golden flag (which stays 0)."""
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    (run / "config.json").write_text("{}")
    done, calls = run_with_fake_python(tmp_path, "measure_average.sh", *arguments,
                                       fail_on=fail_on, RUN_DIR=str(run),
                                       DATA=str(tmp_path / "data"), COUNT="5")
    assert all(call.startswith("0 ") for call in calls)
    return done, [call[2:] for call in calls]


def test_the_average_is_exported_coded_with_the_shipped_weights_and_summarised(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    done, calls = _run(tmp_path, "avg1030", str(out), str(work))
    assert done.returncode == 0, done.stderr
    scripts = [call.split()[0] for call in calls]
    assert scripts == ["tools/training/export_average.py", "-m", "tools/bench/evaluate_model.py",
                       "tools/bench/evaluate_model.py", "tools/bench/rd_summary.py",
                       "tools/bench/rd_summary.py"]
    assert f"--out {work}/export/latest.weights.h5" in calls[0]
    assert calls[1] == f"-m tfrnncomp export-weights {work}/export {work}/model"
    for call, model, name in ((calls[2], f"{work}/model", "avg1030-validation"),
                              (calls[3], "gru-w25", "shipped-validation")):
        assert f"--model {model} " in call and f"--name {name} " in call
        assert "--count 5" in call and "--entropy context --no-post-filter" in call
        assert "--iterations 1-10" in call and f"--out {out}" in call
    assert f"--anchor {out}/shipped-validation.json" in calls[4]
    assert calls[5].endswith("--per-image avg1030-validation")
    table = (out / "bd-rate.md").read_text().splitlines()
    assert [line.split()[2] for line in table] == ["tools/bench/rd_summary.py"] * 2
    assert (work / "export" / "config.json").read_text() == "{}"


def test_a_shipped_result_already_there_is_not_coded_again(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "shipped-validation.json").write_text("{}")
    done, calls = _run(tmp_path, "avg1030", str(out), str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr
    coded = [call for call in calls if call.startswith("tools/bench/evaluate_model.py")]
    assert len(coded) == 1 and "--name avg1030-validation" in coded[0]


def test_measuring_stops_at_the_first_failing_step_and_needs_a_name_and_a_folder(tmp_path):
    done, calls = _run(tmp_path, "avg1030", str(tmp_path / "out"), fail_on="export-weights")
    assert done.returncode == 4
    assert [call.split()[0] for call in calls] == ["tools/training/export_average.py", "-m"]
    done, calls = _run(tmp_path, "avg1030")
    assert done.returncode != 0 and "usage: measure_average.sh NAME OUT_DIR" in done.stderr
    assert calls == []
