"""Turning user images into the codec's ``uint8[H,W,3]`` and back.

Accepted: 8-bit RGB and greyscale (``HxW``, ``HxWx1``, ``HxWx3`` arrays or PIL
images in modes ``RGB``, ``L``, ``P`` and ``CMYK``/``YCbCr`` converted to RGB).
Greyscale is coded as three equal channels and decoded back to one.  RGBA,
LA and 16-bit or float images raise :class:`InputImageError`, unless
``drop_alpha=True`` asks to drop the alpha channel explicitly.
"""

import contextlib
import os
import tempfile

import numpy as np
from PIL import Image

from tfrnncomp.errors import InputImageError

_CONVERTIBLE = {"P", "CMYK", "YCbCr", "1"}


def _from_pil(image, drop_alpha):
    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info):
        if not drop_alpha:
            raise InputImageError(
                f"image has an alpha channel (mode {mode}); alpha is not coded: "
                "pass drop_alpha=True (CLI: --drop-alpha) to code the colour channels only")
        image = image.convert("L" if mode in ("LA", "La") else "RGB")
        mode = image.mode
    if mode.startswith("I") or mode == "F":
        raise InputImageError(f"image mode {mode} (16-bit or float) is not supported; "
                              "convert it to 8-bit RGB or L first")
    if mode in _CONVERTIBLE:
        image = image.convert("RGB")
    elif mode not in ("RGB", "L"):
        raise InputImageError(f"unsupported image mode {mode}")
    return np.asarray(image)


def to_array(image, drop_alpha=False):
    """Returns ``(uint8[H,W,3], channels)`` with ``channels`` 1 for greyscale input, else 3."""
    if isinstance(image, (str, os.PathLike)):
        image = open_image(image)
    if isinstance(image, Image.Image):
        array = _from_pil(image, drop_alpha)
    else:
        array = np.asarray(image)
    if array.dtype != np.uint8:
        raise InputImageError(f"images must be uint8 (8 bits per sample), got {array.dtype}; "
                              "16-bit and float images are not supported")
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
    return np.ascontiguousarray(array), channels


def from_array(rgb, channels):
    """The decoder's RGB output as the user's colour mode (greyscale: channel mean)."""
    if channels == 1:
        return np.round(rgb.astype(np.float32).mean(axis=-1)).astype(np.uint8)
    return rgb


def open_image(path):
    """Open an image file with a one-line error on failure."""
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError:
        raise InputImageError(f"{path}: no such file") from None
    except (OSError, Image.DecompressionBombError, ValueError) as error:
        raise InputImageError(f"{path}: cannot read image ({error})") from None
    return image


#: marks the temporary files of :func:`atomic_write_bytes` (``.NAME.RANDOM.tfrnncomp-tmp-PID``)
TMP_MARK = ".tfrnncomp-tmp-"


def _umask():
    """The process umask, read without changing it where /proc tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temporary(path, suffix=None):
    """``(fd, name)`` of a new file beside ``path`` with an unpredictable name, made exclusively.

    The name keeps at most 64 characters of ``path``'s, so any legal output name works.
    """
    directory = os.path.dirname(os.path.abspath(path))
    suffix = f"{TMP_MARK}{os.getpid()}" if suffix is None else suffix
    fd, name = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)[:64]}.",
                                suffix=suffix)
    if hasattr(os, "fchmod"):
        os.fchmod(fd, 0o666 & ~_umask())  # the mode a plain open() would give, not mkstemp's 0600
    return fd, name


@contextlib.contextmanager
def atomic_path(path, suffix=None):
    """Yield a temporary file name beside ``path``, renamed onto ``path`` when the block ends.

    For writers that take a file name (Keras' ``save_weights`` needs ``suffix=".weights.h5"``);
    on any exception (KeyboardInterrupt included) the temporary file is removed.
    """
    fd, tmp = _temporary(path, suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename.

    The temporary file has an unpredictable name and is created exclusively (a planted
    symlink is never followed).  A process killed mid-write leaves at most a hidden
    ``.NAME.RANDOM.tfrnncomp-tmp-PID`` file, never a partial ``path``;
    :func:`remove_stale_temporaries` cleans those up.
    """
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(root):
    """Delete temporaries left by killed writers under ``root``; returns how many."""
    removed = 0
    for directory, _, files in os.walk(root):
        for name in files:
            head, mark, pid = name.rpartition(TMP_MARK)
            if mark and head.startswith(".") and pid.isdigit() and not _alive(int(pid)):
                os.unlink(os.path.join(directory, name))
                removed += 1
    return removed


def save_image(array, path, format=None):
    """Save a uint8 array as an image file atomically (format from the extension)."""
    import io

    buffer = io.BytesIO()
    image = Image.fromarray(array)
    fmt = format or Image.registered_extensions().get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise InputImageError(f"{path}: unknown image extension; use .png, .bmp, .tif, .jpg...")
    image.save(buffer, format=fmt)
    atomic_write_bytes(path, buffer.getvalue())
