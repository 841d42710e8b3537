"""Tests of the command line's folder mode: mirrored trees, reruns, failures recorded per file.

The tiny untrained model of conftest.py is saved to a directory and passed with ``--model``
(conftest.py's ``run`` fixture); ``shared_codecs`` lets every ``Codec(...)`` the CLI builds
reuse one instance per model.
"""

import os

import numpy as np
import pytest
from PIL import Image

from tests.helpers import assert_one_error_line, save, smooth_image, snapshot, tree


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
