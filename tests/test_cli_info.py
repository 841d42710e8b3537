"""Tests of ``tfrnncomp info``: the header, chunk sizes, JSON output and ``--compare``.

The tiny untrained model of conftest.py is saved to a directory and passed with ``--model``
(conftest.py's ``run`` fixture); ``shared_codecs`` lets every ``Codec(...)`` the CLI builds
reuse one instance per model.
"""

import json
import os

import numpy as np
import pytest

from tests.helpers import adaptive_file, assert_one_error_line, save, smooth_image
from tfrnncomp.eval import metrics
from tfrnncomp.format import container as bitstream


# -- info -----------------------------------------------------------------------------------
def test_info_prints_the_header_and_the_chunk_sizes(run, coded, tiny_codec):
    _, _, trc = coded
    code, out, err = run("info", trc)
    assert (code, err) == (0, "")
    chunk = bitstream.read(open(trc, "rb").read()).header.raw_chunk_bytes
    assert tiny_codec.model_id in out
    assert f"total_bytes   {os.path.getsize(trc)}" in out
    assert any(line.split() == ["iterations_present", "3"] for line in out.splitlines())
    assert f"chunk bytes   {chunk} {chunk} {chunk}" in out
    assert "PSNR" not in out


def test_max_pixels_lowers_or_lifts_the_decompression_bomb_limit_of_every_command(
        run, coded, tmp_path, capsys):
    _, source, trc = coded  # 170x165 = 28050 pixels
    for command in (["decompress", trc, tmp_path / "out.png"], ["info", trc],
                    ["compress", source, tmp_path / "again.trc"]):
        code, out, err = run(*command, "--max-pixels", "20000")
        assert code == 2 and len(err.splitlines()) == 1, (command, err)
        assert "28050" in err and "20000" in err and "pass --max-pixels to raise it" in err
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "again.trc").exists()
    assert run("decompress", trc, tmp_path / "out.png", "--max-pixels", "none")[0] == 0
    assert run("info", trc, "--max-pixels", "40000")[0] == 0  # the padded 192x192 counts too
    with pytest.raises(SystemExit):
        run("info", trc, "--max-pixels", "0")
    assert "not a pixel count: '0'" in capsys.readouterr().err


def test_info_json_is_machine_readable_and_matches_the_file(run, coded, tiny_codec):
    _, _, trc = coded
    code, out, err = run("info", trc, "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["model_id"] == tiny_codec.model_id
    assert (report["height"], report["width"], report["channels"]) == (170, 165, 3)
    assert report["iterations_declared"] == report["iterations_present"] == 3
    assert report["complete"] is True
    assert report["total_bytes"] == os.path.getsize(trc)
    assert report["chunk_bytes"] == [tiny_codec.header_for(170, 165, 3, 3).raw_chunk_bytes] * 3
    assert "quality" not in report


def test_info_json_of_a_context_coded_file_adds_up_to_its_size(run, shared_codecs, coded,
                                                              tmp_path):
    _, source, _ = coded
    code, _, err = run("compress", source, tmp_path / "ctx.trc", "--iterations", "3")
    assert (code, err) == (0, "")
    code, out, err = run("info", tmp_path / "ctx.trc", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["entropy_mode"] == "context"
    assert len(report["chunk_bytes"]) == 3
    assert (report["header_bytes"] + sum(report["chunk_bytes"]) + 8 * 3
            == report["total_bytes"] == os.path.getsize(tmp_path / "ctx.trc"))


def random_codes(iterations, code_shape, seed=0):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((iterations, *code_shape)) < 0.5, 1, -1).astype(np.int8)


def test_info_shows_the_tile_size_of_a_tiled_file_and_its_json_decodes_the_extensions(
        run, tmp_path, tiny_codec):
    import dataclasses

    header = tiny_codec.header_for(40, 70, 3, 2, "raw", tile=64)
    header = dataclasses.replace(header, extensions={**header.extensions,
                                                     3: b"tiny-rnn@0123abcd", 9: b"\xff"})
    chunks = tiny_codec.encode_chunks(random_codes(2, header.code_shape), "raw")
    (tmp_path / "tiled.trc").write_bytes(bitstream.write(header, chunks))
    code, out, err = run("info", tmp_path / "tiled.trc")
    assert (code, err) == (0, "")
    assert "  tile          64x64 pixels" in out.splitlines()
    assert "  entropy_model 'tiny-rnn@0123abcd'" in out.splitlines()
    code, out, err = run("info", tmp_path / "tiled.trc", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["extensions"] == {"tile": 64, "entropy_model": "tiny-rnn@0123abcd",
                                             "9": "ff"}


def test_info_json_gives_an_adaptive_files_iteration_map_as_its_block_size_and_histogram(
        run, tmp_path, tiny_codec):
    the_map = np.array([[1, 3], [2, 3]])
    codes = random_codes(3, tiny_codec.header_for(64, 64, 3, 3).code_shape)
    data = adaptive_file(tiny_codec, codes, 64, 64, "raw", 2, the_map)
    (tmp_path / "adaptive.trc").write_bytes(data)
    code, out, err = run("info", tmp_path / "adaptive.trc", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out)["extensions"] == {"iteration_map": {
        "block": 2, "rows": 2, "cols": 2, "mean_iterations": 2.25,
        "blocks_stopping_after": [1, 1, 2]}}


def test_info_of_a_cut_file_reports_the_whole_chunks_present(run, coded, tmp_path):
    _, _, trc = coded
    data = open(trc, "rb").read()
    (tmp_path / "cut.trc").write_bytes(data[:-10])
    code, out, err = run("info", tmp_path / "cut.trc", "--json")
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["iterations_declared"] == 3 and report["iterations_present"] == 2
    assert report["complete"] is False


def test_info_compare_reports_bpp_psnr_and_ms_ssim_after_every_iteration(run, coded,
                                                                         tiny_codec):
    original, source, trc = coded
    data = open(trc, "rb").read()
    code, out, err = run("info", trc, "--compare", source, "--json")
    assert (code, err) == (0, "")
    rows = json.loads(out)["quality"]
    assert [row["iterations"] for row in rows] == [1, 2, 3]
    assert rows[-1]["bytes"] == len(data)
    for k, row in enumerate(rows, start=1):
        decoded = tiny_codec.decompress(data, k)
        assert row["psnr"] == pytest.approx(metrics.psnr(original, decoded))
        assert row["ms_ssim"] == pytest.approx(metrics.ms_ssim(original, decoded))
        assert row["bpp"] == pytest.approx(row["bytes"] * 8 / (170 * 165))
    code, out, err = run("info", trc, "--compare", source)
    assert (code, err) == (0, "")
    quality_lines = [line for line in out.splitlines() if "PSNR" in line]
    assert len(quality_lines) == 3 and all("MS-SSIM" in line for line in quality_lines)
    assert f"{rows[0]['psnr']:.2f} dB" in quality_lines[0]


def test_info_compare_with_an_image_of_another_size_is_an_error(run, coded, tmp_path):
    _, _, trc = coded
    other = save(tmp_path / "other.png", smooth_image(20, 20))
    code, _, err = run("info", trc, "--compare", other)
    assert_one_error_line(code, err)
    assert "differs" in err
