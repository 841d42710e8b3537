"""Turning user images into the codec's ``uint8[H,W,3]`` and back.

Accepted: 8-bit RGB and greyscale (``HxW``, ``HxWx1``, ``HxWx3`` arrays or PIL
images in modes ``RGB``, ``L``, ``P`` and ``CMYK``/``YCbCr`` converted to RGB).
Greyscale is coded as three equal channels and decoded back to one.  16-bit images
(``uint16`` arrays, PIL modes ``I;16*`` and ``I`` with samples in 0..65535, 16-bit image
files) are cut to 8 bits, keeping each sample's high byte as Pillow does when it opens
a 16-bit RGB PNG, with an :class:`~tfrnncomp.errors.InputImageWarning`.  RGBA, LA and
float images raise :class:`InputImageError`, unless ``drop_alpha=True`` asks to drop the
alpha channel explicitly.  Image files are turned upright by their EXIF orientation.
"""

import contextlib
import os
import warnings

import numpy as np
from PIL import Image, ImageOps

from tfrnncomp.atomic import (  # noqa: F401  (the file helpers, imported from here too)
    TMP_MARK, atomic_directory, atomic_path, atomic_write_bytes, open_regular,
    remove_stale_temporaries, special_kind)
from tfrnncomp.errors import InputImageError, InputImageWarning

#: file name extensions read as images (folder mode, training data)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")
#: the lossless ones: evaluation scores against them (a lossy original carries artefacts)
LOSSLESS_EXTENSIONS = (".png", ".ppm", ".bmp", ".tif", ".tiff")
_CONVERTIBLE = {"P", "CMYK", "YCbCr", "1"}
#: Pillow's modes of 16-bit greyscale ("I" from some formats, e.g. 16-bit PGM)
_GREY16 = ("I;16", "I;16B", "I;16L", "I;16N", "I")
#: EXIF tag of the orientation, and its values that need a transpose
_ORIENTATION, _TURNED = 0x0112, range(2, 9)


def _grey16(image, name=None):
    """The samples of a 16-bit greyscale PIL image as uint16 (mode ``I`` checked to fit)."""
    array = np.asarray(image)
    if array.dtype.kind == "i" and array.size and (array.min() < 0 or array.max() > 0xFFFF):
        where = "" if name is None else f"{name}: "
        raise InputImageError(f"{where}image mode {image.mode} has samples outside 0..65535 "
                              "(not 16-bit); convert it to 8-bit RGB or L first")
    return array.astype(np.uint16)


def _from_pil(image, drop_alpha):
    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        if not drop_alpha:
            raise InputImageError(
                f"image has an alpha channel (mode {mode}); alpha is not coded: "
                "pass drop_alpha=True (CLI: --drop-alpha) to code the colour channels only")
        image = image.convert("L" if mode in ("LA", "La") else "RGB")
        mode = image.mode
    if mode in _GREY16:
        return _grey16(image)
    if mode.startswith("I") or mode == "F":
        raise InputImageError(f"image mode {mode} (32-bit or float) is not supported; "
                              "convert it to 8-bit RGB or L first")
    if mode in _CONVERTIBLE:
        image = image.convert("RGB")
    elif mode not in ("RGB", "L"):
        raise InputImageError(f"unsupported image mode {mode}")
    return np.asarray(image)


def _warn_cut(name=None):
    where = "" if name is None else f"{name}: "
    warnings.warn(f"{where}16-bit image converted to 8 bits per sample (the codec codes 8-bit "
                  "images)", InputImageWarning, stacklevel=3)


def _eight_bits(array, name=None):
    """A uint16 array as uint8, each sample's high byte, with an :class:`InputImageWarning`;
    any other array as it is."""
    if array.dtype.kind != "u" or array.dtype.itemsize != 2:
        return array
    _warn_cut(name)
    return (array >> 8).astype(np.uint8)


