"""``tfrnncomp eval FOLDER``: the installed evaluation command (results, tables, plots, errors)."""

import os

import pytest
from PIL import Image

from tests.helpers import smooth_image
from tfrnncomp.eval import classic, schema


@pytest.fixture(scope="module")
def small_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    for seed, name in enumerate(("one.png", "two.png")):
        Image.fromarray(smooth_image(64, 96, seed=seed)).save(folder / name)
    return folder


@pytest.fixture()
def eval_cli(capsys, monkeypatch, tiny_codec, tiny_model_dir):
    """``eval_cli(folder, *flags)`` -> (exit code, stdout, stderr) of ``tfrnncomp eval`` with
    the tiny model at iterations 1-2 (the already loaded tiny codec is reused)."""
    from tfrnncomp import codec as codec_module
    from tfrnncomp.apps.cli import main

    real = codec_module.Codec
    monkeypatch.setattr(codec_module, "Codec", lambda model=None, **kwargs: tiny_codec
                        if model == tiny_model_dir and not kwargs else real(model, **kwargs))

    def run(folder, *flags):
        code = main(["eval", str(folder), "--model", tiny_model_dir, "--iterations", "1-2",
                     "--quiet", *map(str, flags)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_eval_writes_results_of_the_documented_schema_and_prints_a_table(eval_cli, small_folder,
                                                                          tmp_path):
    code, out, err = eval_cli(small_folder, "--json", tmp_path / "ours.json")
    assert code == 0 and err == ""
    result = schema.load_result(str(tmp_path / "ours.json"))  # validates the schema
    assert result["codec"]["family"] == "tfrnncomp"
    assert result["dataset"]["images"] == ["one.png", "two.png"]
    assert [p["setting"] for p in result["points"]] == [1, 2]
    assert sorted(os.listdir(tmp_path)) == ["ours.json"]
    lines = out.splitlines()
    assert lines[0].startswith(result["name"] + ":") and "(2 images)" in lines[0]
    assert lines[1].split() == ["iterations", "bpp", "PSNR", "(dB)", "MS-SSIM"]
    for line, point in zip(lines[2:4], result["points"]):
        assert line.split() == [str(point["setting"]), f"{point['bpp']:.4f}",
                                f"{point['psnr']:.2f}", "-"]  # MS-SSIM: images under 161 px
    assert lines[4:] == [f"{tmp_path / 'ours.json'}: written"]


def test_eval_compare_jpeg_adds_jpeg_results_and_skips_an_unavailable_codec_in_one_line(
        eval_cli, small_folder, tmp_path, monkeypatch):
    monkeypatch.setattr(classic.get("webp"), "unavailable", lambda: "no WebP in this Pillow")
    code, out, err = eval_cli(small_folder, "--compare", "jpeg,webp",
                              "--json", tmp_path / "ours.json")
    assert code == 0
    assert err.splitlines() == ["tfrnncomp eval: webp skipped: no WebP in this Pillow"]
    assert sorted(os.listdir(tmp_path)) == ["ours-jpeg420.json", "ours.json"]
    jpeg = schema.load_result(str(tmp_path / "ours-jpeg420.json"))
    assert jpeg["name"] == "jpeg420" and jpeg["codec"]["family"] == "classic"
    assert [p["setting"] for p in jpeg["points"]] == list(classic.get("jpeg420").settings)
    assert "\njpeg420: JPEG 4:2:0" in out and "\n          quality " in out


def test_eval_plot_writes_a_png(eval_cli, small_folder, tmp_path):
    pytest.importorskip("matplotlib")
    code, out, _ = eval_cli(small_folder, "--compare", "jpeg", "--plot", tmp_path / "rd.png")
    assert code == 0 and out.endswith(f"{tmp_path / 'rd.png'}: written\n")
    assert (tmp_path / "rd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["rd.png"]


def test_eval_plot_without_matplotlib_is_one_line_naming_the_eval_extra(eval_cli, small_folder,
                                                                         monkeypatch, tmp_path):
    from tfrnncomp.eval import rdplot

    monkeypatch.setattr(rdplot, "matplotlib_unavailable", lambda: "no matplotlib")
    code, _, err = eval_cli(small_folder, "--plot", tmp_path / "rd.png")
    assert code == 2
    assert err.splitlines() == ["tfrnncomp: error: --plot needs matplotlib: "
                                "pip install tfrnncomp[eval]"]


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nowhere", "not found"),
    (lambda tmp: tmp, "no images in"),
])
def test_eval_of_a_missing_folder_or_one_without_images_is_a_one_line_error(eval_cli, tmp_path,
                                                                             make, message):
    (tmp_path / "notes.txt").write_text("not an image")
    code, out, err = eval_cli(make(tmp_path), "--json", tmp_path / "ours.json")
    assert code == 2 and out == ""
    line, = err.splitlines()
    assert line.startswith("tfrnncomp: error: ") and message in line
    assert not (tmp_path / "ours.json").exists()


def test_eval_search_out_of_range_is_a_one_line_error(eval_cli, small_folder, tmp_path):
    code, out, err = eval_cli(small_folder, "--search", "9", "--json", tmp_path / "r.json")
    assert code == 2 and out == ""
    assert err == "tfrnncomp: error: --search must be in 0..8 sweeps, got 9\n"
    assert not (tmp_path / "r.json").exists()


def test_eval_iterations_above_the_models_maximum_are_a_one_line_error(eval_cli, small_folder,
                                                                     tmp_path):
    code, out, err = eval_cli(small_folder, "--iterations", "1-17", "--json", tmp_path / "r.json")
    assert code == 2 and out == ""
    assert err == "tfrnncomp: error: --iterations must be in 1..16, got 17\n"
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("text, expected", [("1-3", [1, 2, 3]), ("1,2,4,8", [1, 2, 4, 8]),
                                            ("4,1-2", [1, 2, 4]), ("0-2", None), ("a", None)])
def test_eval_iterations_take_a_range_or_a_list(text, expected):
    import argparse

    from tfrnncomp.apps.eval_command import parse_iterations

    if expected is None:
        with pytest.raises(argparse.ArgumentTypeError):
            parse_iterations(text)
    else:
        assert parse_iterations(text) == expected
