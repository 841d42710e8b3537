"""Image files of a training folder: listing, the train/validation split, decoding with Pillow.

Shared by the ``tf.data`` pipelines (:mod:`tfrnncomp.training.data`) and the TensorFlow-free patch
batches (:mod:`tfrnncomp.training.patches`); nothing here imports TensorFlow.
"""

from __future__ import annotations

import math
import os
import zlib

import numpy as np
from PIL import Image

from tfrnncomp.codec.image_io import IMAGE_EXTENSIONS
from tfrnncomp.errors import ConfigError, InputImageError

SPLITS = ("train", "validation", "all")


def list_images(root) -> list[str]:
    """All image files under ``root`` (recursive, sorted, by extension)."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise InputImageError(f"image folder not found: {root!r}")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        found += [os.path.join(dirpath, f) for f in filenames
                  if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
    if not found:
        raise InputImageError(
            f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {root!r}")
    return sorted(found)


def _check_split(split: str, validation_fraction: float) -> None:
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {SPLITS}, got {split!r}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ConfigError(f"validation_fraction must be in [0, 1), got {validation_fraction}")


def hash_share(path, root=None) -> float:
    """Where ``path`` falls in [0, 1) by the stable hash of the train/validation split.

    It is ``crc32(relpath) / 2**32``, where ``relpath`` is the '/'-separated path
    relative to ``root`` (or the path as given when ``root`` is None).
    """
    rel = os.path.relpath(path, root) if root is not None else os.fspath(path)
    return zlib.crc32(rel.replace(os.sep, "/").encode("utf-8")) / 2.0**32


def split_files(files, split: str, validation_fraction: float = 0.05, root=None) -> list[str]:
    """Deterministic train/validation split.

    A file is in validation iff ``hash_share(file, root) < validation_fraction``,
    so the split does not depend on where the data lives, on the file order, or
    on which other files exist.
    """
    _check_split(split, validation_fraction)
    files = list(files)
    if split == "all":
        return files
    out = [f for f in files
           if (hash_share(f, root) < validation_fraction) == (split == "validation")]
    if not out:
        raise ConfigError(f"split {split!r} (validation_fraction={validation_fraction}) "
                          f"of {len(files)} files is empty")
    return out


def smallest_fraction(files, count: int = 1, root=None):
    """The smallest ``validation_fraction``, in hundredths, whose validation split holds at
    least ``count`` of ``files`` and leaves a training split (None where there is none)."""
    shares = sorted(hash_share(f, root) for f in files)
    if not 0 < count < len(shares):
        return None
    fraction = math.floor(shares[count - 1] * 100 + 1) / 100
    return fraction if fraction <= shares[-1] else None


def _is_tfds(source) -> bool:
    """Whether ``source`` names a TensorFlow Datasets source (``"tfds:NAME[:SPLIT]"``)."""
    return isinstance(source, str) and source.startswith("tfds:")


def _pil_decode(path) -> np.ndarray:
    path = path.item() if isinstance(path, np.ndarray) else path
    path = path.decode("utf-8") if isinstance(path, bytes) else os.fspath(path)
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def source_files(source, split: str, validation_fraction: float) -> list[str]:
    """The files of the folder ``source`` in ``split`` (see :func:`split_files`)."""
    files = list_images(source)
    return split_files(files, split, validation_fraction, root=os.fspath(source))
