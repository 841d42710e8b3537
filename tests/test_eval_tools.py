"""The visual comparison and the architecture ablation tools, on tiny inputs."""

import inspect
import json
import os
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.helpers import load_tool, smooth_image
from tfrnncomp.eval import classic


def test_the_automatic_crop_lands_on_the_detailed_part_of_an_image():
    visual = load_tool("research/visual_compare.py")
    image = np.full((200, 300, 3), 128, np.uint8)
    image[96:160, 176:240] = smooth_image(64, 64)[..., :3] // 2 * 2  # texture on a flat field
    x, y = visual.detailed_spot(image, 64)
    assert (x, y) == (176, 96)


def test_the_visual_comparison_matches_file_sizes_and_draws_one_figure(tmp_path, tiny_model_dir):
    pytest.importorskip("matplotlib")
    visual = load_tool("research/visual_compare.py")
    folder = tmp_path / "images"
    folder.mkdir()
    image = smooth_image(192, 192, seed=3)
    Image.fromarray(image).save(folder / "synthetic.png")
    out = tmp_path / "visual"
    assert visual.main(["synthetic.png", "--data", str(folder), "--model", tiny_model_dir,
                        "--bpp", "0.5", "--crop", "128", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["synthetic.png", "visual.json", "visual.md"]
    record, = json.loads((out / "visual.json").read_text())["records"]
    ours, *others = record["panels"]
    assert ours["codec"] == "tfrnncomp" and ours["setting"] >= 1
    assert abs(ours["bpp"] - 0.5) <= 0.125  # the closest whole iteration
    assert {p["codec"] for p in others} == {"JPEG", "WebP"}
    for panel in others:
        name = "jpeg420" if panel["codec"] == "JPEG" else "webp"
        assert panel["bytes"] <= ours["bytes"]
        larger = [q for q in range(panel["setting"] + 1, 96 if name == "jpeg420" else 101)]
        assert all(len(classic.get(name).encode(image, q)) > ours["bytes"] for q in larger)
    assert "| synthetic.png | 0.5 | tfrnncomp |" in (out / "visual.md").read_text()


def _split_names(fraction, train, validation):
    """File names whose hash puts them in the train / validation split (tfrnncomp.training.data)."""
    names = {"train": [], "validation": []}
    i = 0
    while len(names["train"]) < train or len(names["validation"]) < validation:
        name = f"photo{i}.png"
        side = "validation" if zlib.crc32(name.encode()) / 2.0**32 < fraction else "train"
        names[side].append(name)
        i += 1
    return names["train"][:train], names["validation"][:validation]


def test_the_ablation_trains_scores_on_validation_and_resumes(tmp_path, capsys):
    ablation = load_tool("research/ablation.py")
    from tfrnncomp.training import data

    fraction = ablation.Budget().validation_fraction
    assert fraction == inspect.signature(data.patch_dataset).parameters[
        "validation_fraction"].default  # the split training uses
    train, validation = _split_names(fraction, 3, 1)
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed, name in enumerate(train + validation):
        Image.fromarray(smooth_image(192, 224, seed=seed)).save(folder / name)
    out, runs = tmp_path / "out", tmp_path / "runs"
    argv = ["--data", str(folder), "--out", str(out), "--runs", str(runs), "--steps", "2",
            "--steps-per-epoch", "1", "--batch-size", "4", "--iterations", "2",
            "--widths", "0.0625", "--val-images", "4", "--val-crop", "192",
            "--variants", "baseline"]
    assert ablation.main(argv) == 0
    summary = json.loads((out / "ablation.json").read_text())
    variant, = summary["variants"]
    assert summary["validation"]["images"] == validation  # never a training image
    assert summary["validation"]["split_size"] == 1
    assert variant["variant"] == "baseline" and 0 < variant["auc_ms_ssim"] <= 0.125
    result = json.loads((out / "variants" / "baseline.json").read_text())
    assert [p["bpp"] for p in result["points"]] == [0.125, 0.25]  # raw code bits
    run_dir, = os.listdir(runs)
    assert len((runs / run_dir / "log.csv").read_text().splitlines()) == 1 + 2  # two epochs
    assert "| baseline |" in (out / "ablation.md").read_text()
    capsys.readouterr()
    assert ablation.main(argv) == 0  # resumed: nothing is trained again
    assert "done before, skipped" in capsys.readouterr().err
    assert json.loads((out / "ablation.json").read_text())["variants"] == summary["variants"]
    assert ablation.main([*argv[:-2], "--steps", "3", "--variants", "baseline"]) == 2


def test_the_seam_band_covers_only_pixels_near_internal_tile_borders():
    bench = load_tool("bench/bench_speed.py")
    band = bench._seam_band(40, 70, 32, radius=4)
    assert band[:, 28:36].all() and band[28:36, :].all()  # around x = 32 and y = 32
    assert band[:, 60:68].all()  # x = 64
    assert not band[:28, :28].any() and not band[:28, 36:60].any()  # tile interiors
    assert not bench._seam_band(32, 32, 32).any()  # one tile: no internal border


def test_the_seam_check_alone_writes_band_and_whole_image_psnr_for_every_image(tmp_path):
    bench = load_tool("bench/bench_speed.py")
    folder = tmp_path / "kodak"
    folder.mkdir()
    for seed in range(2):
        Image.fromarray(smooth_image(192, 224, seed=seed)).save(folder / f"im{seed}.png")
    out = tmp_path / "out"
    assert bench.main(["--kodak", str(folder), "--images", "2", "--seams", "96",
                       "--seams-only", "--out", str(out)]) == 0
    result = json.loads((out / "seams.json").read_text())
    assert result["rows"] == [] and [r["image"] for r in result["seams"]] == ["im0.png", "im1.png"]
    for row in result["seams"]:
        for key in ("psnr", "band_psnr", "inner_psnr"):
            assert 5 < row[f"{key}_tiled"] < 99 and 5 < row[f"{key}_untiled"] < 99
    assert "Within 8 pixels of a tile border" in (out / "seams.md").read_text()
    assert bench.main(["--kodak", str(folder), "--seams-only", "--out", str(out)]) == 2


def test_the_training_extrapolation_fits_a_falling_curve_and_solves_for_the_target(tmp_path):
    extrapolate = load_tool("training/extrapolate.py")
    steps = np.arange(1, 41) * 100
    l1 = 0.5 * steps ** -0.25  # an exact power law
    log = tmp_path / "log.csv"
    log.write_text("epoch,val_l1_last\n" + "".join(f"{e},{v}\n" for e, v in enumerate(l1)))
    a, b = extrapolate.fit_power_law(steps.astype(float), l1)
    assert b == pytest.approx(-0.25) and a == pytest.approx(np.log(0.5))

    def result(name, scale):  # MS-SSIM curves; the test curve needs `scale` x the anchor's bits
        points = []
        for i, (bpp, quality) in enumerate(zip([0.25, 0.5, 1.0, 2.0], [0.8, 0.9, 0.95, 0.98])):
            rate = bpp * scale
            row = {"image": "x.png", "bytes": int(rate * 1000), "bpp": rate,
                   "ms_ssim": quality, "psnr": 30.0, "psnr_hvs_m": None}
            points.append({"setting": i, "bpp": rate, "ms_ssim": quality,
                           "ms_ssim_db": None, "psnr": 30.0, "psnr_hvs_m": None,
                           "encode_seconds": None, "decode_seconds": None, "per_image": [row]})
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({
            "schema_version": 1, "name": name, "description": "", "codec": {"family": "test"},
            "dataset": {"path": "x", "images": ["x.png"]}, "points": points,
            "environment": {}}))
        return str(path)

    jpeg = result("jpeg420", 1.0)
    argv = ["--log", str(log), "--jpeg", jpeg, "--out", str(tmp_path / "out"),
            "--point", f"1000={result('a', 1.5)}", "--point", f"4000={result('b', 1.2)}"]
    assert extrapolate.main(argv) == 0
    out = json.loads((tmp_path / "out" / "extrapolation.json").read_text())
    first, second = out["points"]
    assert first["bd_rate_vs_jpeg"] == pytest.approx(50.0, abs=0.5)
    assert second["bd_rate_vs_jpeg"] == pytest.approx(20.0, abs=0.5)
    assert out["extrapolated"][0]["bd_rate_vs_jpeg"] == pytest.approx(
        second["bd_rate_vs_jpeg"], abs=2.0)  # at the last logged step: near the second point
    assert out["extrapolated"][1]["bd_rate_vs_jpeg"] < second["bd_rate_vs_jpeg"]
    assert out["steps_for_target"]["steps"] > 4000
    assert "extrapolation, not a measurement" in (tmp_path / "out" / "extrapolation.md").read_text()


def test_the_speed_report_compares_only_the_lstm_paper_size_at_equal_architecture():
    report = load_tool("bench/speed_report.py")
    row = {"codec": "paper-size model (width 1.0, LSTM, untrained)", "backend": "tf-xla",
           "setting": "8 it", "encode_s": 20.0, "encode_cpu_s": 39.0, "decode_s": 16.0,
           "decode_cpu_s": 31.0}
    reference = {"encode_wall_s": 44.0, "decode_wall_s": 32.0, "threads": 2}
    line = report.paper_line(row, reference, 2)
    assert "2.20x / 2.00x faster at equal architecture" in line and "measured on this" in line
    gru = dict(row, codec="paper-size model (width 1.0, GRU, untrained)")
    assert "not equal architecture" in report.paper_line(gru, reference, 2)
    assert "as quoted with the speed targets" in report.paper_line(row, None, 2)


def _one_image_folder(tmp_path, height, width, seed):
    """A folder holding one smooth synthetic PNG, ``synthetic.png``."""
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(smooth_image(height, width, seed=seed)).save(folder / "synthetic.png")
    return folder


def test_the_entropy_benchmark_tables_the_iterations_it_ran(tmp_path, tiny_model_dir):
    bench = load_tool("bench/bench_entropy.py")
    folder = _one_image_folder(tmp_path, 40, 56, seed=4)
    out = tmp_path / "entropy"
    assert bench.main(["--data", str(folder), "--model", tiny_model_dir, "--iterations", "3",
                       "--modes", "raw,context", "--out", str(out)]) == 0
    result = json.loads((out / "kodak.json").read_text())
    assert len(result["summary"]["context"]["saved_cumulative_pct"]) == 3
    table = (out / "kodak.md").read_text()
    assert "| mode | k=1 | k=2 | k=3 |\n|---|---|---|---|\n| raw | 0.0 % | 0.0 % | 0.0 % |" in table
    assert "Seconds per image (3 iterations, entropy coding only)" in table
    assert f"{result['environment']['cpu_count']} cores, load average " in table
    assert "shared, loaded" not in table
    del result["environment"]  # a result of the tool before it recorded the machine
    assert "on a shared, loaded 2-core CPU." in bench.markdown(result)
    assert bench.table_iterations(16) == [1, 2, 4, 8, 12, 16]
    assert bench.table_iterations(20) == [1, 2, 4, 8, 12, 16, 20]


def test_the_entropy_benchmark_of_one_mode_still_measures_it_against_raw(tmp_path, tiny_model_dir,
                                                                        capsys):
    bench = load_tool("bench/bench_entropy.py")
    folder = _one_image_folder(tmp_path, 40, 56, seed=4)
    out = tmp_path / "entropy"
    argv = ["--data", str(folder), "--model", tiny_model_dir, "--iterations", "2", "--out", str(out)]
    assert bench.main(argv + ["--modes", "context"]) == 0
    result = json.loads((out / "kodak.json").read_text())
    assert result["modes"] == ["raw", "context"]
    assert len(result["summary"]["context"]["saved_cumulative_pct"]) == 2
    assert bench.main(argv + ["--modes", "context,zstd"]) == 2
    assert "unknown mode zstd" in capsys.readouterr().err


def test_the_model_evaluation_writes_one_point_per_iteration_and_refuses_too_many(tmp_path,
                                                                                  tiny_model_dir):
    tool = load_tool("bench/evaluate_model.py")
    folder = _one_image_folder(tmp_path, 48, 64, seed=5)
    out = tmp_path / "results"
    assert tool.main(["--data", str(folder), "--model", tiny_model_dir, "--iterations", "1-2",
                      "--one-pass", "--entropy", "context", "--name", "tiny",
                      "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "tiny.json").read_text())
    assert [point["setting"] for point in result["points"]] == [1, 2]
    with pytest.raises(SystemExit):
        tool.main(["--data", str(folder), "--model", tiny_model_dir, "--iterations", "1-99",
                   "--out", str(out), "--quiet"])
