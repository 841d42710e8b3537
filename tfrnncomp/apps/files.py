"""Single files behind the CLI: compress and decompress one file, and the checks of the
paths a command is given (shared with folder mode, :mod:`tfrnncomp.apps.folders`).

Outputs are written through a temporary file and a rename, so a killed run
never leaves a partial file; an input is never overwritten.  Only regular files are
read or replaced: devices, FIFOs and sockets are refused.  A single file's input or
output may be ``-``: stdin or stdout.
"""

import io
import os
import sys

from tfrnncomp.codec import image_io
from tfrnncomp.errors import TfrnncompError
from tfrnncomp.format import container as bitstream

EXTENSION = bitstream.FILE_EXTENSION
#: the file name meaning stdin (an input) or stdout (an output)
STDIO = "-"


def _check_stdio(source, target):
    """Refuse ``-`` for a folder's outputs, and binary data to or from a terminal."""
    if target == STDIO and source != STDIO and os.path.isdir(source):
        raise TfrnncompError("a folder's outputs need an output folder, not - (stdout)")
    if source == STDIO and sys.stdin.isatty():
        raise TfrnncompError("refusing to read binary data from a terminal; redirect stdin")
    if target == STDIO and sys.stdout.isatty():
        raise TfrnncompError("refusing to write binary data to a terminal; redirect stdout")


def _special(path):
    """What ``path`` is if it is a device, FIFO or socket (``-`` is none), else None."""
    kind = None if path == STDIO else image_io.special_kind(path)
    return None if kind == "folder" else kind


