"""Tests of the ``tfrnncomp`` command line, run in-process through ``main([...])``.

The tiny untrained model of conftest.py is saved to a directory and passed with ``--model``.
Most tests let every ``Codec(...)`` the CLI builds reuse one instance per model (the
``shared_codecs`` fixture), so each command does not rebuild and retrace the model; the
first test loads the model from its directory for real.
"""

import contextlib
import io
import json
import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.helpers import adaptive_file, png16, save_oriented, smooth_image, wide_image
from tfrnncomp.eval import metrics
from tfrnncomp.format import container as bitstream
from tfrnncomp.apps.cli import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SHARED = {}


@pytest.fixture()
def shared_codecs(monkeypatch, tiny_codec, tiny_model_dir):
    """Make ``Codec(model)`` return one shared instance per model argument."""
    from tfrnncomp import codec as codec_module

    real = codec_module.Codec
    _SHARED.setdefault((tiny_model_dir, ()), tiny_codec)

    def shared(model=None, **kwargs):
        key = (model, tuple(sorted(kwargs.items())))
        if key not in _SHARED:
            _SHARED[key] = real(model, **kwargs)
        return _SHARED[key]

    monkeypatch.setattr(codec_module, "Codec", shared)


@pytest.fixture()
def run(capsys, tiny_model_dir):
    """``run("compress", a, b, ...)`` -> (exit code, stdout, stderr); adds ``--model``
    (tiny) to the commands that take it unless ``model=False``."""

    def run(*args, model=True):
        argv = [str(a) for a in args]
        if model and argv[0] in ("compress", "decompress", "info"):
            argv += ["--model", tiny_model_dir]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def save(path, array, mode=None):
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = Image.fromarray(array) if mode is None else Image.fromarray(array).convert(mode)
    image.save(path)
    return path


def snapshot(path):
    """Bytes and modification time of a file, to check it was not touched."""
    return open(path, "rb").read(), os.stat(path).st_mtime_ns


def tree(root):
    """Every file under ``root``, relative, sorted (hidden temporary files included)."""
    found = []
    for directory, _, files in os.walk(root):
        found += [os.path.relpath(os.path.join(directory, f), root) for f in files]
    return sorted(found)


def assert_one_error_line(code, err):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("tfrnncomp: error:")


# -- round trips ----------------------------------------------------------------------------
def test_compress_and_decompress_load_the_model_given_with_model_and_round_trip_a_png(
        run, tmp_path, tiny_codec):
    original = smooth_image(31, 45, seed=1)
    source = save(tmp_path / "in.png", original)
    untouched = snapshot(source)
    code, out, err = run("compress", source, tmp_path / "out.trc", "--iterations", "3")
    assert (code, err) == (0, "")
    data = (tmp_path / "out.trc").read_bytes()
    assert out.strip() == (f"{tmp_path / 'out.trc'}: {len(data)} bytes, "
                           f"{len(data) * 8 / (31 * 45):.4f} bpp, 3 iterations")
    assert data == tiny_codec.compress(original, 3)
    code, out, err = run("decompress", tmp_path / "out.trc", tmp_path / "back.png")
    assert (code, err) == (0, "")
    assert "back.png" in out
    decoded = np.asarray(Image.open(tmp_path / "back.png"))
    assert np.array_equal(decoded, tiny_codec.decompress(data))
    assert snapshot(source) == untouched
    assert (tmp_path / "out.trc").read_bytes() == data
    assert sorted(os.listdir(tmp_path)) == ["back.png", "in.png", "out.trc"]


