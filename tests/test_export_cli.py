"""``tfrnncomp export savedmodel|tflite`` run as a user runs it (``python -m tfrnncomp`` in a
subprocess, outside the repository), and the packaging of the top-level ``export/`` folder
as ``tfrnncomp.export`` (setup.cfg, a source checkout, a built wheel)."""

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.helpers import smooth_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT_MODULES = ("__init__", "litert_backend", "savedmodel", "tf_context", "tflite")


def tfrnncomp(*args, cwd, pythonpath=ROOT):
    """``python -m tfrnncomp ARGS`` in ``cwd``, importing the package from ``pythonpath``."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=pythonpath)
    return subprocess.run([sys.executable, "-m", "tfrnncomp", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def one_error_line(result):
    """The refusal's only stderr line, after checking the exit status."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfrnncomp: error: "), result.stderr
    return lines[0].removeprefix("tfrnncomp: error: ")


# -- refusals -----------------------------------------------------------------------------------
def test_an_unknown_model_is_refused_before_anything_is_written(tmp_path):
    for kind in ("savedmodel", "tflite"):
        message = one_error_line(tfrnncomp("export", kind, "out", "--model", "no-such-model",
                                           cwd=tmp_path))
        assert message.startswith("unknown model 'no-such-model'")
    assert os.listdir(tmp_path) == []


def test_an_existing_savedmodel_version_is_kept_without_force(tmp_path):
    (tmp_path / "out" / "3").mkdir(parents=True)
    (tmp_path / "out" / "3" / "saved_model.pb").write_bytes(b"earlier")
    message = one_error_line(tfrnncomp("export", "savedmodel", "out", "--version", "3",
                                       cwd=tmp_path))
    assert message == "out/3: exists; pass --force to overwrite it"
    assert (tmp_path / "out" / "3" / "saved_model.pb").read_bytes() == b"earlier"


def test_an_output_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "out").write_bytes(b"a file")
    for kind in ("savedmodel", "tflite"):
        assert one_error_line(tfrnncomp("export", kind, "out", cwd=tmp_path)) == (
            "out: is not a folder")
    assert (tmp_path / "out").read_bytes() == b"a file"


def test_an_existing_tflite_file_is_kept_without_force(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "encoder_step.float16.tflite").write_bytes(b"earlier")
    message = one_error_line(tfrnncomp("export", "tflite", "out", "--quantize", "float16",
                                       cwd=tmp_path))
    assert message == "out/encoder_step.float16.tflite: exists; pass --force to overwrite it"
    assert os.listdir(tmp_path / "out") == ["encoder_step.float16.tflite"]


@pytest.mark.parametrize("flags, expected", [
    (["--quantize", "float32,int4"], "--quantize: unknown variant int4; expected some of "
     "float32,float16,dynamic_int8,int8"),
    (["--quantize", ","], "--quantize: no variant given; expected some of "
     "float32,float16,dynamic_int8,int8"),
    (["--calibration-iterations", "99"], "--calibration-iterations must be in 1..16, got 99"),
    (["--calibration-data", "nowhere"], "nowhere: --calibration-data is not a folder"),
])
def test_bad_tflite_flags_get_one_error_line(tmp_path, flags, expected):
    assert one_error_line(tfrnncomp("export", "tflite", "out", *flags, cwd=tmp_path)) == expected
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("args", [["export"], ["export", "onnx", "out"],
                                  ["export", "tflite", "out", "--height", "0"],
                                  ["export", "savedmodel", "out", "--version", "-1"]])
def test_a_missing_kind_or_a_bad_number_is_a_usage_error(tmp_path, args):
    result = tfrnncomp(*args, cwd=tmp_path)
    assert result.returncode == 2 and "usage: tfrnncomp export" in result.stderr
    assert os.listdir(tmp_path) == []


