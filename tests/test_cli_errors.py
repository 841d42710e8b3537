"""Tests of the command line's errors and file safety: one line and status 2, inputs never
touched, outputs written atomically, odd inputs (RGBA, 16 bits, EXIF, FIFOs, stdin).

The tiny untrained model of conftest.py is saved to a directory and passed with ``--model``
(conftest.py's ``run`` fixture); ``shared_codecs`` lets every ``Codec(...)`` the CLI builds
reuse one instance per model.
"""

import contextlib
import io
import os
import signal
import stat
import sys

import numpy as np
import pytest
from PIL import Image

from tests.helpers import (assert_one_error_line, png16, save, save_oriented, smooth_image,
                           snapshot, tree, wide_image)
from tfrnncomp.apps.cli import main


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