@pytest.mark.parametrize("kind", ["rgb", "grey", "palette"])
def test_odd_sized_rgb_greyscale_and_palette_pngs_round_trip_through_the_cli(
        run, shared_codecs, tmp_path, tiny_codec, kind):
    if kind == "rgb":
        original, mode, channels = smooth_image(31, 45, seed=2), None, 3
    elif kind == "grey":
        original, mode, channels = smooth_image(50, 17, seed=3)[..., 0], None, 1
    else:
        original, mode, channels = smooth_image(33, 20, seed=4), "P", 3
    source = save(tmp_path / f"{kind}.png", original, mode)
    assert Image.open(source).mode == {"rgb": "RGB", "grey": "L", "palette": "P"}[kind]
    height, width = original.shape[:2]

    code, out, err = run("compress", source, tmp_path / "x.trc", "--iterations", "4",
                         "--entropy", "raw")
    assert (code, err) == (0, "")
    data = (tmp_path / "x.trc").read_bytes()
    assert data == tiny_codec.compress(Image.open(source), 4, entropy="raw")
    header = bitstream.read(data).header
    assert (header.height, header.width, header.channels) == (height, width, channels)
    assert len(data) == tiny_codec.file_size(height, width, 4)

    code, out, err = run("decompress", tmp_path / "x.trc", tmp_path / "x.png")
    assert (code, err) == (0, "")
    decoded = Image.open(tmp_path / "x.png")
    assert decoded.mode == ("L" if channels == 1 else "RGB")
    assert decoded.size == (width, height)
    assert np.array_equal(np.asarray(decoded), tiny_codec.decompress(data))


def test_decompress_iterations_k_decodes_the_first_k_iterations(run, shared_codecs, tmp_path,
                                                                tiny_codec):
    source = save(tmp_path / "in.png", smooth_image(40, 23, seed=5))
    assert run("compress", source, tmp_path / "in.trc", "--iterations", "5")[0] == 0
    data = (tmp_path / "in.trc").read_bytes()
    for k in (1, 3):
        code, _, err = run("decompress", tmp_path / "in.trc", tmp_path / f"k{k}.png",
                           "--iterations", str(k))
        assert (code, err) == (0, "")
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"k{k}.png")),
                              tiny_codec.decompress(data, k))
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "k1.png")),
                              np.asarray(Image.open(tmp_path / "k3.png")))
    code, _, err = run("decompress", tmp_path / "in.trc", tmp_path / "k9.png", "--iterations", "9")
    assert_one_error_line(code, err)
    assert "5 whole iterations" in err
    assert not (tmp_path / "k9.png").exists()


def test_compress_bpp_picks_the_iterations_the_codec_picks(run, shared_codecs, tmp_path,
                                                          tiny_codec):
    source = save(tmp_path / "in.png", smooth_image(64, 96, seed=6))
    for entropy in ("raw", "context"):
        code, _, err = run("compress", source, tmp_path / "in.trc", "--bpp", "1.0",
                           "--entropy", entropy, "--force")
        assert (code, err) == (0, "")
        data = (tmp_path / "in.trc").read_bytes()
        assert data == tiny_codec.compress(Image.open(source), bpp=1.0, entropy=entropy)
        assert len(data) * 8 / (64 * 96) <= 1.0
    with pytest.raises(SystemExit) as exit_info:  # argparse: mutually exclusive options
        run("compress", source, tmp_path / "in.trc", "--bpp", "1.0", "--iterations", "2")
    assert exit_info.value.code == 2


def test_a_budget_below_the_smallest_file_is_an_error_naming_it_unless_best_effort(
        run, shared_codecs, tmp_path, tiny_codec):
    original = smooth_image(64, 96, seed=6)
    source = save(tmp_path / "in.png", original)
    smallest = len(tiny_codec.compress(original, 1))
    for budget in (["--target-size", "50"], ["--bpp", "0.01"]):
        target = tmp_path / f"{budget[0][2:]}.trc"
        code, out, err = run("compress", source, target, *budget)
        assert_one_error_line(code, err)
        assert f"the smallest file is {smallest} bytes" in err and "1 iteration" in err
        assert err.rstrip().endswith("; pass --best-effort to write it")
        assert out == "" and not target.exists()
        code, out, err = run("compress", source, target, *budget, "--best-effort")
        assert (code, err) == (0, "")
        assert target.stat().st_size == smallest
        assert out.strip() == (f"{target}: {smallest} bytes, "
                               f"{smallest * 8 / (64 * 96):.4f} bpp, 1 iteration; {budget[0]} "
                               f"{budget[1]} not met, the nearest "
                               "file written (--best-effort)")