def to_array(image, drop_alpha=False, max_pixels=None):
    """Returns ``(uint8[H,W,3], channels)`` with ``channels`` 1 for greyscale input, else 3;
    an image of more than ``max_pixels`` pixels (if given) is refused."""
    if isinstance(image, (str, os.PathLike)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        array = _from_pil(image, drop_alpha)
    else:
        array = np.asarray(image)
    array = _eight_bits(array)
    if array.dtype != np.uint8:
        raise InputImageError(f"images must be uint8 or uint16 arrays, got {array.dtype}; "
                              "convert float or 32-bit images to 8 bits first")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:
        if not drop_alpha:
            raise InputImageError("image has 4 channels (RGBA); alpha is not coded: "
                                  "pass drop_alpha=True to code RGB only")
        array = array[..., :3]
    if array.ndim == 2:
        channels, array = 1, np.repeat(array[..., None], 3, axis=-1)
    elif array.ndim == 3 and array.shape[-1] == 3:
        channels = 3
    else:
        raise InputImageError(f"expected an HxW, HxWx1 or HxWx3 image, got shape {array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise InputImageError(f"image is empty: shape {array.shape}")
    pixels = array.shape[0] * array.shape[1]
    if max_pixels is not None and pixels > max_pixels:
        raise InputImageError(f"image has {pixels} pixels, above max_pixels {max_pixels}; "
                              "pass max_pixels= to raise it")
    return np.ascontiguousarray(array), channels


def from_array(rgb, channels):
    """The decoder's RGB output as the user's colour mode (greyscale: channel mean)."""
    if channels == 1:
        return np.round(rgb.astype(np.float32).mean(axis=-1)).astype(np.uint8)
    return rgb



def _wide_samples(image):
    """True if an opened, not yet loaded, image file stores more than 8 bits per sample
    (seen in its tiles' raw modes, e.g. ``RGB;16B``, or a PNM maximum above 255)."""
    for tile in image.tile:
        args = tile.args if isinstance(tile.args, tuple) else (tile.args,)
        if args and isinstance(args[0], str) and ";16" in args[0]:
            return True
        if tile.codec_name == "ppm" and len(args) > 1 and isinstance(args[1], int):
            return args[1] > 255
    return False


def _upright(image):
    """``image`` transposed by its EXIF orientation, as ``ImageOps.exif_transpose`` does
    (the same image when it has none, or an EXIF block that does not parse)."""
    try:
        orientation = image.getexif().get(_ORIENTATION, 1)
    except Exception:  # optional metadata: whatever fails to parse it, code the image as stored
        return image
    return ImageOps.exif_transpose(image) if orientation in _TURNED else image


def _as_8_bits(image, wide, name):
    """An opened image file with 8 bits per sample: 16-bit greyscale cut to mode ``L``,
    with an :class:`InputImageWarning` naming the file (also when Pillow already cut a
    16-bit RGB file, ``wide``)."""
    if image.mode in _GREY16:
        return Image.fromarray(_eight_bits(_grey16(image, name), name))
    if wide:
        _warn_cut(name)
    return image


def open_image(path, name=None):
    """Open an image file (or a binary file object, named ``name``) with a one-line error.

    The image is turned upright by its EXIF orientation, and 16-bit samples are cut to
    8 bits with an :class:`InputImageWarning` naming the file.
    """
    name = path if name is None else name
    try:
        handle = path if hasattr(path, "read") else open_regular(path)
    except FileNotFoundError:
        raise InputImageError(f"{name}: no such file") from None
    except OSError as error:
        raise InputImageError(f"{name}: cannot read ({error.strerror})") from None
    try:
        with contextlib.nullcontext() if handle is path else handle:
            image = Image.open(handle)
            wide = _wide_samples(image)
            image.load()
            image = _upright(image)
    except Image.UnidentifiedImageError:
        raise InputImageError(f"{name}: cannot read image (not a known image format)") from None
    except (OSError, Image.DecompressionBombError, ValueError) as error:
        raise InputImageError(f"{name}: cannot read image ({error})") from None
    return _as_8_bits(image, wide, name)


def encode_image(array, path, format=None):
    """A uint8 array as the bytes of an image file (format from ``path``'s extension)."""
    import io

    buffer = io.BytesIO()
    image = Image.fromarray(array)
    fmt = format or Image.registered_extensions().get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise InputImageError(f"{path}: unknown image extension; use .png, .bmp, .tif, .jpg...")
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def save_image(array, path, format=None, replace=True):
    """Save a uint8 array as an image file atomically (format from the extension)."""
    atomic_write_bytes(path, encode_image(array, path, format), replace=replace)
