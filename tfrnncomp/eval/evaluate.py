"""Rate-distortion evaluation: one harness and one results format for tfrnncomp and classic codecs.

Every codec is measured by the same code (:class:`Measurer`) on the same images, and every run
is stored as one JSON file of the schema of :mod:`tfrnncomp.eval.schema` (written by its
:func:`~tfrnncomp.eval.schema.write_result`, atomic).  Summaries (AUC, BD-rate, tables) are in
:mod:`tfrnncomp.eval.rd`; the classic codecs in :mod:`tfrnncomp.eval.classic`.
"""

import contextlib
import dataclasses
import io
import math
import os
import sys
import time

import numpy as np

from tfrnncomp.codec import image_io
from tfrnncomp.eval import metrics
from tfrnncomp.eval.schema import POINT_KEYS, REPO, new_result

DEFAULT_DATASET = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "kodak"))


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


def validation_dataset(source, count=8, validation_fraction=0.05):
    """``count`` whole images spread over the validation split of a training folder (the
    files the training run holds out, :func:`tfrnncomp.training.data.split_files`): images
    the model never trained on, for choices that must not be tuned on an evaluation set."""
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.training.validation import spread

    path = os.path.abspath(source)
    files = spread(data_lib.split_files(data_lib.list_images(path), "validation",
                                        validation_fraction, root=path), count)
    names = [os.path.relpath(f, path).replace(os.sep, "/") for f in files]
    return Dataset(path, names, [data_lib.load_image(f) for f in files])


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
              log=None, one_pass=False, search=0):
    """Evaluate a :class:`tfrnncomp.Codec` at each iteration count (default 1..max).

    Each image is encoded once at the largest count with ``entropy`` (default: the codec's
    default mode); the k-iteration file is the header (declaring k) plus the first k chunks,
    decoded on its own.  ``one_pass`` decodes every prefix in one pass instead
    (``Codec.decompress_progressive``, identical images; ``decode_seconds`` is then that
    pass's time, shared by every point).  ``search``: sweeps of code search per iteration
    (:mod:`tfrnncomp.runtime.search`; the result's name gains ``-search<N>``).
    """
    from tfrnncomp.format import container as bitstream
    entropy = codec.resolve_entropy(entropy)

    iterations = sorted(set(iterations or range(1, codec.max_iterations + 1)))
    top = iterations[-1]
    measure = Measurer()
    rows = {k: [] for k in iterations}
    warm = dataset.images[0][:64, :64]  # trace the tf.functions before timing
    codec.decompress(codec.compress(warm, iterations=1, entropy=entropy, search=search))
    for image_name, image in zip(dataset.names, dataset.images):
        start = time.perf_counter()
        data = codec.compress(image, iterations=top, entropy=entropy, search=search)
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
            "post_filter_id": codec.post_filter_id,
            "entropy_mode": entropy, "encoded_once_at": top, "search": search}
    notes = measure.notes + [f"encode_seconds is one encode at {top} iterations, "
                             "shared by every point"]
    if one_pass:
        notes.append("decode_seconds is one progressive decode of every prefix, shared by "
                     "every point")
    suffix = ("-raw" if entropy == "raw" else "") + (f"-search{search}" if search else "")
    return new_result(name or f"tfrnncomp-{model_name}" + suffix,
                      description or model_description(codec, entropy)
                      + (f", {search} sweeps of code search" if search else ""),
                      info, dataset, points, notes)


def model_description(codec, entropy):
    """A result's description of a tfrnncomp codec: model, post-filter, entropy mode."""
    shown = codec.model_id + (f" with {codec.post_filter_id}" if codec.post_filter_id else "")
    return f"tfrnncomp model {shown}, entropy mode {entropy}"


def log_stderr(message):
    print(message, file=sys.stderr, flush=True)