def test_an_unreachable_quality_target_is_an_error_naming_the_best_reached_unless_best_effort(
        run, shared_codecs, coded, tmp_path, tiny_codec):
    original, source, _ = coded
    for flag, value, name in (("--target-psnr", "99", "PSNR"),
                              ("--target-msssim", "0.999999", "MS-SSIM")):
        code, out, err = run("compress", source, tmp_path / "q.trc", flag, value)
        assert_one_error_line(code, err)
        assert f"the most iterations (16) reach {name} " in err and "--best-effort" in err
        assert not (tmp_path / "q.trc").exists()
    code, out, err = run("compress", source, tmp_path / "q.trc", "--target-psnr", "99",
                         "--best-effort")
    assert (code, err) == (0, "")
    data = (tmp_path / "q.trc").read_bytes()
    psnr = metrics.psnr(original, tiny_codec.decompress(data))
    assert bitstream.read(data).header.iterations == 16
    assert out.strip().endswith(f", 16 iterations, PSNR {psnr:.2f} dB; --target-psnr 99 "
                                "not met, the nearest file written (--best-effort)")


def test_compress_json_prints_the_summary_as_one_object_and_quiet_prints_nothing(
        run, shared_codecs, coded, tmp_path, tiny_codec):
    original, source, _ = coded
    code, out, err = run("compress", source, tmp_path / "j.trc", "--target-psnr", "1",
                         "--json")
    assert (code, err) == (0, "") and len(out.splitlines()) == 1
    summary = json.loads(out)
    data = (tmp_path / "j.trc").read_bytes()
    assert summary == {
        "file": str(tmp_path / "j.trc"), "bytes": len(data),
        "bpp": pytest.approx(len(data) * 8 / (170 * 165)),
        "iterations": bitstream.read(data).header.iterations, "target": "target_psnr", "target_value": 1.0,
        "psnr": pytest.approx(metrics.psnr(original, tiny_codec.decompress(data))),
        "met": True}
    assert run("compress", source, tmp_path / "q.trc", "--iterations", "2",
               "--quiet") == (0, "", "")
    assert (tmp_path / "q.trc").exists()


def test_iterations_out_of_range_fail_in_one_line_before_tensorflow_is_imported(
        tiny_model_dir):
    for command in ("compress", "decompress"):
        argv = [command, "a.png", "b.trc", "--iterations", "0", "--model", tiny_model_dir]
        script = ("import sys; from tfrnncomp.apps import cli; "
                  f"rc = cli.main({argv!r}); print('tensorflow' in sys.modules, rc)")
        result = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=120,
                                capture_output=True, text=True)
        assert result.stdout.split() == ["False", "2"], result
        assert result.stderr == "tfrnncomp: error: --iterations must be in 1..16, got 0\n"


@pytest.mark.parametrize("flags, message", [
    (["--adaptive"], "--adaptive needs one stopping rule: --target-psnr or --slope"),
    (["--adaptive", "--target-psnr", "30", "--slope", "1"], "--target-psnr or --slope"),
    (["--slope", "1"], "--slope is a stopping rule of --adaptive; add --adaptive"),
    (["--adaptive", "--slope", "1", "--bpp", "0.5"],
     "--adaptive takes --target-psnr, or --slope with an optional --iterations cap; not --bpp"),
    (["--search", "9"], "--search must be in 0..8 sweeps, got 9"),
    (["--adaptive", "--target-psnr", "30", "--search", "1"],
     "--search does not combine with --adaptive"),
])
def test_adaptive_setting_errors_name_the_command_line_flags(run, tmp_path, flags, message):
    source = save(tmp_path / "in.png", smooth_image(32, 32))
    code, _, err = run("compress", source, tmp_path / "out.trc", *flags)
    assert_one_error_line(code, err)
    assert message in err and "target_psnr" not in err
    assert not (tmp_path / "out.trc").exists()


def test_compress_search_writes_the_file_the_codec_writes_with_search(run, tmp_path,
                                                                       tiny_codec):
    original = smooth_image(32, 48, seed=2)
    source = save(tmp_path / "in.png", original)
    code, _, err = run("compress", source, tmp_path / "out.trc", "--iterations", "2",
                       "--search", "1", "-q")
    assert (code, err) == (0, "")
    assert (tmp_path / "out.trc").read_bytes() == tiny_codec.compress(original, 2, search=1)


# -- info -----------------------------------------------------------------------------------
@pytest.fixture()
def coded(run, shared_codecs, tmp_path):
    """A 170x165 image (big enough for MS-SSIM) coded at 3 iterations."""
    original = smooth_image(170, 165, seed=7)
    source = save(tmp_path / "orig.png", original)
    assert run("compress", source, tmp_path / "orig.trc", "--iterations", "3",
               "--entropy", "raw")[0] == 0
    return original, source, str(tmp_path / "orig.trc")


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


