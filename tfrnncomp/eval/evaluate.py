"""Rate-distortion evaluation: one harness and one results format for tfrnncomp and classic codecs.

Every codec is measured by the same code (:class:`Measurer`) on the same images, and every run
is stored as one JSON file (:func:`write_result`, atomic).  Summaries (AUC, BD-rate, tables) are in
:mod:`tfrnncomp.eval.rd`; the classic codecs in :mod:`tfrnncomp.eval.classic`.

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
import dataclasses
import datetime
import io
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np

from tfrnncomp.codec import image_io
from tfrnncomp.eval import metrics

SCHEMA_VERSION = 1
POINT_KEYS = ("setting", "bpp", "ms_ssim", "ms_ssim_db", "psnr", "psnr_hvs_m",
              "encode_seconds", "decode_seconds", "per_image")
IMAGE_KEYS = ("image", "bytes", "bpp", "ms_ssim", "psnr", "psnr_hvs_m")
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATASET = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "kodak"))
PACKAGES = ("numpy", "scipy", "pillow", "tensorflow", "keras", "imagecodecs", "psnr-hvsm",
            "bjontegaard", "matplotlib")


class SchemaError(ValueError):
    """A results object does not follow the schema."""


# -- data ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class Dataset:
    path: str
    names: list
    images: list  # uint8[H,W,3] arrays

    def info(self):
        # relative to the working directory, so results name no machine's paths
        return {"path": os.path.relpath(self.path), "images": list(self.names)}


def load_dataset(path=DEFAULT_DATASET, limit=None, names=None):
    """The RGB images of a folder (sorted by name; ``names`` picks some, ``limit`` the first N)."""
    path = os.path.abspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"image folder {path} not found")
    available = sorted(n for n in os.listdir(path)
                       if n.lower().endswith(image_io.LOSSLESS_EXTENSIONS)
                       and not n.startswith("."))
    if names:
        missing = sorted(set(names) - set(available))
        if missing:
            raise FileNotFoundError(f"not in {path}: {', '.join(missing)}")
        available = [n for n in available if n in set(names)]
    available = available[:limit] if limit else available
    if not available:
        raise FileNotFoundError(f"no images in {path}")
    images = [image_io.to_array(image_io.open_image(os.path.join(path, n)).convert("RGB"))[0]
              for n in available]
    return Dataset(path, available, images)


# -- measuring ----------------------------------------------------------------------------------
def psnr_hvs_m_unavailable():
    """None if PSNR-HVS-M can be computed, else why not."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # psnr_hvsm prints a note about PyTorch
            import psnr_hvsm  # noqa: F401
    except ImportError:
        return "psnr_hvs_m not measured: the psnr-hvsm package is missing (pip install psnr-hvsm)"
    return None


class Measurer:
    """Per-image rows with every metric, computed the same way for every codec."""

    def __init__(self):
        self.notes = []
        reason = psnr_hvs_m_unavailable()
        self.hvs = reason is None
        if reason:
            self.notes.append(reason)

    def row(self, name, original, decoded, nbytes, encode_seconds, decode_seconds):
        if decoded.shape != original.shape:
            raise ValueError(f"{name}: decoded shape {decoded.shape} != original {original.shape}")
        height, width = original.shape[:2]
        small = min(height, width) < metrics.min_ms_ssim_size()
        note = f"ms_ssim not measured for images under {metrics.min_ms_ssim_size()} pixels a side"
        if small and note not in self.notes:
            self.notes.append(note)
        return {"image": name, "bytes": int(nbytes), "bpp": nbytes * 8.0 / (height * width),
                "ms_ssim": None if small else metrics.ms_ssim(original, decoded),
                "psnr": metrics.psnr(original, decoded),
                "psnr_hvs_m": self._hvs(original, decoded),
                "encode_seconds": float(encode_seconds), "decode_seconds": float(decode_seconds)}


    def _hvs(self, original, decoded):
        if not self.hvs:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):  # flat 8x8 tiles: 0/0 not used
            return metrics.psnr_hvs_m(original, decoded)


def _mean(rows, key):
    values = [row[key] for row in rows]
    if any(v is None or not math.isfinite(v) for v in values):
        return None
    return float(np.mean(values))


def make_point(setting, rows):
    """Average per-image rows into one point of the curve."""
    point = {"setting": setting}
    for key in ("bpp", "ms_ssim", "psnr", "psnr_hvs_m", "encode_seconds", "decode_seconds"):
        point[key] = _mean(rows, key)
    point["ms_ssim_db"] = None if point["ms_ssim"] is None else metrics.ms_ssim_db(point["ms_ssim"])
    point["per_image"] = rows
    return {key: point[key] for key in POINT_KEYS}


