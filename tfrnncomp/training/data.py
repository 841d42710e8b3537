"""Training and evaluation data for tfrnncomp.

Toderici et al. (CVPR 2017, Section 4) train on 32x32 patches, either random
crops of photographs or a "high entropy" set: per image, the 32x32 tiles that
compress worst under PNG.  Both are built here as ``tf.data`` pipelines.

Model pixels are float32 in [-0.5, 0.5] (``x / 255 - 0.5``).  Sources are an
image folder or ``"tfds:NAME[:SPLIT[:FEATURE]]"`` for a TensorFlow Datasets
image dataset.  Nothing here reads any fixed path.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re

import numpy as np
import tensorflow as tf
from PIL import Image

from tfrnncomp.atomic import atomic_path
from tfrnncomp.errors import ConfigError, InputImageError
from tfrnncomp.training.image_files import (IMAGE_EXTENSIONS, SPLITS, _check_split,  # noqa: F401
                                   _is_tfds, _pil_decode, hash_share, list_images,
                                   smallest_fraction, source_files, split_files)

_TF_NATIVE = r".*\.(png|jpe?g|bmp)"  # decoded by TF itself; the rest via PIL
_CACHE_VERSION = 1


def to_model_range(images) -> tf.Tensor:
    """uint8 pixels -> float32 in [-0.5, 0.5]."""
    return tf.cast(images, tf.float32) / 255.0 - 0.5


def from_model_range(x) -> tf.Tensor:
    """float32 in [-0.5, 0.5] -> uint8 (rounded, clipped)."""
    x = tf.round((tf.convert_to_tensor(x, tf.float32) + 0.5) * 255.0)
    return tf.cast(tf.clip_by_value(x, 0.0, 255.0), tf.uint8)


# ------------------------------------------------------------------ decoding
def _to_rgb(img: tf.Tensor) -> tf.Tensor:
    """[H, W, C] uint8 -> [H, W, 3]: grey (C<3) is repeated, alpha is dropped."""
    img = tf.cond(tf.shape(img)[-1] < 3,
                  lambda: tf.tile(img[..., :1], [1, 1, 3]), lambda: img[..., :3])
    img.set_shape([None, None, 3])
    return img


def _decode_file(path: tf.Tensor) -> tf.Tensor:
    """Graph-mode decode of one file to uint8 [H, W, 3] (TF for png/jpeg/bmp, PIL else)."""
    def native():
        return tf.io.decode_image(tf.io.read_file(path), channels=3, dtype=tf.uint8,
                                  expand_animations=False)

    def pil():
        return tf.numpy_function(_pil_decode, [path], tf.uint8, stateful=False)

    native_ext = tf.strings.regex_full_match(tf.strings.lower(path), _TF_NATIVE)
    img = tf.cond(native_ext, native, pil)
    img.set_shape([None, None, 3])
    return img


def load_image(path) -> np.ndarray:
    """Decode one image file to uint8 [H, W, 3], exactly as the pipelines do."""
    try:
        return _decode_file(tf.constant(os.fspath(path))).numpy()
    except (tf.errors.OpError, OSError) as e:
        raise InputImageError(f"cannot decode image {os.fspath(path)!r}: {e}") from None


def _parse_tfds(source: str, split: str):
    """'tfds:NAME[:SPLIT[:FEATURE]]' -> (name, tfds split, feature or None).

    SPLIT may hold colons (``train[:10%]``); FEATURE is a bare identifier.
    """
    m = re.fullmatch(r"tfds:([^:\[\]]+)(?::(.*?))?(?::(\w+))?", source)
    if m is None:
        raise ConfigError(f"bad TFDS source {source!r}; use 'tfds:NAME[:SPLIT[:FEATURE]]'")
    return m.group(1), m.group(2) or split, m.group(3)


def _tfds_images(source: str, split: str) -> tf.data.Dataset:
    """uint8 [H, W, 3] images of a TFDS dataset.

    Without an explicit SPLIT, ``split`` names the TFDS split ("train",
    "validation", "all"); the file-hash split does not apply to TFDS.  The
    feature is FEATURE, else "image", else the only uint8 rank-3 feature.
    """
    import tensorflow_datasets as tfds  # slow import: only when asked for

    name, tsplit, feature = _parse_tfds(source, split)
    ds = tfds.load(name, split=tsplit, shuffle_files=False)
    spec = ds.element_spec if isinstance(ds.element_spec, dict) else {}
    cands = [k for k, s in spec.items() if s.dtype == tf.uint8 and s.shape.rank == 3]
    feature = feature or ("image" if "image" in spec else cands[0] if len(cands) == 1 else None)
    if feature not in spec:
        raise ConfigError(f"{source!r}: no image feature {feature or ''!r} among "
                          f"{sorted(spec)}; use 'tfds:NAME:SPLIT:FEATURE'")
    return ds.map(lambda ex: _to_rgb(tf.cast(ex[feature], tf.uint8)),
                  num_parallel_calls=tf.data.AUTOTUNE)


def image_dataset(source, split: str = "all", validation_fraction: float = 0.05) -> tf.data.Dataset:
    """Full images as uint8 [H, W, 3], in sorted file order (for evaluation)."""
    _check_split(split, validation_fraction)
    if _is_tfds(source):
        return _tfds_images(source, split)
    files = source_files(source, split, validation_fraction)
    return tf.data.Dataset.from_tensor_slices(files).map(
        _decode_file, num_parallel_calls=tf.data.AUTOTUNE)


# -------------------------------------------------------------- random crops
def _mirror_pad(img: tf.Tensor, size: int) -> tf.Tensor:
    """Grow H and W to at least ``size`` by symmetric reflection (repeated as needed)."""
    def idx(n):
        i = tf.range(tf.maximum(n, size)) % (2 * n)
        return tf.where(i < n, i, 2 * n - 1 - i)

    shape = tf.shape(img)
    return tf.cond(tf.reduce_any(shape[:2] < size),
                   lambda: tf.gather(tf.gather(img, idx(shape[0]), axis=0), idx(shape[1]), axis=1),
                   lambda: img)


def _random_crops(img: tf.Tensor, seed: tf.Tensor, size: int, count: int) -> tf.Tensor:
    """``count`` random crops (with random horizontal flips) -> uint8 [count, P, P, 3]."""
    img = _mirror_pad(img, size)
    h, w = tf.shape(img)[0], tf.shape(img)[1]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    oy = tf.random.stateless_uniform([count], seeds[0], 0, h - size + 1, dtype=tf.int32)
    ox = tf.random.stateless_uniform([count], seeds[1], 0, w - size + 1, dtype=tf.int32)
    r = tf.range(size)
    rows = tf.gather(img, oy[:, None] + r, axis=0)                       # [n, P, W, 3]
    crops = tf.gather(rows, ox[:, None] + r, axis=2, batch_dims=1)       # [n, P, P, 3]
    flip = tf.random.stateless_uniform([count], seeds[2]) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(crops, axis=[2]), crops)


def _random_flip_batch(batch: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    flip = tf.random.stateless_uniform(tf.shape(batch)[:1], seed) < 0.5
    return tf.where(flip[:, None, None, None], tf.reverse(batch, axis=[2]), batch)


def _seeds(seed) -> tf.data.Dataset:
    """Endless stream of stateless-op seeds (shape [2] int64), fixed by ``seed``."""
    return tf.data.Dataset.random(seed=seed).batch(2)


# ------------------------------------------------------------- hard patches
def _png_size(tile: np.ndarray) -> int:
    buf = io.BytesIO()
    Image.fromarray(tile).save(buf, format="PNG")  # PIL default zlib level
    return buf.tell()


def mine_hard_patches(files, patch_size: int = 32, per_image: int = 100) -> np.ndarray:
    """High-entropy tiles (Toderici et al. 2017, Section 4) -> uint8 [N, P, P, 3].

    Each image (a path or a uint8 [H, W, 3] array) is cut into a grid of whole
    ``patch_size`` tiles from the top-left; the ``per_image`` tiles with the
    largest PNG encoding (worst compression ratio) are kept, largest first.
    Images smaller than one tile contribute nothing.
    """
    if patch_size < 1 or per_image < 1:
        raise ConfigError("patch_size and per_image must be positive")
    p, out = patch_size, []
    for item in files:
        img = np.asarray(item, np.uint8) if isinstance(item, np.ndarray) else load_image(item)
        gh, gw = img.shape[0] // p, img.shape[1] // p
        if gh == 0 or gw == 0:
            continue
        tiles = (img[:gh * p, :gw * p].reshape(gh, p, gw, p, 3)
                 .swapaxes(1, 2).reshape(gh * gw, p, p, 3))
        sizes = np.array([_png_size(t) for t in tiles])
        out.append(tiles[np.argsort(-sizes, kind="stable")[:per_image]])
    if not out:
        raise InputImageError(f"no image is at least {p}x{p}; no hard patches mined")
    return np.concatenate(out)


def _hard_cache_path(cache_dir, key_items, patch_size: int, per_image: int) -> str:
    key = json.dumps({"v": _CACHE_VERSION, "items": key_items, "p": patch_size,
                      "k": per_image}, sort_keys=True)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return os.path.join(os.fspath(cache_dir), f"hard_p{patch_size}_k{per_image}_{digest}.npy")


def _cached_hard_patches(items, key_items, cache_dir, patch_size, per_image) -> np.ndarray:
    """``mine_hard_patches`` with an optional .npy cache (written atomically)."""
    if cache_dir is None:
        return mine_hard_patches(items, patch_size, per_image)
    path = _hard_cache_path(cache_dir, key_items, patch_size, per_image)
    if os.path.exists(path):
        return np.load(path)
    tiles = mine_hard_patches(items, patch_size, per_image)
    os.makedirs(cache_dir, exist_ok=True)
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, tiles)
    return tiles


# ------------------------------------------------------------------ pipeline
def patch_dataset(source, *, patch_size=32, batch_size=32, patches_per_image=16,
                  shuffle=True, shuffle_buffer=4096, seed=None, split="train",
                  validation_fraction=0.05, hard_patches=False, hard_per_image=100,
                  cache_dir=None, repeat=True, drop_remainder=True) -> tf.data.Dataset:
    """float32 [B, P, P, 3] batches in [-0.5, 0.5] for training (Section 4).

    Random mode decodes each image once per pass and takes ``patches_per_image``
    random crops with random horizontal flips; images smaller than the patch
    are mirror-padded.  Hard mode mines the high-entropy tiles once (cached as
    .npy in ``cache_dir``) and serves them with random flips.  With a ``seed``
    the stream is reproducible.
    """
    for n, v in (("patch_size", patch_size), ("batch_size", batch_size),
                 ("patches_per_image", patches_per_image), ("shuffle_buffer", shuffle_buffer),
                 ("hard_per_image", hard_per_image)):
        if int(v) != v or v < 1:
            raise ConfigError(f"{n} must be a positive integer, got {v!r}")
    _check_split(split, validation_fraction)
    tfds_src = _is_tfds(source)
    files = None if tfds_src else source_files(source, split, validation_fraction)

    if hard_patches:
        ds = _hard_patch_batches(source, split, files, cache_dir, patch_size, hard_per_image,
                                 batch_size, shuffle, shuffle_buffer, seed, repeat,
                                 drop_remainder)
    else:
        ds = _random_patch_batches(source, split, files, patch_size, patches_per_image,
                                   batch_size, shuffle, shuffle_buffer, seed, repeat,
                                   drop_remainder)
    ds = ds.map(to_model_range, num_parallel_calls=tf.data.AUTOTUNE)
    if seed is not None:
        opts = tf.data.Options()
        opts.deterministic = True
        ds = ds.with_options(opts)
    return ds.prefetch(tf.data.AUTOTUNE)


def _hard_patch_batches(source, split, files, cache_dir, patch_size, hard_per_image, batch_size,
                        shuffle, shuffle_buffer, seed, repeat, drop_remainder):
    """Batches of the mined high-entropy tiles (cached), randomly flipped; uint8."""
    if files is None:
        name, tsplit, feat = _parse_tfds(source, split)
        items = _tfds_images(source, split).as_numpy_iterator()
        key = ["tfds", name, tsplit, feat]
    else:
        items = files
        key = [[os.path.abspath(f), os.path.getsize(f)] for f in files]
    tiles = _cached_hard_patches(items, key, cache_dir, patch_size, hard_per_image)
    if shuffle:
        tiles = tiles[np.random.default_rng(seed).permutation(len(tiles))]
    ds = tf.data.Dataset.from_tensor_slices(tiles)
    if shuffle:
        ds = ds.shuffle(min(shuffle_buffer, len(tiles)), seed=seed)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return tf.data.Dataset.zip((ds, _seeds(seed))).map(
        _random_flip_batch, num_parallel_calls=tf.data.AUTOTUNE)


def _random_patch_batches(source, split, files, patch_size, patches_per_image, batch_size,
                          shuffle, shuffle_buffer, seed, repeat, drop_remainder):
    """Batches of random crops (``patches_per_image`` per decoded image), flipped; uint8."""
    if files is None:
        images = _tfds_images(source, split)
        if shuffle:
            images = images.shuffle(64, seed=seed)
    else:
        images = tf.data.Dataset.from_tensor_slices(files)
        if shuffle:
            images = images.shuffle(len(files), seed=seed)
        images = images.map(_decode_file, num_parallel_calls=tf.data.AUTOTUNE)
    if repeat:
        images = images.repeat()
    ds = tf.data.Dataset.zip((images, _seeds(seed))).map(
        lambda img, s: _random_crops(img, s, patch_size, patches_per_image),
        num_parallel_calls=tf.data.AUTOTUNE).unbatch()
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed)
    return ds.batch(batch_size, drop_remainder=drop_remainder)