# -- folder mode ----------------------------------------------------------------------------
@pytest.fixture()
def photo_tree(tmp_path):
    root = tmp_path / "photos"
    save(root / "a.png", smooth_image(20, 30, seed=10))
    save(root / "sub" / "b.png", smooth_image(17, 9, seed=11)[..., 0])
    save(root / "sub" / "deeper" / "c.jpg", smooth_image(33, 35, seed=12))
    (root / "sub" / "notes.txt").write_text("not an image")
    return root


def test_folder_mode_mirrors_the_tree_and_skips_existing_outputs_on_rerun(
        run, shared_codecs, tmp_path, photo_tree, tiny_codec):
    inputs = {path: snapshot(photo_tree / path) for path in tree(photo_tree)}
    out = tmp_path / "trc"
    code, stdout, err = run("compress", photo_tree, out, "--iterations", "2")
    assert (code, err) == (0, "")
    assert "3 written, 0 skipped (existing), 0 failed" in stdout
    assert tree(out) == ["a.trc", "sub/b.trc", "sub/deeper/c.trc"]
    for name in ("a", "sub/b", "sub/deeper/c"):
        source = next(photo_tree.glob(name + ".*"))
        assert (out / (name + ".trc")).read_bytes() == tiny_codec.compress(Image.open(source), 2)

    before = {name: snapshot(out / name) for name in tree(out)}
    code, stdout, err = run("compress", photo_tree, out, "--iterations", "2")
    assert (code, err) == (0, "")
    assert "0 written, 3 skipped (existing), 0 failed" in stdout
    assert {name: snapshot(out / name) for name in tree(out)} == before

    os.unlink(out / "sub" / "b.trc")  # resume: only the missing output is written
    code, stdout, err = run("compress", photo_tree, out, "--iterations", "2")
    assert "1 written, 2 skipped (existing), 0 failed" in stdout
    assert tree(out) == ["a.trc", "sub/b.trc", "sub/deeper/c.trc"]

    images = tmp_path / "png"
    code, stdout, err = run("decompress", out, images)
    assert (code, err) == (0, "")
    assert "3 written, 0 skipped (existing), 0 failed" in stdout
    assert tree(images) == ["a.png", "sub/b.png", "sub/deeper/c.png"]
    for name in ("a", "sub/b", "sub/deeper/c"):
        expected = tiny_codec.decompress((out / (name + ".trc")).read_bytes())
        assert np.array_equal(np.asarray(Image.open(images / (name + ".png"))), expected)
    code, stdout, err = run("decompress", out, images)
    assert (code, err) == (0, "")
    assert "0 written, 3 skipped (existing), 0 failed" in stdout
    code, stdout, err = run("decompress", out, images, "--format", "bmp", "--iterations", "1")
    assert (code, err) == (0, "")
    assert "3 written, 0 skipped (existing), 0 failed" in stdout
    assert np.array_equal(np.asarray(Image.open(images / "sub" / "deeper" / "c.bmp")),
                          tiny_codec.decompress((out / "sub/deeper/c.trc").read_bytes(), 1))
    assert {name: snapshot(photo_tree / name) for name in tree(photo_tree)} == inputs
    assert not [name for name in tree(tmp_path) if ".tmp" in name]


