"""File and folder operations behind the CLI: compress, decompress, info.

Outputs are written through a temporary file and a rename, so a killed run
never leaves a partial file; an input is never overwritten; folder mode
mirrors the input tree, skips outputs that already exist (so a rerun
resumes), and records failures per file without stopping.  Only regular files are
read or replaced: devices, FIFOs and sockets are refused (single files) or skipped
(folders).  A single file's input or output may be ``-``: stdin or stdout.
"""

import io
import os
import signal
import sys

from tfrnncomp import image_io
from tfrnncomp.format import container as bitstream
from tfrnncomp.format import extensions
from tfrnncomp.errors import InputImageError, TfrnncompError, printable, shown_id, shown_path

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


def _read(path):
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        with image_io.open_regular(path) as handle:
            return handle.read()
    except OSError as error:
        raise TfrnncompError(f"{path}: cannot read ({error.strerror})") from None


def _no_progress(stage):
    """The ``progress`` callable that shows nothing."""


def compress_file(codec, source, target, force=False, progress=None, **kwargs):
    """Compress one image file (``-``: stdin) to ``target`` (``-``: stdout); returns the
    file's :func:`compress_summary`.  ``progress`` is told each stage as it begins
    (``read``, the stages of :meth:`Codec.compress`, ``write``)."""
    stage = progress or _no_progress
    stage("read")
    image = (image_io.open_image(io.BytesIO(_read(source)), name="stdin") if source == STDIO
             else image_io.open_image(source))
    data = codec.compress(image, progress=progress, **kwargs)
    stage("write")
    write_output(target, data, replace=force)
    return compress_summary(codec, image, data, **kwargs)


#: the rate settings of :meth:`Codec.compress` that are goals a file can miss
GOALS = ("bpp", "target_size", "target_psnr", "target_msssim")


def compress_summary(codec, image, data, **settings):
    """What :meth:`Codec.compress` made of ``image``: ``bytes``, ``bpp``, ``iterations``; with
    a goal of :data:`GOALS`, its name and value (``target``, ``target_value``), ``met`` (not
    for adaptive files) and, for a quality target, the quality reached (``psnr`` or
    ``ms_ssim``, measured on the decoded file)."""
    from tfrnncomp import rate

    header = bitstream.read(data, max_pixels=None).header
    pixels = header.height * header.width
    summary = {"bytes": len(data), "bpp": len(data) * 8.0 / pixels,
               "iterations": header.iterations}
    goal = next((name for name in GOALS if settings.get(name) is not None), None)
    if goal is None:
        return summary
    summary.update(target=goal, target_value=settings[goal])
    if goal in ("bpp", "target_size"):
        summary["met"] = bool(len(data) * 8.0 <= float(settings[goal]) * (
            8.0 if goal == "target_size" else pixels))
        return summary
    metric = "psnr" if goal == "target_psnr" else "ms_ssim"
    array, channels = image_io.to_array(image, drop_alpha=settings.get("drop_alpha", False))
    summary[metric] = float(rate.measure(metric, array, channels, codec.decompress(data)))
    if not settings.get("adaptive"):
        summary["met"] = bool(summary[metric] >= float(settings[goal]))
    return summary


def decompressed_image(codec, source, target, iterations=None, progress=None):
    """The bytes of the image file that .trc file ``source`` (``-``: stdin) decodes to, in
    ``target``'s format (``-``: PNG).  ``progress`` is told each stage as it begins
    (``read``, the stages of :meth:`Codec.decompress`, ``write``)."""
    stage = progress or _no_progress
    stage("read")
    array = codec.decompress(_read(source), iterations, progress=progress)
    stage("write")
    try:
        return image_io.encode_image(array, target, "PNG" if target == STDIO else None)
    except OSError as error:
        raise TfrnncompError(f"{target}: cannot write ({error})") from None


def decompress_file(codec, source, target, iterations=None, force=False, progress=None):
    """Decompress one .trc file (``-``: stdin) to an image (``-``: PNG on stdout)."""
    write_output(target, decompressed_image(codec, source, target, iterations, progress),
                 replace=force)