# -- exports ------------------------------------------------------------------------------------
def test_savedmodel_export_writes_a_version_folder_and_replaces_it_only_with_force(
        tmp_path, tiny_model_dir):
    import tensorflow as tf

    result = tfrnncomp("export", "savedmodel", "out", "--model", tiny_model_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "out/1: written\n"
    assert os.listdir(tmp_path / "out") == ["1"]
    info = json.loads((tmp_path / "out" / "1" / "assets.extra" / "tfrnncomp.json").read_text())
    assert info["model_id"].startswith("tiny@")
    assert {"compress", "decompress"} <= set(tf.saved_model.load(
        str(tmp_path / "out" / "1")).signatures)
    assert tfrnncomp("export", "savedmodel", "out", "--model", tiny_model_dir,
                     cwd=tmp_path).returncode == 2
    result = tfrnncomp("export", "savedmodel", "out", "--model", tiny_model_dir, "--force",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert os.listdir(tmp_path / "out") == ["1"]  # no temporary or previous folder left


@pytest.mark.slow
def test_tflite_export_of_a_dynamic_float32_model_runs_on_litert(tmp_path, tiny_model_dir):
    from tfrnncomp.export.litert_backend import LiteRTSteps

    result = tfrnncomp("export", "tflite", "out", "--model", tiny_model_dir, "--dynamic",
                       "--quantize", "float32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert [line.split()[:2] for line in result.stdout.splitlines()] == [
        ["float32", "encoder_step"], ["float32", "decoder_step"]]
    backend = LiteRTSteps(str(tmp_path / "out"), "float32")
    assert backend.manifest["height"] is None
    codes, _ = backend.encode(smooth_image(128, 64), 2)
    assert codes.shape == (2, 8, 4, 32)
    result = tfrnncomp("export", "tflite", "out", "--model", tiny_model_dir, "--dynamic",
                       "--quantize", "float16", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "out" / "tflite.json").read_text())
    assert sorted(manifest["variants"]) == ["float16", "float32"]
    assert sorted(os.listdir(tmp_path / "out")) == sorted(
        [f"{step}.{variant}.tflite" for step in ("encoder_step", "decoder_step")
         for variant in ("float16", "float32")] + ["tflite.json"])


# -- packaging ----------------------------------------------------------------------------------
def test_tfrnncomp_export_is_a_link_to_the_top_level_export_folder():
    link = os.path.join(ROOT, "tfrnncomp", "export")
    assert os.path.islink(link)
    assert os.path.realpath(link) == os.path.realpath(os.path.join(ROOT, "export"))


def test_setuptools_finds_tfrnncomp_export_through_the_link():
    setuptools = pytest.importorskip("setuptools")
    found = setuptools.find_packages(ROOT, include=["tfrnncomp", "tfrnncomp.*"])
    assert "tfrnncomp.export" in found
    assert "export" not in found


def test_in_a_source_checkout_tfrnncomp_export_is_the_top_level_export_folder():
    spec = importlib.util.find_spec("tfrnncomp.export")
    assert os.path.realpath(spec.origin) == os.path.realpath(
        os.path.join(ROOT, "export", "__init__.py"))
    from tfrnncomp.export import tflite

    assert os.path.realpath(tflite.__file__) == os.path.realpath(
        os.path.join(ROOT, "export", "tflite.py"))
    assert importlib.util.find_spec("tfrnncomp.tools") is None


def _copy_project(target):
    """The files a wheel is built from, copied so that the build leaves the checkout alone."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), target / name)
    for name in ("tfrnncomp", "export"):
        shutil.copytree(os.path.join(ROOT, name), target / name, ignore=ignore, symlinks=True)


def test_a_built_wheel_installs_export_as_tfrnncomp_export(tmp_path):
    for needed in ("pip", "setuptools", "wheel"):
        try:
            importlib.metadata.version(needed)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"building a wheel needs {needed}")
    (tmp_path / "src").mkdir()
    _copy_project(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(tmp_path / "dist"), str(tmp_path / "src")],
                   check=True, capture_output=True, timeout=600)
    wheel, = (tmp_path / "dist").iterdir()
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "site")
    assert {f"tfrnncomp/export/{m}.py" for m in EXPORT_MODULES} <= set(names)
    assert not [n for n in names if n.startswith("export/")]
    script = ("import tfrnncomp.export.litert_backend as m, tfrnncomp.export.tflite; "
              "print(m.__file__)")
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(tmp_path / "site")),
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "site" / "tfrnncomp" / "export" /
                                      "litert_backend.py")