def test_a_corrupt_image_in_a_folder_is_recorded_as_a_failure_without_stopping_the_others(
        run, shared_codecs, tmp_path, photo_tree):
    (photo_tree / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    good = (tmp_path / "good.png")
    save(good, smooth_image(30, 30))
    (photo_tree / "sub" / "cut.png").write_bytes(good.read_bytes()[:60])
    out = tmp_path / "trc"
    code, stdout, err = run("compress", photo_tree, out, "--iterations", "1")
    assert code == 1
    assert "3 written, 0 skipped (existing), 2 failed" in stdout
    failures = err.splitlines()
    assert len(failures) == 2
    assert all(line.startswith("tfrnncomp: failed: ") for line in failures)
    assert any("broken.png" in line for line in failures)
    assert any("cut.png" in line for line in failures)
    assert tree(out) == ["a.trc", "sub/b.trc", "sub/deeper/c.trc"]
    # a rerun skips what exists and still reports the failures
    code, stdout, err = run("compress", photo_tree, out, "--iterations", "1")
    assert code == 1
    assert "0 written, 3 skipped (existing), 2 failed" in stdout

    # the same for a corrupt .trc in decompress folder mode
    data = bytearray((out / "a.trc").read_bytes())
    data[-3] ^= 0xFF
    (out / "a.trc").write_bytes(bytes(data))
    code, stdout, err = run("decompress", out, tmp_path / "png")
    assert code == 1
    assert "2 written, 0 skipped (existing), 1 failed" in stdout
    assert err.startswith("tfrnncomp: failed: ") and "a.trc" in err and "checksum" in err
    assert tree(tmp_path / "png") == ["sub/b.png", "sub/deeper/c.png"]


def test_two_inputs_that_map_to_the_same_output_are_not_silently_skipped(
        run, shared_codecs, tmp_path):
    root = tmp_path / "photos"
    save(root / "x.png", smooth_image(16, 16, seed=1))
    save(root / "x.bmp", smooth_image(16, 16, seed=2))
    code, stdout, err = run("compress", root, tmp_path / "trc", "--iterations", "1")
    assert code == 1
    assert "1 written, 0 skipped (existing), 1 failed" in stdout
    assert err.count("\n") == 1 and "x.png" in err and "x.bmp" in err
    assert tree(tmp_path / "trc") == ["x.trc"]
    code, stdout, err = run("compress", root, tmp_path / "trc", "--iterations", "1")
    assert code == 1
    assert "0 written, 1 skipped (existing), 1 failed" in stdout


def test_folder_mode_refuses_an_output_folder_inside_the_input_folder(run, tmp_path,
                                                                       photo_tree):
    code, _, err = run("compress", photo_tree, photo_tree / "trc")
    assert_one_error_line(code, err)
    assert not (photo_tree / "trc").exists()


# -- errors ---------------------------------------------------------------------------------
@pytest.fixture()
def workspace(tmp_path):
    """Inputs for the error cases: a PNG, its .trc, an RGBA PNG, corrupt files."""
    ws = tmp_path / "ws"
    ws.mkdir()
    save(ws / "in.png", smooth_image(21, 26, seed=20))
    rgba = np.concatenate([smooth_image(21, 26), np.full((21, 26, 1), 200, np.uint8)], -1)
    Image.fromarray(rgba, mode="RGBA").save(ws / "rgba.png")
    (ws / "notes.txt").write_text("hello, I am not an image\n")
    (ws / "existing.trc").write_bytes(b"keep me")
    (ws / "sub").mkdir()
    return ws


@pytest.fixture()
def good_trc(workspace, tiny_codec):
    data = tiny_codec.compress(np.asarray(Image.open(workspace / "in.png")), 3)
    (workspace / "good.trc").write_bytes(data)
    return data


def corrupt_variants(data, model_id):
    head = 34 + len(model_id)  # header without extensions
    flipped = bytearray(data)
    flipped[head + 5] ^= 0x01  # second byte of the first chunk's payload
    return {
        "garbage": b"this is not a tfrnncomp file at all",
        "empty": b"",
        "cut-header": data[:head - 3],
        "cut-first-chunk": data[:head + 6],
        "flipped-payload": bytes(flipped),
        "trailing": data + b"xx",
    }


ERROR_CASES = {
    "missing input": ("compress", "missing.png", "out.trc"),
    "missing trc": ("decompress", "missing.trc", "out.png"),
    "missing info file": ("info", "missing.trc"),
    "output is input": ("compress", "in.png", "in.png"),
    "output is input, forced": ("compress", "in.png", "in.png", "--force"),
    "decompress output is input": ("decompress", "good.trc", "good.trc", "--force"),
    "existing output": ("compress", "in.png", "existing.trc"),
    "output is a folder": ("compress", "in.png", "sub"),
    "output folder missing": ("compress", "in.png", "nowhere/out.trc"),
    "rgba without --drop-alpha": ("compress", "rgba.png", "out.trc"),
    "non-image file": ("compress", "notes.txt", "out.trc"),
    "non-trc file": ("decompress", "notes.txt", "out.png"),
    "non-trc file info": ("info", "notes.txt"),
    "png given to decompress": ("decompress", "in.png", "out.png"),
    "iterations 0": ("compress", "in.png", "out.trc", "--iterations", "0"),
    "iterations 17": ("compress", "in.png", "out.trc", "--iterations", "17"),
    "bpp 0": ("compress", "in.png", "out.trc", "--bpp", "0"),
    "unknown output extension": ("decompress", "good.trc", "out.xyz"),
    "decompress iterations 0": ("decompress", "good.trc", "out.png", "--iterations", "0"),
    "unknown model": ("compress", "in.png", "out.trc", "--model", "no-such-model"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_each_error_exits_with_status_two_and_prints_one_line_without_touching_files(
        run, shared_codecs, workspace, good_trc, monkeypatch, case):
    monkeypatch.chdir(workspace)
    args = ERROR_CASES[case]
    before = {name: snapshot(workspace / name) for name in tree(workspace)}
    code, out, err = run(*args, model="--model" not in args)
    assert_one_error_line(code, err)
    assert out == ""
    assert {name: snapshot(workspace / name) for name in tree(workspace)} == before


@pytest.mark.parametrize("variant", ["garbage", "empty", "cut-header", "cut-first-chunk",
                                     "flipped-payload", "trailing"])
def test_a_corrupt_trc_file_is_an_error_with_status_two_for_decompress_and_info(
        run, shared_codecs, tmp_path, good_trc, tiny_codec, variant):
    bad = tmp_path / "bad.trc"
    bad.write_bytes(corrupt_variants(good_trc, tiny_codec.model_id)[variant])
    code, _, err = run("decompress", bad, tmp_path / "out.png")
    assert_one_error_line(code, err)
    code, _, err = run("info", bad)
    assert_one_error_line(code, err)
    assert sorted(os.listdir(tmp_path)) == ["bad.trc", "ws"]


def test_rgba_input_is_coded_with_drop_alpha(run, shared_codecs, workspace, tiny_codec):
    code, _, err = run("compress", workspace / "rgba.png", workspace / "rgba.trc")
    assert_one_error_line(code, err)
    assert "--drop-alpha" in err
    code, _, err = run("compress", workspace / "rgba.png", workspace / "rgba.trc",
                       "--drop-alpha", "--iterations", "2")
    assert (code, err) == (0, "")
    rgb = np.asarray(Image.open(workspace / "rgba.png"))[..., :3]
    assert (workspace / "rgba.trc").read_bytes() == tiny_codec.compress(rgb, 2)


@pytest.mark.parametrize("grey", [False, True], ids=["rgb", "greyscale"])
def test_a_16_bit_png_is_compressed_as_8_bits_with_one_warning_line(run, shared_codecs,
                                                                     tmp_path, tiny_codec, grey):
    wide, high = wide_image(21, 26, seed=21, grey=grey)
    source = tmp_path / "wide.png"
    source.write_bytes(png16(wide))
    code, out, err = run("compress", source, tmp_path / "wide.trc", "--iterations", "2")
    assert code == 0 and "wide.trc" in out
    assert err.splitlines() == [f"tfrnncomp: warning: {source}: 16-bit image converted to 8 "
                                "bits per sample (the codec codes 8-bit images)"]
    assert (tmp_path / "wide.trc").read_bytes() == tiny_codec.compress(high, 2)


def test_exif_orientation_and_16_bit_depth_are_applied_per_file_in_folder_mode(
        run, shared_codecs, tmp_path, tiny_codec):
    original = smooth_image(20, 30, seed=22)
    wide, high = wide_image(17, 9, seed=23)
    root = tmp_path / "photos"
    root.mkdir()
    save_oriented(root / "turned.png", original, 8)  # shown turned 90 degrees left
    (root / "wide.png").write_bytes(png16(wide))
    code, out, err = run("compress", root, tmp_path / "trc", "--iterations", "2")
    assert code == 0 and "2 written, 0 skipped (existing), 0 failed" in out
    assert err.splitlines() == [f"tfrnncomp: warning: {root / 'wide.png'}: 16-bit image "
                                "converted to 8 bits per sample (the codec codes 8-bit images)"]
    assert (tmp_path / "trc" / "turned.trc").read_bytes() == tiny_codec.compress(
        np.rot90(original), 2)
    assert (tmp_path / "trc" / "wide.trc").read_bytes() == tiny_codec.compress(high, 2)
    code, _, err = run("compress", root / "turned.png", tmp_path / "one.trc", "--iterations",
                       "2")
    assert (code, err) == (0, "")
    assert (tmp_path / "one.trc").read_bytes() == (tmp_path / "trc" / "turned.trc").read_bytes()


def test_a_folder_input_refuses_a_trc_or_existing_file_output_in_one_line(run, tmp_path,
                                                                           photo_tree):
    (tmp_path / "out").mkdir()
    (tmp_path / "file").write_bytes(b"keep me")
    for target, message in ((tmp_path / "out" / "one.trc", "must be a folder, not a .trc file"),
                            (tmp_path / "ONE.TRC", "must be a folder, not a .trc file"),
                            (tmp_path / "file", "input is a folder, so the output must be one")):
        code, out, err = run("compress", photo_tree, target)
        assert_one_error_line(code, err)
        assert (out, message in err) == ("", True)
    assert tree(tmp_path / "out") == [] and not (tmp_path / "ONE.TRC").exists()
    assert (tmp_path / "file").read_bytes() == b"keep me"


def test_compress_to_an_image_name_and_decompress_to_a_trc_name_are_refused_in_one_line(
        run, shared_codecs, workspace, good_trc, monkeypatch):
    monkeypatch.chdir(workspace)
    before = tree(workspace)
    for args, message in (
            (("compress", "in.png", "in.jpg"),
             "in.jpg: compress writes a .trc file, not a JPEG image; name the output *.trc"),
            (("compress", "in.png", "out.TIFF"), "not a TIFF image"),
            (("decompress", "good.trc", "out.trc"), "out.trc: decompress writes an image, not "
             "a .trc file; name the output with an image extension such as .png"),
            (("decompress", "sub", "images", "--format", "trc"),
             "--format trc: decompress writes images")):
        code, out, err = run(*args)
        assert_one_error_line(code, err)
        assert (out, message in err) == ("", True)
    assert tree(workspace) == before


def test_force_overwrites_an_existing_output_and_never_the_input(run, shared_codecs,
                                                                 workspace):
    source = workspace / "in.png"
    original = snapshot(source)
    code, _, err = run("compress", source, workspace / "existing.trc", "--force",
                       "--iterations", "1")
    assert (code, err) == (0, "")
    assert (workspace / "existing.trc").read_bytes()[:4] == b"TRNC"
    assert snapshot(source) == original
    link = workspace / "link.png"
    os.link(source, link)  # a second name for the input is still the input
    code, _, err = run("compress", source, link, "--force")
    assert_one_error_line(code, err)
    assert snapshot(source) == original


@contextlib.contextmanager
def deadline(seconds):
    """Fail (instead of hanging) if the block takes longer than ``seconds``."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_force_never_replaces_a_fifo_or_a_link_to_a_device(run, shared_codecs, workspace,
                                                           good_trc):
    os.mkfifo(workspace / "fifo.trc")
    os.symlink(os.devnull, workspace / "null.png")  # a regular file must not replace the link
    before = tree(workspace)
    with deadline(120):
        for args in (("compress", workspace / "in.png", workspace / "fifo.trc"),
                     ("decompress", workspace / "good.trc", workspace / "null.png")):
            for force in ((), ("--force",)):
                code, out, err = run(*args, *force)
                assert_one_error_line(code, err)
                assert "not a regular file; refusing to replace it (use - to write to " \
                       "stdout)" in err
    assert stat.S_ISFIFO(os.lstat(workspace / "fifo.trc").st_mode)
    assert os.readlink(workspace / "null.png") == os.devnull
    assert tree(workspace) == before


def test_a_fifo_given_as_the_input_is_refused_at_once(run, shared_codecs, tmp_path):
    os.mkfifo(tmp_path / "in.png")
    os.mkfifo(tmp_path / "in.trc")
    with deadline(120):  # opening a FIFO nobody writes to waits forever
        for command, source, target in (("compress", "in.png", "out.trc"),
                                        ("decompress", "in.trc", "out.png"),
                                        ("info", "in.trc", None)):
            args = [command, tmp_path / source] + ([tmp_path / target] if target else [])
            code, _, err = run(*args)
            assert_one_error_line(code, err)
            assert f"{tmp_path / source}: is a FIFO, not a regular file" in err
    assert sorted(os.listdir(tmp_path)) == ["in.png", "in.trc"]


def test_a_dash_reads_stdin_and_writes_stdout_and_decompress_writes_png(
        shared_codecs, tiny_model_dir, tiny_codec, monkeypatch, capsysbinary):
    original = smooth_image(23, 31, seed=5)
    png = io.BytesIO()
    Image.fromarray(original).save(png, format="PNG")

    def pipe(data, *args):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        code = main([*args, "--model", tiny_model_dir])
        out, err = capsysbinary.readouterr()
        assert (code, err) == (0, b"")
        return out

    data = pipe(png.getvalue(), "compress", "-", "-", "--iterations", "2", "--quiet")
    assert data == tiny_codec.compress(original, 2)
    decoded = pipe(data, "decompress", "-", "-")
    assert decoded[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(decoded))),
                          tiny_codec.decompress(data))


def test_a_failed_write_leaves_no_temporary_file_behind(run, shared_codecs, workspace,
                                                        good_trc, monkeypatch):
    from tfrnncomp.codec import image_io

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", dst)

    monkeypatch.setattr(image_io.os, "replace", refuse)
    monkeypatch.setattr(image_io.os, "link", refuse)  # the final step without --force
    before = tree(workspace)
    code, _, err = run("compress", workspace / "in.png", workspace / "out.trc")
    assert_one_error_line(code, err)
    assert "cannot write" in err
    code, _, err = run("decompress", workspace / "good.trc", workspace / "out.png")
    assert_one_error_line(code, err)
    assert "cannot write" in err
    assert tree(workspace) == before


def test_successful_commands_leave_no_temporary_files(run, shared_codecs, workspace, good_trc):
    code, _, _ = run("compress", workspace / "in.png", workspace / "sub" / "in.trc",
                     "--iterations", "2")
    assert code == 0
    code, _, _ = run("decompress", workspace / "good.trc", workspace / "sub" / "good.png")
    assert code == 0
    assert tree(workspace / "sub") == ["good.png", "in.trc"]


# -- the installed entry point ----------------------------------------------------------------
def test_the_command_line_runs_as_a_module_and_as_the_console_script_and_prints_its_help():
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    commands = [[sys.executable, "-m", "tfrnncomp", "--help"]]
    script = os.path.join(os.path.dirname(sys.executable), "tfrnncomp")
    if os.path.isfile(script):  # installed with pip: the console script too
        commands.append([script, "--help"])
    for command in commands:
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                                cwd=REPO)
        assert result.returncode == 0, result.stderr
        for name in ("compress", "decompress", "info", "train", "models"):
            assert name in result.stdout


def test_models_lists_the_shipped_default_model(run):
    code, out, err = run("models")
    assert (code, err) == (0, "")
    line, = [line for line in out.splitlines() if line.startswith("gru-w25 (default): gru-w25@")]
    assert ", gru, width 0.25, 16 iterations (useful " in line
    assert "entropy model binaryrnn@" in line and line.endswith(" MB")
    assert "post-filter postfilter@" in line


def test_train_help_shows_the_defaults_of_its_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    entries = out.split("\n  -")[1:]  # each option's entry, its wrapped lines indented deeper
    helps = {"-" + entry.split()[0]: " ".join(entry.split()) for entry in entries}
    for option, default in (("--epochs", "100"), ("--patch-size", "64"),
                            ("--validation-fraction", "0.05"), ("--validation-images", "8"),
                            ("--validation-crop", "256"), ("--learning-rate", "0.0005")):
        assert helps[option].endswith(f"(default: {default})")
    assert "--validation-data" in helps and "(default: None)" not in out


def test_train_takes_the_precision_and_xla_options_of_the_training_config(monkeypatch, tmp_path):
    from tfrnncomp.training import train
    from tfrnncomp.apps import cli

    seen = {}
    monkeypatch.setattr(train, "train", lambda config, training, out, **kw: seen.update(
        training=training))
    argv = ["train", "--data", str(tmp_path), "--config", "c.json", "--out", str(tmp_path / "r")]
    assert cli.main(argv + ["--precision", "mixed_bfloat16", "--jit-compile"]) == 0
    assert (seen["training"].precision, seen["training"].jit_compile) == ("mixed_bfloat16", True)
    assert cli.main(argv) == 0
    assert (seen["training"].precision, seen["training"].jit_compile) == ("float32", False)
