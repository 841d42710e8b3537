"""The evaluation harness: results schema, RD summaries, classic and tfrnncomp runners."""

import copy
import json
import math
import os

import numpy as np
import pytest
from PIL import Image

from tests.helpers import load_tool, random_photos, smooth_image
from tfrnncomp.eval import classic, evaluate, metrics, rd, schema
from tfrnncomp.format import container as bitstream


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    for seed, name in enumerate(("a.png", "b.png")):
        Image.fromarray(smooth_image(192, 192, seed=seed)).save(folder / name)
    return evaluate.load_dataset(str(folder))


@pytest.fixture(scope="module")
def jpeg_result(dataset):
    return evaluate.run_classic(classic.get("jpeg420"), dataset, settings=[10, 30, 50, 70, 90])


def synthetic(name, rates, metric=lambda r: 30 + 6 * np.log2(r)):
    """A result whose PSNR and MS-SSIM are known functions of bpp (no per-image rows needed)."""
    rates = np.asarray(rates, np.float64)
    return {"name": name, "codec": {"family": "classic"}, "dataset": {"images": ["x"]},
            "points": [{"setting": i, "bpp": float(r), "psnr": float(metric(r)),
                        "ms_ssim": float(1 - 10 ** (-metric(r) / 20))}
                       for i, r in enumerate(rates)]}


def test_a_folder_of_images_loads_sorted_as_rgb(dataset):
    assert dataset.names == ["a.png", "b.png"]
    assert all(image.shape == (192, 192, 3) and image.dtype == np.uint8 for image in dataset.images)


def test_a_missing_folder_raises_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        evaluate.load_dataset(str(tmp_path / "nowhere"))


def test_a_result_survives_a_json_round_trip_and_validates(jpeg_result, tmp_path):
    path = schema.write_result(str(tmp_path / "out" / "jpeg420.json"), jpeg_result)
    loaded = schema.load_result(path)
    assert loaded["schema_version"] == schema.SCHEMA_VERSION == 1
    assert loaded == json.loads(json.dumps(jpeg_result))
    assert set(loaded) >= {"name", "description", "codec", "dataset", "points", "environment"}
    assert loaded["dataset"]["images"] == ["a.png", "b.png"]
    point = loaded["points"][0]
    assert set(schema.POINT_KEYS) <= set(point)
    row_keys = set(schema.IMAGE_KEYS) | {"encode_seconds", "decode_seconds"}
    assert row_keys <= set(point["per_image"][0])
    assert {"python", "cpu", "date", "packages"} <= set(loaded["environment"])
    assert not [n for n in os.listdir(tmp_path / "out") if n != "jpeg420.json"]  # no temp files


@pytest.mark.parametrize("breakage, message", [
    (lambda r: r.update(schema_version=2), "schema_version"),
    (lambda r: r.pop("dataset"), "dataset"),
    (lambda r: r["points"][0].pop("psnr"), "psnr"),
    (lambda r: r["points"][0].update(bpp=-1.0), "bpp"),
    (lambda r: r["points"][1]["per_image"].pop(), "per_image"),
    (lambda r: r["points"][0]["per_image"][0].update(bytes="12"), "bytes"),
    (lambda r: r["points"][0].update(ms_ssim="high"), "ms_ssim"),
])
def test_validation_names_the_field_that_breaks_the_schema(jpeg_result, breakage, message):
    broken = copy.deepcopy(jpeg_result)
    breakage(broken)
    with pytest.raises(schema.SchemaError, match=message):
        schema.validate(broken)


def test_infinite_values_are_stored_as_null(jpeg_result):
    result = copy.deepcopy(jpeg_result)
    result["points"][0]["per_image"][0]["psnr"] = math.inf
    assert json.loads(schema.dumps(result))["points"][0]["per_image"][0]["psnr"] is None


