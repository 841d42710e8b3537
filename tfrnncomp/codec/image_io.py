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
import errno
import os
import shutil
import stat
import tempfile
import warnings

import numpy as np
from PIL import Image, ImageOps

from tfrnncomp.errors import InputImageError, InputImageWarning, OutputError, TfrnncompError

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


_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"),
          (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"))


def _kind(mode):
    """``None`` for a regular file, else what it is ("FIFO", "character device"...)."""
    if stat.S_ISREG(mode):
        return None
    return next((name for test, name in _KINDS if test(mode)), "special file")


def special_kind(path):
    """What ``path`` is if it exists and is not a regular file (symlinks followed), else None."""
    try:
        return _kind(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def open_regular(path):
    """Open ``path`` for binary reading, refusing anything but a regular file.

    The file is opened without blocking, so a FIFO with no writer is refused at once
    instead of hanging the reader.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    kind = _kind(os.fstat(fd).st_mode)
    if kind is not None:
        os.close(fd)
        raise TfrnncompError(f"{path}: is a {kind}, not a regular file")
    return os.fdopen(fd, "rb")


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
        _publish(tmp, path, replace=True)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: errors of ``os.link`` on file systems without hard links (FAT, some network mounts)
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}


def _publish(tmp, path, replace):
    """Give the finished temporary file ``tmp`` the name ``path``.

    ``replace=True`` renames it over an existing regular file; an existing device, FIFO,
    socket or folder raises :class:`OutputError` instead.  ``replace=False`` never
    replaces anything: a file that appeared at ``path`` meanwhile raises FileExistsError.
    """
    if replace:
        kind = special_kind(path)
        if kind is not None:
            raise OutputError(f"{path}: is a {kind}, not a regular file; refusing to replace it")
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if ``path`` exists, atomically
    except OSError as error:
        if error.errno not in _NO_LINKS:
            raise
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # claim the name
        os.replace(tmp, path)
    else:
        os.unlink(tmp)


def atomic_write_bytes(path, data, replace=True):
    """Write ``data`` to ``path`` through a temporary file, fsync and a rename.

    The temporary file has an unpredictable name and is created exclusively (a planted
    symlink is never followed).  A process killed mid-write leaves at most a hidden
    ``.NAME.RANDOM.tfrnncomp-tmp-PID`` file, never a partial ``path``;
    :func:`remove_stale_temporaries` cleans those up.  ``replace=False`` never replaces
    an existing ``path`` (FileExistsError), even one that appeared during the write;
    an existing special file (device, FIFO, socket) is never replaced.
    """
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        _publish(tmp, path, replace)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_directory(path, replace=False):
    """Yield a new temporary folder beside ``path``, renamed onto ``path`` when the block ends.

    For writers of a whole folder (a SavedModel version): a reader sees no folder or a
    complete one.  ``replace=False`` raises :class:`OutputError` if ``path`` exists; with
    ``replace`` an existing folder is moved aside and deleted once the new one is in place.
    On any exception the temporary folder is removed.
    """
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isdir(path)):
        raise OutputError(f"{path}: is not a folder; refusing to replace it")
    if os.path.exists(path) and not replace:
        raise OutputError(f"{path}: exists; pass --force to overwrite it")
    parent, name = os.path.split(os.path.abspath(path))
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{name[:64]}.", suffix=f"{TMP_MARK}{os.getpid()}")
    old = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp's 0700 would hide it from a server
        yield tmp
        if os.path.isdir(path):
            old = tempfile.mkdtemp(dir=parent, prefix=f".{name[:64]}.old.")
            os.replace(path, old)  # onto the empty folder just made
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not os.path.exists(path):
            os.replace(old, path)  # put the previous folder back
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
