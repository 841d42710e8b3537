"""Published curves: read as results, compared with this repository's by the same BD-rate."""

import json
import os

import pytest

from tests.helpers import load_tool
from tfrnncomp.eval import published, rd, schema

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PUBLISHED = os.path.join(ROOT, "results", "published", "kodak")
CURVE = "# a comment\n\n0.25, 25.0\n0.5, 28.0\n1.0, 31.0\n2.0, 34.0\n"


def test_a_published_file_is_read_as_its_bpp_value_lines_without_the_comments():
    assert published.parse_curve(CURVE) == [(0.25, 25.0), (0.5, 28.0), (1.0, 31.0), (2.0, 34.0)]


@pytest.mark.parametrize("text", ["0.25, 25.0\nhello\n", "0.25\n", "-0.25, 25.0\n", "0.25, nan\n",
                                  "# only a comment\n"])
def test_a_malformed_published_file_is_refused_with_its_line(text):
    with pytest.raises(published.PublishedFormatError, match="curve"):
        published.parse_curve(text)


def test_a_curve_against_itself_has_a_zero_bd_rate():
    curve = published.as_result(published.parse_curve(CURVE), "psnr", "a")
    assert rd.bd_rate(curve, curve, "psnr", bpp_range=rd.BD_RANGE) == pytest.approx(0, abs=1e-9)


def test_the_saving_to_match_an_anchor_undoes_a_uniform_rate_increase():
    anchor = published.as_result(published.parse_curve(CURVE), "psnr", "anchor")
    dearer = published.scale_rates(anchor, 1.25)
    assert rd.bd_rate(dearer, anchor, "psnr") == pytest.approx(25.0, abs=0.01)
    assert published.saving_to_match(dearer, anchor, "psnr", bpp_range=None) == pytest.approx(
        0.2, abs=1e-3)
    assert published.saving_to_match(anchor, dearer, "psnr", bpp_range=None) == pytest.approx(
        -0.25, abs=1e-3)


def test_rates_are_scaled_point_by_point_or_all_alike():
    curve = published.as_result([(1.0, 30.0), (2.0, 33.0)], "psnr", "c")
    assert [p["bpp"] for p in published.scale_rates(curve, [0.5, 0.75])["points"]] == [0.5, 1.5]
    assert [p["bpp"] for p in published.scale_rates(curve, 0.5)["points"]] == [0.5, 1.0]
    with pytest.raises(ValueError, match="3 factors for 2 points"):
        published.scale_rates(curve, [1.0, 1.0, 1.0])


def _run_tool(tmp_path, capsys, *extra):
    if not os.path.isdir(PUBLISHED):
        pytest.skip("no results/published/kodak in this checkout")
    code = load_tool("research/published_curves.py").main(
        ["--published", PUBLISHED, "--results", os.path.join(ROOT, "results", "kodak"),
         "--entropy", os.path.join(ROOT, "results", "entropy", "kodak.json"),
         "--out", str(tmp_path), *extra])
    return code, capsys.readouterr()


def test_the_comparison_uses_the_same_bd_rate_as_the_kodak_tables(tmp_path, capsys):
    code, _ = _run_tool(tmp_path, capsys)
    assert code == 0
    report = json.loads((tmp_path / "kodak-comparison.json").read_text())
    ours = report["within_harness"][3]
    kodak = os.path.join(ROOT, "results", "kodak")
    model = schema.load_result(os.path.join(kodak, "tfrnncomp-gru-w25-binaryrnn.json"))
    jpeg = schema.load_result(os.path.join(kodak, "jpeg420.json"))
    assert ours["curve"] == model["name"]
    exact = rd.bd_rate(model, jpeg, "psnr", bpp_range=rd.BD_RANGE)
    assert ours["psnr_vs_jpeg420"] == pytest.approx(exact, abs=1e-4)
    assert report["saving_needed_by_toderici_2017"]["psnr"] is not None
    table = (tmp_path / "kodak-comparison.md").read_text()
    assert table.startswith("BD-rate over 0.125-1.0 bpp")
    # printed as the Kodak tables print the unrounded figure, not rounded twice
    row = next(line for line in table.splitlines() if line.startswith(f"| {model['name']} | this"))
    assert row.split(" | ")[2] == f"{exact:+.1f} %"


def test_a_figure_near_a_rounding_boundary_prints_as_the_kodak_tables_print_it(monkeypatch):
    tool = load_tool("research/published_curves.py")
    monkeypatch.setattr(tool.rd, "bd_rate", lambda *args, **kwargs: 23.152)
    assert tool._pct(tool.bd({"psnr": None}, {"psnr": None}, "psnr")) == "+23.2 %"


def test_readme_quotes_every_row_of_the_published_comparison(tmp_path, capsys):
    code, out = _run_tool(tmp_path, capsys)
    assert code == 0
    rows = [line for line in out.out.splitlines() if line.startswith("| ")]
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    missing = [row for row in rows if row not in readme]
    assert not missing, "README.md lacks rows of published_curves.py:\n" + "\n".join(missing)


def test_a_missing_published_folder_is_one_line_and_status_2(tmp_path, capsys):
    code, out = _run_tool(tmp_path, capsys, "--published", str(tmp_path / "absent"))
    assert code == 2
    assert out.err.count("\n") == 1 and out.err.startswith("published_curves: ")
    assert not (tmp_path / "kodak-comparison.md").exists()