def log_point(log, name, point):
    if log:
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        log(f"{name} {point['setting']}: {fmt(point['bpp'], '.4f')} bpp  MS-SSIM "
            f"{fmt(point['ms_ssim'], '.4f')}  PSNR {fmt(point['psnr'], '.2f')} dB  "
            f"PSNR-HVS-M {fmt(point['psnr_hvs_m'], '.2f')} dB")


# -- runners ------------------------------------------------------------------------------------
def run_classic(codec, dataset, settings=None, log=None):
    """Sweep a :class:`~tfrnncomp.eval.classic.ClassicCodec` over ``settings`` (default:
    its sweep)."""
    reason = codec.unavailable()
    if reason:
        raise RuntimeError(f"{codec.name}: {reason}")
    settings = list(codec.settings if settings is None else settings)
    measure = Measurer()
    points = []
    for setting in settings:
        rows = []
        for name, image in zip(dataset.names, dataset.images):
            start = time.perf_counter()
            data = codec.encode(image, setting)
            encoded = time.perf_counter()
            decoded = codec.decode(data, *image.shape[:2])
            done = time.perf_counter()
            rows.append(measure.row(name, image, decoded, len(data), encoded - start,
                                    done - encoded))
        points.append(make_point(setting, rows))
        log_point(log, codec.name, points[-1])
    info = codec.info()
    info["settings"] = settings
    return new_result(codec.name, codec.description, info, dataset, points, measure.notes)


def run_model(codec, dataset, iterations=None, entropy=None, name=None, description=None,
              log=None, one_pass=False):
    """Evaluate a :class:`tfrnncomp.Codec` at each iteration count (default 1..max).

    Each image is encoded once at the largest count with ``entropy`` (default: the codec's
    default mode); the k-iteration file is the header (declaring k) plus the first k chunks,
    decoded on its own.  ``one_pass`` decodes every prefix in one pass instead
    (``Codec.decompress_progressive``, identical images; ``decode_seconds`` is then that
    pass's time, shared by every point).
    """
    from tfrnncomp.format import container as bitstream
    entropy = codec.resolve_entropy(entropy)

    iterations = sorted(set(iterations or range(1, codec.max_iterations + 1)))
    top = iterations[-1]
    measure = Measurer()
    rows = {k: [] for k in iterations}
    warm = dataset.images[0][:64, :64]  # trace the tf.functions before timing
    codec.decompress(codec.compress(warm, iterations=1, entropy=entropy))
    for image_name, image in zip(dataset.names, dataset.images):
        start = time.perf_counter()
        data = codec.compress(image, iterations=top, entropy=entropy)
        encode_seconds = time.perf_counter() - start
        container = codec.read(data, strict=True)
        if one_pass:
            start = time.perf_counter()
            every = codec.decompress_progressive(data, strict=True)
            decode_seconds = time.perf_counter() - start
        for k in iterations:
            header = dataclasses.replace(container.header, iterations=k)
            prefix = bitstream.write(header, container.chunks[:k])
            if one_pass:
                decoded = every[k - 1]
            else:
                start = time.perf_counter()
                decoded = codec.decompress(prefix, strict=True)
                decode_seconds = time.perf_counter() - start
            rows[k].append(measure.row(image_name, image, decoded, len(prefix),
                                       encode_seconds, decode_seconds))
        if log:
            log(f"{image_name}: encoded {top} iterations in {encode_seconds:.2f} s")
    points = [make_point(k, rows[k]) for k in iterations]
    for point in points:
        log_point(log, name or "tfrnncomp", point)
    model_name = codec.config.name
    info = {"family": "tfrnncomp", "setting_name": "iterations", "settings": iterations,
            "model_id": codec.model_id, "config": codec.config.to_dict(),
            "entropy_mode": entropy, "encoded_once_at": top}
    notes = measure.notes + [f"encode_seconds is one encode at {top} iterations, "
                             "shared by every point"]
    if one_pass:
        notes.append("decode_seconds is one progressive decode of every prefix, shared by "
                     "every point")
    return new_result(name or f"tfrnncomp-{model_name}" + ("-raw" if entropy == "raw" else ""),
                      description or f"tfrnncomp model {codec.model_id}, entropy mode {entropy}",
                      info, dataset, points, notes)


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


def log_stderr(message):
    print(message, file=sys.stderr, flush=True)