def _progress(desc):
    """A progress bar maker for folder mode (``progress(total=N)``), None off a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    def progress(total):
        return tqdm(total=total, desc=desc, unit="file")

    return progress


def _utf8(path):
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def scan(root, keep):
    """``(paths, failures)``: the files under ``root`` whose names ``keep`` accepts.

    Devices, FIFOs and sockets are skipped with a message (reading a FIFO could wait
    forever); names that are not UTF-8 are failures, ``(path, message)``.
    """
    paths, failures = [], []
    for directory, _, files in os.walk(root):
        for name in filter(keep, sorted(files)):
            path = os.path.join(directory, name)
            kind = image_io.special_kind(path)
            if kind is not None:
                print(f"tfrnncomp: skipped: {shown_path(path)}: is a {kind}, not a regular file",
                      file=sys.stderr)
            elif not _utf8(os.path.relpath(path, root)):
                failures.append((path, "file name is not valid UTF-8; rename it"))
            else:
                paths.append(path)
    return paths, failures


def print_failures(failures, stream=None):
    """One line per failure, naming the input once, whatever characters its name holds."""
    for source, message in failures:
        message = str(message).removeprefix(f"{source}: ")
        print(f"tfrnncomp: failed: {shown_path(source)}: {printable(message)}",
              file=stream or sys.stderr)


def _report(run, failures, brief=False):
    """Print a folder run's summary, with the scan's ``failures`` first; returns the exit
    status.  Ctrl-C prints the summary too, then stops the command (status 130, at once
    at exit even if images were still being coded)."""
    import atexit

    from tfrnncomp import folder

    try:
        summary = run()
    except folder.Interrupted as stop:
        stop.summary.failed[:0] = failures
        folder.report(stop.summary, brief=brief)
        atexit.register(folder.exit_now_if_coding, 128 + signal.SIGINT)
        raise
    summary.failed[:0] = failures
    return folder.report(summary, brief=brief)


def compress_folder(codec, source, target, force=False, jobs=1, **kwargs):
    """Compress a folder tree into ``target``, mirroring it (see :mod:`tfrnncomp.folder`)."""
    from tfrnncomp import folder

    def keep(name):
        return name.lower().endswith(image_io.IMAGE_EXTENSIONS) and not name.startswith(".")

    os.makedirs(target, exist_ok=True)
    image_io.remove_stale_temporaries(target)  # left by a killed earlier run
    paths, failures = scan(source, keep)
    pairs = [(path, os.path.join(target, os.path.splitext(os.path.relpath(path, source))[0]
                                 + EXTENSION)) for path in paths]
    return _report(lambda: folder.compress_folder(codec, pairs, force=force, jobs=jobs,
                                                  progress=_progress("compress"), **kwargs),
                   failures)


def decompress_folder(codec, source, target, fmt="png", iterations=None, force=False):
    """Decompress a folder tree of .trc files into images under ``target``, mirroring it."""
    from tfrnncomp import folder

    if os.path.isdir(target):
        image_io.remove_stale_temporaries(target)  # left by a killed earlier run
    paths, failures = scan(source, lambda name: name.endswith(EXTENSION))
    pairs = [(path, os.path.join(target, os.path.splitext(os.path.relpath(path, source))[0]
                                 + "." + fmt.lstrip("."))) for path in paths]
    return _report(lambda: folder.decompress_folder(codec, pairs, force=force,
                                                    iterations=iterations,
                                                    progress=_progress("decompress")),
                   failures, brief=True)


def info(path, compare=None, model=None, max_pixels=bitstream.DEFAULT_MAX_PIXELS,
         progress=None):
    """Header and per-iteration sizes; with ``compare``, quality after each iteration
    (``progress(steps, total=N)`` wraps the loop over iterations, e.g. a tqdm bar)."""
    data = _read(path)
    container = bitstream.read(data, max_pixels=max_pixels)
    report = bitstream.info_dict(container)
    report["extensions"] = extensions.decoded(container.header)
    report["file"] = path
    report["raw_chunk_bytes"] = container.header.raw_chunk_bytes
    report["raw_bytes"] = sum(container.header.raw_chunk_bytes_at(i)
                              for i in range(len(container.chunks)))
    if compare is None:
        return report
    from tfrnncomp import metrics
    from tfrnncomp.codec import Codec

    original, _ = image_io.to_array(image_io.open_image(compare))
    header = container.header
    if original.shape[:2] != (header.height, header.width):
        raise InputImageError(f"{compare}: size {original.shape[1]}x{original.shape[0]} differs "
                              f"from the file's {header.width}x{header.height}")
    codec = Codec(model, max_pixels=max_pixels)
    rows = []
    pixels = header.height * header.width
    total = len(bitstream.encode_header(header))
    chunks = codec.read(data).chunks
    steps = enumerate(chunks, start=1)
    for k, chunk in steps if progress is None else progress(steps, total=len(chunks)):
        total += len(chunk) + bitstream.CHUNK_OVERHEAD
        decoded = codec.decompress(data, k)
        decoded = decoded if decoded.ndim == 3 else decoded[..., None].repeat(3, -1)
        row = {"iterations": k, "bytes": total, "bpp": total * 8.0 / pixels,
               "psnr": metrics.psnr(original, decoded)}
        if min(header.height, header.width) >= metrics.min_ms_ssim_size():
            row["ms_ssim"] = metrics.ms_ssim(original, decoded)
        rows.append(row)
    report["quality"] = rows
    return report


def format_info(report):
    lines = [f"{report['file']}: tfrnncomp v{report.get('format_version', '?')}"]
    for key in ("model_id", "width", "height", "channels", "pad_width", "pad_height",
                "iterations_declared", "iterations_present", "entropy_mode", "complete", "total_bytes"):
        if key in report:
            lines.append(f"  {key:13s} {report[key]}")
    extensions = report.get("extensions", {})
    if "tile" in extensions:
        lines.append(f"  tile          {extensions['tile']}x{extensions['tile']} pixels")
    if "entropy_model" in extensions:
        lines.append(f"  entropy_model {shown_id(extensions['entropy_model'])}")
    if "chunk_bytes" in report:
        raw = report.get("raw_chunk_bytes")
        lines.append("  chunk bytes   " + " ".join(str(n) for n in report["chunk_bytes"]))
        total = report.get("raw_bytes", (raw or 0) * len(report["chunk_bytes"]))
        if raw and total:
            saved = 1.0 - sum(report["chunk_bytes"]) / float(total)
            lines.append(f"  raw bytes     {raw} per full chunk; entropy coding saves {saved:.1%}")
    if "iteration_map" in report:
        m = report["iteration_map"]
        lines.append(f"  adaptive      blocks of {m['block']}x{m['block']} codes, {m['rows']}x"
                     f"{m['cols']} map, mean {m['mean_iterations']} iterations; blocks "
                     "stopping after 1.. : " + " ".join(map(str, m["blocks_stopping_after"])))
    for row in report.get("quality", []):
        quality = f"  it {row['iterations']:2d}: {row['bytes']:8d} B  {row['bpp']:.4f} bpp  " \
                  f"PSNR {row['psnr']:.2f} dB"
        if "ms_ssim" in row:
            quality += f"  MS-SSIM {row['ms_ssim']:.4f}"
        lines.append(quality)
    return "\n".join(lines)