def test_jpeg_bpp_and_quality_rise_with_the_quality_setting(jpeg_result):
    points = jpeg_result["points"]
    assert [p["setting"] for p in points] == [10, 30, 50, 70, 90]
    for key in ("bpp", "ms_ssim", "psnr"):
        values = [p[key] for p in points]
        assert values == sorted(values) and len(set(values)) == len(values), key
    for point in points:
        for row in point["per_image"]:
            assert row["bpp"] == row["bytes"] * 8 / (192 * 192)
            assert row["encode_seconds"] > 0 and row["decode_seconds"] > 0
        assert point["bpp"] == pytest.approx(np.mean([r["bpp"] for r in point["per_image"]]))
        assert point["ms_ssim_db"] == pytest.approx(-10 * math.log10(1 - point["ms_ssim"]))


def test_psnr_hvs_m_is_measured_or_its_absence_is_noted(jpeg_result):
    values = [p["psnr_hvs_m"] for p in jpeg_result["points"]]
    if evaluate.psnr_hvs_m_unavailable():
        assert values == [None] * len(values)
        assert any("psnr_hvs_m" in note for note in jpeg_result["notes"])
    else:
        assert all(v is not None for v in values)


def test_pillow_codecs_decode_to_the_original_size(dataset):
    image = dataset.images[0]
    for name, setting in (("jpeg444", 50), ("webp", 50), ("jpeg2000", 24), ("avif", 50)):
        codec = classic.get(name)
        if codec.unavailable():
            continue
        decoded = codec.decode(codec.encode(image, setting), 192, 192)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8, name


def test_the_yuv444_conversion_for_hevc_round_trips_within_one_level(dataset):
    image = dataset.images[0]
    back = classic.yuv444_planes_to_rgb(classic.rgb_to_yuv444_planes(image))
    assert np.abs(back.astype(int) - image).max() <= 2


def test_bd_rate_of_a_curve_against_itself_is_zero():
    curve = synthetic("a", [0.1, 0.25, 0.5, 1.0, 2.0, 2.5])
    assert rd.bd_rate(curve, curve, "psnr") == pytest.approx(0, abs=1e-9)
    assert rd.bd_rate(curve, curve, "ms_ssim_db", method="akima") == pytest.approx(0, abs=1e-9)


def test_bd_rate_against_a_curve_needing_twice_the_bits_is_minus_fifty_percent():
    rates = [0.1, 0.2, 0.4, 0.8, 1.6, 2.5]
    ours = synthetic("ours", rates)
    twice = synthetic("twice", [2 * r for r in rates], metric=lambda r: 30 + 6 * np.log2(r / 2))
    for metric in ("psnr", "ms_ssim_db"):
        assert rd.bd_rate(ours, twice, metric) == pytest.approx(-50.0, abs=1e-6)
        assert rd.bd_rate(twice, ours, metric) == pytest.approx(100.0, abs=1e-6)


def test_bd_rate_is_missing_when_the_curves_do_not_overlap():
    low = synthetic("low", [0.1, 0.2, 0.3])
    high = synthetic("high", [1.0, 2.0, 3.0])
    assert rd.bd_rate(low, high, "psnr") is None


def test_bd_rate_over_a_bpp_range_leaves_out_the_rates_outside_it():
    rates = [0.1, 0.125, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5]
    anchor = synthetic("anchor", rates)
    # the same curve up to 1 bpp, flatter above it: more bits for the same quality there
    ours = synthetic("ours", rates, metric=lambda r: 30 + 6 * np.log2(min(r, 1.0))
                     + 2 * np.log2(max(r, 1.0)))
    assert rd.bd_rate(ours, anchor, "psnr", bpp_range=rd.BD_RANGE) == pytest.approx(0, abs=1e-6)
    assert rd.bd_rate(ours, anchor, "psnr") > 1
    twice = synthetic("twice", [2 * r for r in rates], metric=lambda r: 30 + 6 * np.log2(r / 2))
    assert rd.bd_rate(anchor, twice, "psnr", bpp_range=(0.25, 2.0)) == pytest.approx(-50, abs=1e-6)


