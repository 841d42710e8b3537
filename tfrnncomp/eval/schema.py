"""The results files of :mod:`tfrnncomp.eval.evaluate`: their schema, its check, the run's
environment, and atomic writing.

Results schema, ``schema_version`` 1::

    {
      "schema_version": 1,
      "name": "jpeg420",              # short identifier; the default file name is <name>.json
      "description": "JPEG 4:2:0 (Pillow/libjpeg, optimized Huffman tables)",
      "codec": {"family": "classic" | "tfrnncomp", "setting_name": "quality" | "iterations" | ...,
                ...encoder, options, library versions or model id and config...},
      "dataset": {"path": "../shared/data/kodak", "images": ["kodim01.png", ...]},
      "points": [                     # one per setting, in sweep order
        {"setting": 50,               # quality, ratio, distance, crf, or iterations
         "bpp": 0.78, "ms_ssim": 0.97, "ms_ssim_db": 15.2, "psnr": 31.9, "psnr_hvs_m": 36.0,
         "encode_seconds": 0.01, "decode_seconds": 0.004,
         "per_image": [{"image": "kodim01.png", "bytes": 40001, "bpp": 0.81, "ms_ssim": 0.97,
                        "psnr": 30.1, "psnr_hvs_m": 34.2,
                        "encode_seconds": 0.01, "decode_seconds": 0.004}, ...]}, ...],
      "notes": ["..."],               # skipped metrics and other caveats of this run
      "environment": {"python", "platform", "cpu", "cpu_count", "date", "git_commit",
                      "packages": {"numpy": "1.26.4", ...}}
    }

Definitions:

* ``bytes`` is the size of the whole file a user would store (headers and container included);
  ``bpp = bytes * 8 / (height * width)``.  For tfrnncomp the k-iteration file is built from the
  header (declaring k iterations) and the first k chunks of one max-iteration encoding, which is
  exactly the file ``Codec.compress(image, iterations=k)`` writes.
* ``ms_ssim``: :func:`tfrnncomp.eval.metrics.ms_ssim` on RGB 0-255, per channel, averaged over
  channels.  ``psnr``: over all RGB samples.  ``psnr_hvs_m``: :func:`tfrnncomp.eval.metrics.psnr_hvs_m`
  (luma); ``null`` with a note when the ``psnr-hvsm`` package is missing.
* A point's ``bpp``, ``ms_ssim``, ``psnr``, ``psnr_hvs_m`` and seconds are means over the images
  (PSNR values are averaged in dB); ``ms_ssim_db = -10 log10(1 - ms_ssim)`` of the mean MS-SSIM.
* Seconds are wall-clock per image.  For tfrnncomp ``encode_seconds`` is the time of the one
  encode at the largest iteration count, shared by every point; ``decode_seconds`` decodes the
  k-iteration file.  For ffmpeg they include starting the process.
* ``null`` means not measured (metric unavailable, image below MS-SSIM's 161 pixels) or not
  finite (identical images).
"""

import contextlib
import datetime
import json
import math
import os
import platform
import subprocess
import time

import numpy as np

from tfrnncomp.codec import image_io

SCHEMA_VERSION = 1
POINT_KEYS = ("setting", "bpp", "ms_ssim", "ms_ssim_db", "psnr", "psnr_hvs_m",
              "encode_seconds", "decode_seconds", "per_image")
IMAGE_KEYS = ("image", "bytes", "bpp", "ms_ssim", "psnr", "psnr_hvs_m")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("numpy", "scipy", "pillow", "tensorflow", "keras", "imagecodecs", "psnr-hvsm",
            "bjontegaard", "matplotlib")


class SchemaError(ValueError):
    """A results object does not follow the schema."""


# -- results files ------------------------------------------------------------------------------
def _cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: instruction-set flags that change convolution and training speed (``lscpu`` names)
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags():
    """The :data:`SPEED_FLAGS` this processor has (from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [flag for flag in SPEED_FLAGS if flag in have]
    except OSError:
        pass
    return []


def environment():
    """Versions, CPU and date of this run."""
    from importlib import metadata

    import tfrnncomp

    packages = {"tfrnncomp": tfrnncomp.__version__}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[name] = metadata.version(name)
    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                text=True, check=False, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpu": _cpu_name(), "cpu_flags": cpu_flags(), "cpu_count": os.cpu_count(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": commit, "packages": packages}


def new_result(name, description, codec_info, dataset, points, notes=()):
    result = {"schema_version": SCHEMA_VERSION, "name": name, "description": description,
              "codec": codec_info, "dataset": dataset.info(), "points": points,
              "notes": list(notes), "environment": environment()}
    validate(result)
    return result


def _number_or_none(value):
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def validate(result):
    """Raise :class:`SchemaError` naming the first field that breaks the schema."""
    def need(condition, message):
        if not condition:
            raise SchemaError(message)

    need(isinstance(result, dict), "result must be a JSON object")
    need(result.get("schema_version") == SCHEMA_VERSION,
         f"schema_version must be {SCHEMA_VERSION}, got {result.get('schema_version')!r}")
    for key, kind in (("name", str), ("description", str), ("codec", dict), ("dataset", dict),
                      ("points", list), ("environment", dict)):
        need(isinstance(result.get(key), kind), f"{key!r} must be a {kind.__name__}")
    need(result["name"] != "", "'name' must not be empty")
    need(isinstance(result.get("notes", []), list), "'notes' must be a list")
    images = result["dataset"].get("images")
    need(isinstance(result["dataset"].get("path"), str), "dataset.path must be a string")
    need(isinstance(images, list) and images and all(isinstance(n, str) for n in images),
         "dataset.images must be a non-empty list of names")
    need(result["points"], "points must not be empty")
    for i, point in enumerate(result["points"]):
        where = f"points[{i}]"
        need(isinstance(point, dict), f"{where} must be an object")
        for key in POINT_KEYS:
            need(key in point, f"{where} lacks {key!r}")
        for key in POINT_KEYS[1:-1]:
            need(_number_or_none(point[key]), f"{where}.{key} must be a number or null")
        need(isinstance(point["bpp"], (int, float)) and point["bpp"] > 0,
             f"{where}.bpp must be a positive number")
        need(isinstance(point["per_image"], list), f"{where}.per_image must be a list")
        need([row.get("image") for row in point["per_image"] if isinstance(row, dict)] == images,
             f"{where}.per_image must have one row per dataset image, in order")
        for j, row in enumerate(point["per_image"]):
            for key in IMAGE_KEYS[1:]:
                need(key in row and _number_or_none(row[key]),
                     f"{where}.per_image[{j}].{key} must be a number or null")
            need(isinstance(row["bytes"], int) and row["bytes"] > 0,
                 f"{where}.per_image[{j}].bytes must be a positive integer")
    return result


def _finite(value):
    """JSON has no inf/nan: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def dumps(result):
    validate(result)
    return json.dumps(_finite(result), indent=1, allow_nan=False) + "\n"


def write_result(path, result):
    """Validate and write a result atomically (parent folders are created)."""
    text = dumps(result)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    image_io.atomic_write_bytes(path, text.encode("utf-8"))
    return path


def write_and_report(result, path, dataset, start):
    """Write ``result`` to ``path`` and print the one-line summary the tools share."""
    write_result(path, result)
    print(f"{path}: {len(result['points'])} points on {len(dataset.names)} images "
          f"in {time.time() - start:.0f} s")


def load_result(path):
    with open(path, encoding="utf-8") as handle:
        return validate(json.load(handle))


def default_output(out_dir, name):
    return os.path.join(out_dir, f"{name}.json")