def check_paths(source, target, force=False):
    """Refuse a missing or special input, an output that is the input, an existing output
    (unless ``force``) or a special one (device, FIFO, socket: even with ``force``)."""
    _check_stdio(source, target)
    if source != STDIO and not os.path.exists(source):
        raise TfrnncompError(f"{source}: no such file or directory")
    if _special(source):
        raise TfrnncompError(f"{source}: is a {_special(source)}, not a regular file (use - "
                             "to read stdin)")
    if _special(target):
        raise TfrnncompError(f"{target}: is a {_special(target)}, not a regular file; refusing "
                             "to replace it (use - to write to stdout)")
    if target == STDIO:
        return
    folder = source != STDIO and os.path.isdir(source)
    if source != STDIO and os.path.exists(target) and os.path.samefile(source, target):
        raise TfrnncompError(f"{target}: output is the input; refusing to overwrite it")
    if folder:
        if os.path.exists(target) and not os.path.isdir(target):
            raise TfrnncompError(f"{target}: input is a folder, so the output must be one")
        src, dst = os.path.realpath(source), os.path.realpath(target)
        if dst == src or dst.startswith(src + os.sep):
            raise TfrnncompError(f"{target}: output folder must not be inside the input folder")
    elif os.path.isdir(target):
        raise TfrnncompError(f"{target}: is a folder; give an output file name")
    elif os.path.exists(target) and not force:
        raise TfrnncompError(f"{target}: exists; pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(target))
    if not folder and not os.path.isdir(parent):
        raise TfrnncompError(f"{parent}: output folder does not exist")


def _image_format(path):
    """Pillow's format name for ``path``'s extension if it is an image's (not ``.trc``)."""
    from PIL import Image

    extension = os.path.splitext(path)[1].lower()
    return None if extension == EXTENSION else Image.registered_extensions().get(extension)


def check_output_name(source, target, compress, fmt="png"):
    """Refuse an output name that says another kind of file than the command writes: a
    ``.trc`` folder for a folder's outputs (unless it exists), an image extension for
    ``compress`` and ``.trc`` for ``decompress`` (a file, or folder mode's ``fmt``)."""
    if target == STDIO:
        return
    if source != STDIO and os.path.isdir(source):
        if target.lower().endswith(EXTENSION) and not os.path.isdir(target):
            raise TfrnncompError(f"{target}: input is a folder, so the output must be a "
                                 f"folder, not a {EXTENSION} file name")
        if not compress and f".{fmt.lstrip('.').lower()}" == EXTENSION:
            raise TfrnncompError(f"--format {fmt}: decompress writes images; pick an image "
                                 "format such as png")
    elif compress and _image_format(target):
        raise TfrnncompError(f"{target}: compress writes a {EXTENSION} file, not a "
                             f"{_image_format(target)} image; name the output *{EXTENSION}")
    elif not compress and target.lower().endswith(EXTENSION):
        raise TfrnncompError(f"{target}: decompress writes an image, not a {EXTENSION} file; "
                             "name the output with an image extension such as .png")


def write_output(path, data, replace=True):
    """Write an output atomically (``-``: stdout); ``replace=False`` never replaces a file,
    even one that another process wrote while this one worked."""
    if path == STDIO:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        image_io.atomic_write_bytes(path, data, replace=replace)
    except FileExistsError:
        raise TfrnncompError(f"{path}: exists (written meanwhile by another process?); pass "
                             "--force to overwrite it") from None
    except OSError as error:
        raise TfrnncompError(f"{path}: cannot write ({error.strerror})") from None


def read_input(path):
    """The bytes of an input file (``-``: stdin); TfrnncompError if it cannot be read."""
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        with image_io.open_regular(path) as handle:
            return handle.read()
    except OSError as error:
        raise TfrnncompError(f"{path}: cannot read ({error.strerror})") from None


def _no_progress(stage):
    """The ``progress`` callable that shows nothing."""


def compress_file(codec, source, target, options, force=False, progress=None):
    """Compress one image file (``-``: stdin) to ``target`` (``-``: stdout) as
    :class:`~tfrnncomp.codec.options.CompressOptions` ``options`` ask; returns the file's
    :func:`compress_summary`.  ``progress`` is told each stage as it begins (``read``, the
    stages of :meth:`Codec.compress`, ``write``)."""
    stage = progress or _no_progress
    stage("read")
    image = (image_io.open_image(io.BytesIO(read_input(source)), name="stdin") if source == STDIO
             else image_io.open_image(source))
    data = codec.compress_with(image, options, progress)
    stage("write")
    write_output(target, data, replace=force)
    return compress_summary(codec, image, data, options)


def compress_summary(codec, image, data, options):
    """What :meth:`Codec.compress` made of ``image`` as ``options`` asked: ``bytes``, ``bpp``,
    ``iterations``; with a goal (:attr:`CompressOptions.goal`), its name and value
    (``target``, ``target_value``), ``met`` (not for adaptive files) and, for a quality
    target, the quality reached (``psnr`` or ``ms_ssim``, measured on the decoded file)."""
    from tfrnncomp.codec import rate

    header = bitstream.read(data, max_pixels=None).header
    pixels = header.height * header.width
    summary = {"bytes": len(data), "bpp": len(data) * 8.0 / pixels,
               "iterations": header.iterations}
    goal = options.goal
    if goal is None:
        return summary
    value = getattr(options, goal)
    summary.update(target=goal, target_value=value)
    if goal in ("bpp", "target_size"):
        summary["met"] = bool(len(data) * 8.0 <= float(value) * (
            8.0 if goal == "target_size" else pixels))
        return summary
    metric = "psnr" if goal == "target_psnr" else "ms_ssim"
    array, channels = image_io.to_array(image, drop_alpha=options.drop_alpha)
    summary[metric] = float(rate.measure(metric, array, channels, codec.decompress(data)))
    if not options.adaptive:
        summary["met"] = bool(summary[metric] >= float(value))
    return summary


def decompressed_image(codec, source, target, iterations=None, progress=None):
    """The bytes of the image file that .trc file ``source`` (``-``: stdin) decodes to, in
    ``target``'s format (``-``: PNG).  ``progress`` is told each stage as it begins
    (``read``, the stages of :meth:`Codec.decompress`, ``write``)."""
    stage = progress or _no_progress
    stage("read")
    array = codec.decompress(read_input(source), iterations, progress=progress)
    stage("write")
    try:
        return image_io.encode_image(array, target, "PNG" if target == STDIO else None)
    except OSError as error:
        raise TfrnncompError(f"{target}: cannot write ({error})") from None


def decompress_file(codec, source, target, iterations=None, force=False, progress=None):
    """Decompress one .trc file (``-``: stdin) to an image (``-``: PNG on stdout)."""
    write_output(target, decompressed_image(codec, source, target, iterations, progress),
                 replace=force)