def _with_images(result, names, shift):
    """``result``'s points with one per-image row per name; image ``n``'s rates times shift[n]."""
    points = []
    for point in result["points"]:
        rows = [{**point, "image": n, "bpp": point["bpp"] * shift[n]} for n in names]
        points.append({**point, "per_image": rows})
    return {**result, "points": points, "dataset": {"images": list(names)}}


def test_the_per_image_table_gives_each_image_its_own_bd_rate_against_the_same_image():
    rates = [0.1, 0.2, 0.4, 0.8, 1.2]
    ours = _with_images(synthetic("ours", rates), ["a.png", "b.png"], {"a.png": 1, "b.png": 1})
    anchor = _with_images(synthetic("webp", rates), ["a.png", "b.png"], {"a.png": 1, "b.png": 2})
    assert rd.image_result(ours, "b.png")["points"][0]["image"] == "b.png"
    table = rd.per_image_table(ours, {"WebP": anchor}, bpp_range=None).splitlines()
    assert table[0] == "| image | BD-rate vs WebP (MS-SSIM dB) | BD-rate vs WebP (PSNR) |"
    assert table[2:] == ["| a.png | +0.0 % | +0.0 % |", "| b.png | -50.0 % | -50.0 % |"]
    missing = _with_images(synthetic("webp", rates), ["a.png"], {"a.png": 1})
    assert rd.per_image_table(ours, {"WebP": missing}, bpp_range=None).splitlines()[-1] == (
        "| b.png | - | - |")


