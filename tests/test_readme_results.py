"""README's result tables are the ones the repository's tools make from its results files."""

import glob
import os
import re

import pytest

from tests.helpers import load_tool

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return f.read()


def _table_rows(text):
    return [line for line in text.splitlines() if re.match(r"\| \S.* \|$", line)]


def _kodak_files():
    files = sorted(glob.glob(os.path.join(ROOT, "results", "kodak", "*.json")))
    if not files:
        pytest.skip("no results/kodak/*.json in this checkout")
    return files


def _assert_readme_quotes(rows, source):
    readme = _readme()
    missing = [row for row in rows if row not in readme]
    assert not missing, f"README.md lacks rows of {source}:\n" + "\n".join(missing)


def test_readme_quotes_every_row_of_the_kodak_tables_as_rd_summary_prints_them(capsys):
    files = _kodak_files()
    assert load_tool("bench/rd_summary.py").main(files) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) == 2 * (1 + len(files))  # two tables: a header and a row per file
    _assert_readme_quotes(rows, "rd_summary.py")


def test_readme_quotes_the_shipped_model_s_per_image_bd_rates_as_rd_summary_prints_them(capsys):
    shipped = "tfrnncomp-gru-w25-binaryrnn"
    assert load_tool("bench/rd_summary.py").main([*_kodak_files(), "--per-image", shipped]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) == 1 + 24  # the header and the Kodak images
    _assert_readme_quotes(rows, "rd_summary.py --per-image")


def test_readme_quotes_the_shipped_model_s_per_iteration_table_on_kodak():
    with open(os.path.join(ROOT, "results", "iterations", "kodak-gru-w25.md"),
              encoding="utf-8") as f:
        rows = _table_rows(f.read())
    assert len(rows) == 1 + 16  # the header and 16 iterations
    _assert_readme_quotes(rows, "results/iterations/kodak-gru-w25.md")


def test_readme_quotes_every_row_of_the_training_arms_summary(capsys):
    results = os.path.join(ROOT, "results", "training")
    if not glob.glob(os.path.join(results, "arms-epoch*")):
        pytest.skip("no results/training/arms-epochN folders in this checkout")
    assert load_tool("research/arms_summary.py").main(["--results", results]) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert len(rows) > 1  # the header and at least one arm
    _assert_readme_quotes(rows, "arms_summary.py")


def test_readme_s_post_filter_figures_are_the_shipped_files_decoded_with_and_without_it(capsys):
    from tfrnncomp.eval import rd, schema

    folder = os.path.join(ROOT, "results", "postfilter", "kodak")
    paths = [os.path.join(ROOT, "results", "kodak", "tfrnncomp-gru-w25-binaryrnn.json"),
             os.path.join(folder, "tfrnncomp-gru-w25-no-postfilter-binaryrnn.json"),
             os.path.join(ROOT, "results", "kodak", "jpeg420.json"),
             os.path.join(ROOT, "results", "kodak", "webp.json")]
    if not all(os.path.isfile(path) for path in paths):
        pytest.skip("no post-filter results in this checkout")
    filtered, plain, _, webp = [schema.load_result(path) for path in paths]
    assert [p["bpp"] for p in filtered["points"]] == [p["bpp"] for p in plain["points"]]
    ms_ssim, psnr = (-rd.bd_rate(filtered, plain, metric, bpp_range=rd.BD_RANGE)
                     for metric in ("ms_ssim_db", "psnr"))
    behind_webp = rd.bd_rate(plain, webp, "ms_ssim_db", bpp_range=rd.BD_RANGE)
    text = " ".join(_readme().split())
    assert (f"saves {ms_ssim:.1f} % of the bytes at equal MS-SSIM and {psnr:.1f} % at equal "
            f"PSNR") in text
    assert f"trail WebP on MS-SSIM by {behind_webp:.1f} %" in text
    assert plain["codec"]["model_id"] == filtered["codec"]["model_id"]  # re-measured on a ship
    assert plain["codec"]["entropy_model_id"] == filtered["codec"]["entropy_model_id"]
    assert f"the shipped `{filtered['codec']['post_filter_id']}` saves" in text
    assert load_tool("bench/rd_summary.py").main(paths + ["--anchor", paths[1]]) == 0
    with open(os.path.join(folder, "bd-rate.md"), encoding="utf-8") as f:
        assert f.read() == capsys.readouterr().out
