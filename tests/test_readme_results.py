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