def test_rd_summary_per_image_prints_a_row_per_image_or_names_an_unknown_result(
        jpeg_result, tmp_path, capsys):
    path = schema.write_result(str(tmp_path / "jpeg420.json"), jpeg_result)
    out = tmp_path / "per-image.md"
    assert load_tool("bench/rd_summary.py").main([path, "--per-image", "jpeg420",
                                                  "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[2:] == ["| a.png | +0.0 % | +0.0 % |",
                                        "| b.png | +0.0 % | +0.0 % |"]
    assert out.read_text() == printed  # --out writes what it prints
    with pytest.raises(SystemExit, match="no result named 'ours'"):
        load_tool("bench/rd_summary.py").main([path, "--per-image", "ours"])


def test_auc_of_a_linear_curve_is_its_exact_integral():
    result = synthetic("line", [0.1, 0.3, 0.9, 1.7, 2.4], metric=lambda r: 20 + 10 * r)
    expected = 20 * 1.875 + 5 * (2.0 ** 2 - 0.125 ** 2)
    assert rd.auc(result, "psnr") == pytest.approx(expected, rel=1e-12)
    assert rd.value_at(result, "psnr", [0.125, 1.0]) == pytest.approx([21.25, 30.0])


def test_auc_allows_a_small_extension_at_the_ends_and_no_more():
    line = lambda r: 20 + 10 * r  # noqa: E731
    # tfrnncomp's first point sits a hair above 0.125 bpp because of the header
    assert rd.auc(synthetic("near", [0.1261, 0.5, 2.003], line), "psnr") == pytest.approx(
        20 * 1.875 + 5 * (2.0 ** 2 - 0.125 ** 2))
    assert rd.auc(synthetic("short", [0.25, 0.5, 2.5], line), "psnr") is None
    assert rd.value_at(synthetic("short", [0.25, 0.5, 2.5], line), "psnr", 0.125) is None


def test_the_markdown_table_has_a_row_per_result_and_anchor_columns():
    results = [synthetic("jpeg420", [0.1, 0.5, 1, 2.5]), synthetic("webp", [0.1, 0.5, 1, 2.5]),
               synthetic("ours", [0.05, 0.25, 0.5, 1, 2.5], metric=lambda r: 31 + 6 * np.log2(r))]
    table = rd.markdown_table(results)
    assert table.count("| ours |") == 2
    assert "BD-rate vs JPEG" in table and "BD-rate vs WebP" in table
    assert "| BD-rate vs WebP (MS-SSIM dB, 0.125-1 bpp) |" in table
    assert table.splitlines()[0].count("BD-rate") == 4  # each anchor, overlap and 0.125-1 bpp
    assert "| jpeg420 |" in table and "+0.0 %" in table


def test_our_codec_runner_counts_header_plus_whole_chunks(tiny_codec, dataset):
    result = evaluate.run_model(tiny_codec, dataset, iterations=[1, 2, 3], entropy="raw")
    header = tiny_codec.header_for(192, 192, 3, 1, "raw")
    head = len(bitstream.encode_header(header))
    assert result["codec"]["setting_name"] == "iterations" and result["name"].endswith("-raw")
    for point in result["points"]:
        k = point["setting"]
        for row in point["per_image"]:
            assert row["bytes"] == head + k * (header.raw_chunk_bytes + 8)
            assert row["bpp"] == row["bytes"] * 8 / (192 * 192)
    image = dataset.images[0]
    assert result["points"][1]["per_image"][0]["bytes"] == len(
        tiny_codec.compress(image, iterations=2, entropy="raw"))
    schema.validate(result)


def test_our_codec_runner_measures_the_real_entropy_coded_prefix_files(tiny_codec, dataset):
    result = evaluate.run_model(tiny_codec, dataset, iterations=[1, 2], entropy="context")
    for point in result["points"]:
        k = point["setting"]
        for name, image, row in zip(dataset.names, dataset.images, point["per_image"]):
            assert row["image"] == name
            assert row["bytes"] == len(tiny_codec.compress(image, iterations=k, entropy="context"))


def test_our_codec_runner_measures_the_files_of_code_search_under_their_own_name(tiny_codec,
                                                                                 dataset):
    result = evaluate.run_model(tiny_codec, dataset, iterations=[1, 2], entropy="raw",
                                search=1)
    assert result["name"].endswith("-raw-search1") and result["codec"]["search"] == 1
    image = dataset.images[0]
    decoded = tiny_codec.decompress(tiny_codec.compress(image, iterations=2, entropy="raw",
                                                        search=1))
    assert result["points"][1]["per_image"][0]["psnr"] == pytest.approx(
        metrics.psnr(image, decoded))


def test_the_validation_dataset_holds_only_whole_images_of_the_validation_split(tmp_path):
    from tfrnncomp.training import data as data_lib

    root = random_photos(tmp_path / "photos", n=12, size=(24, 40))
    held_out = data_lib.split_files(data_lib.list_images(root), "validation", 0.3, root=root)
    result = evaluate.validation_dataset(root, count=8, validation_fraction=0.3)
    assert sorted(result.names) == sorted(os.path.basename(f) for f in held_out)
    assert all(image.shape == (24, 40, 3) for image in result.images)


def test_a_rerated_curve_keeps_the_quality_and_takes_the_real_file_sizes_of_the_new_mode(
        tiny_codec, dataset):
    from tfrnncomp.eval import rerate

    raw = evaluate.run_model(tiny_codec, dataset, iterations=[1, 2], entropy="raw")
    result = rerate.rerate_model(tiny_codec, dataset, raw, "context")
    assert result["codec"]["entropy_mode"] == "context"
    for old, new in zip(raw["points"], result["points"]):
        k = new["setting"]
        for image, before, row in zip(dataset.images, old["per_image"], new["per_image"]):
            assert row["psnr"] == before["psnr"] and row["ms_ssim"] == before["ms_ssim"]
            assert row["bytes"] == len(tiny_codec.compress(image, iterations=k,
                                                           entropy="context"))


@pytest.fixture(scope="module")
def rerated(tiny_codec, dataset):
    """A raw curve and its rerating in mode context."""
    from tfrnncomp.eval import rerate

    raw = evaluate.run_model(tiny_codec, dataset, iterations=[1, 2], entropy="raw")
    return raw, rerate.rerate_model(tiny_codec, dataset, raw, "context")


def test_a_second_curve_of_the_same_files_takes_the_rerated_sizes_without_encoding_again(
        tiny_codec, dataset, rerated, monkeypatch):
    import copy

    from tfrnncomp.eval import rerate

    raw, sized = rerated
    other = dict(copy.deepcopy(raw), name="decoded-another-way")
    for row in (row for point in other["points"] for row in point["per_image"]):
        row.update(psnr=row["psnr"] + 1.0, decode_seconds=5.0)
    monkeypatch.setattr(tiny_codec, "encode", None)  # it must not encode
    result = rerate.sizes_from(tiny_codec, dataset, other, sized)
    assert result["codec"]["entropy_mode"] == "context"
    assert (result["codec"]["quality_from"], result["codec"]["sizes_from"]) == (
        "decoded-another-way", sized["name"])
    for sized_point, quality_point, point in zip(sized["points"], other["points"],
                                                 result["points"]):
        for by_size, by_quality, row in zip(sized_point["per_image"], quality_point["per_image"],
                                            point["per_image"]):
            assert (row["bytes"], row["psnr"]) == (by_size["bytes"], by_quality["psnr"])
            assert row["decode_seconds"] == pytest.approx(5.0 + by_size["entropy_decode_seconds"])


@pytest.mark.parametrize("change, message", [
    (lambda r: r["points"].pop(), "other iteration counts"),
    (lambda r: r["codec"].update(model_id="other@00000000"), "is of model"),
    (lambda r: r["points"][0]["per_image"].reverse(), "other images"),
    (lambda r: r["points"][0]["per_image"][0].pop("entropy_decode_seconds"),
     "no entropy decode times"),
], ids=["iterations", "model", "images", "an older result"])
def test_sizes_from_a_result_of_other_files_is_refused(tiny_codec, dataset, rerated, change,
                                                        message):
    import copy

    from tfrnncomp.eval import rerate

    raw, sized = copy.deepcopy(rerated)
    change(sized)
    with pytest.raises(ValueError, match=message):
        rerate.sizes_from(tiny_codec, dataset, raw, sized)


def test_evaluate_model_takes_sizes_only_beside_metrics(dataset, capsys):
    with pytest.raises(SystemExit):
        load_tool("bench/evaluate_model.py").main(["--data", dataset.path, "--sizes-from", "x"])
    assert "--sizes-from needs --metrics-from" in capsys.readouterr().err


def test_tools_write_results_tables_and_plots(tmp_path, dataset, capsys):
    pytest.importorskip("matplotlib")
    codecs = load_tool("bench/bench_codecs.py").main
    assert codecs(["--data", dataset.path, "--out", str(tmp_path), "--codecs", "jpeg420,jpeg444",
                   "--settings", "20,90", "--quiet"]) == 0
    files = sorted(str(p) for p in tmp_path.glob("*.json"))
    assert [os.path.basename(f) for f in files] == ["jpeg420.json", "jpeg444.json"]
    capsys.readouterr()
    assert load_tool("bench/rd_summary.py").main(files) == 0
    table = capsys.readouterr().out
    assert "| jpeg444 |" in table and "BD-rate vs JPEG" in table
    assert load_tool("bench/plot_rd.py").main([*files, "--out", str(tmp_path / "plots")]) == 0
    assert sorted(os.listdir(tmp_path / "plots")) == ["ms_ssim_db.png", "psnr.png",
                                                      "psnr_hvs_m.png"]
    assert codecs(["--data", str(tmp_path / "missing")]) == 0
    assert "skipped" in capsys.readouterr().err


def test_rd_summary_adds_a_column_against_any_other_result_named_after_it(jpeg_result, tmp_path,
                                                                          capsys):
    import copy

    before = dict(copy.deepcopy(jpeg_result), name="before")
    after = dict(copy.deepcopy(jpeg_result), name="after")
    for point in after["points"]:  # the same images at 10 % fewer bits: -10 % against "before"
        point["bpp"] *= 0.9
        for row in point.get("per_image", []):
            row["bpp"] *= 0.9
    paths = [schema.write_result(str(tmp_path / f"{r['name']}.json"), r) for r in (after, before)]
    assert load_tool("bench/rd_summary.py").main([paths[0], "--anchor", paths[1]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "BD-rate vs before (MS-SSIM dB)" in lines[0]
    assert lines[2].startswith("| after |") and lines[2].endswith("| -10.0 % |")
