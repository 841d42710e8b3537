"""Folder mode: ``tfrnncomp compress DIR OUTDIR --jobs N`` and ``tfrnncomp decompress DIR
OUTDIR``, one loop for both.

The output tree mirrors the input tree.  A run resumes where it stopped: an output that
already exists is skipped (when compressing, only if it verifies: whole file, checksums,
same model; anything else is redone), so a rerun does exactly the rest.  Failures are
recorded per file and never stop the run; devices, FIFOs and sockets are skipped.
Images to compress stream through a ``tf.data`` pipeline (parallel reading and
decoding, prefetch) into ``N`` compression workers (:mod:`tfrnncomp.apps.workers`)
sharing one :class:`~tfrnncomp.Codec` (it is thread-safe).
"""

import os
import signal
import sys

import numpy as np

from tfrnncomp.codec import image_io
from tfrnncomp.apps import workers
from tfrnncomp.apps.files import EXTENSION, decompressed_image
from tfrnncomp.errors import TfrnncompError, printable, shown_path
from tfrnncomp.format import container as bitstream


def plan(pairs):
    """Drop inputs that map to an output already claimed (a.png and a.jpg -> a.trc)."""
    claimed, planned, failures = {}, [], []
    for source, target in pairs:
        if target in claimed:
            failures.append((source, f"{target} is also the output of {claimed[target]}; "
                                     "rename one of them"))
            continue
        claimed[target] = source
        planned.append((source, target))
    return planned, failures


def verifies(codec, path):
    """True if ``path`` is a whole, checksum-clean file written by ``codec``'s model."""
    try:
        with image_io.open_regular(path) as handle:  # an output that is a FIFO: no wait
            container = bitstream.read(handle.read(), strict=True)
    except (OSError, TfrnncompError):
        return False
    return container.complete and container.header.model_id == codec.model_id


def _load(path):
    """Read one image for the pipeline: ``(uint8[H,W,3], channels, error message)``."""
    path = os.fsdecode(path)
    try:
        array, channels = image_io.to_array(image_io.open_image(path))
        return array, np.int32(channels), b""
    except TfrnncompError as error:
        message = str(error).encode("utf-8", "surrogateescape")
        return np.zeros((0, 0, 3), np.uint8), np.int32(0), message


def image_pipeline(paths, jobs):
    """``tf.data`` pipeline yielding ``(image, channels, error)`` in input order."""
    import tensorflow as tf

    def load(path):
        return tuple(tf.numpy_function(_load, [path], [tf.uint8, tf.int32, tf.string]))

    dataset = tf.data.Dataset.from_tensor_slices([os.fsencode(p) for p in paths] or [b""])
    if not paths:
        dataset = dataset.take(0)
    return dataset.map(load, num_parallel_calls=max(1, jobs), deterministic=True).prefetch(jobs)


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


def compress_folder(codec, source, target, options, force=False, jobs=1):
    """Compress the images of a folder tree into ``.trc`` files under ``target`` as
    :class:`~tfrnncomp.codec.options.CompressOptions` ``options`` ask, in ``jobs`` workers;
    an existing output is skipped if it verifies.  Returns the exit status."""
    os.makedirs(target, exist_ok=True)
    image_io.remove_stale_temporaries(target)  # left by a killed earlier run
    damaged = set()  # existing outputs that do not verify: replaced

    def select(pairs, summary):
        todo = []
        for source_path, target_path in pairs:
            if force or not os.path.lexists(target_path):
                todo.append((source_path, target_path))
            elif verifies(codec, target_path):
                summary.skipped += 1
            else:
                todo.append((source_path, target_path))
                damaged.add(target_path)
        return todo

    def prepare(source_path, target_path, loaded):
        image, channels, error = (value.numpy() for value in loaded)
        if error:
            raise TfrnncompError(error.decode("utf-8", "surrogateescape"))
        data = codec.compress_with(image if int(channels) == 3 else image[..., 0], options)
        stats = os.path.getsize(source_path), len(data), image.shape[0] * image.shape[1]
        return data, force or target_path in damaged, stats

    def tasks(todo):
        loaded = image_pipeline([source_path for source_path, _ in todo], jobs)
        return ((s, t, images) for (s, t), images in zip(todo, loaded))

    return _run(source, target, _is_image, EXTENSION, select, prepare, tasks, jobs=jobs,
                name="compress")


def decompress_folder(codec, source, target, fmt="png", iterations=None, force=False):
    """Decompress the ``.trc`` files of a folder tree into ``fmt`` images under ``target``;
    an existing output is skipped unless ``force``.  Returns the exit status."""
    if os.path.isdir(target):
        image_io.remove_stale_temporaries(target)  # left by a killed earlier run

    def select(pairs, summary):
        todo = [(s, t) for s, t in pairs if force or not os.path.lexists(t)]
        summary.skipped = len(pairs) - len(todo)
        return todo

    def prepare(source_path, target_path, _):
        data = decompressed_image(codec, source_path, target_path, iterations)
        return data, force, (os.path.getsize(source_path), len(data), 0)

    def tasks(todo):
        return ((s, t, None) for s, t in todo)

    return _run(source, target, lambda name: name.endswith(EXTENSION), "." + fmt.lstrip("."),
                select, prepare, tasks, name="decompress", brief=True)


def _is_image(name):
    return name.lower().endswith(image_io.IMAGE_EXTENSIONS) and not name.startswith(".")


def _run(source, target, keep, suffix, select, prepare, tasks, *, jobs=1, name, brief=False):
    """The folder loop: scan ``source`` for the names ``keep`` accepts, map each file to
    ``target`` with the extension ``suffix``, drop clashing outputs, ``select(pairs,
    summary)`` the pairs to do (counting the skipped ones), code them in
    :func:`tfrnncomp.apps.workers.run` and print the summary; returns the exit status.

    Ctrl-C prints the summary too, then stops the command (status 130, at once at exit
    even if images were still being coded).
    """
    import atexit

    paths, failures = scan(source, keep)
    pairs = [(path, os.path.join(target, os.path.splitext(os.path.relpath(path, source))[0]
                                 + suffix)) for path in paths]
    summary = workers.Summary()
    pairs, summary.failed = plan(pairs)
    summary.failed[:0] = failures
    try:
        try:
            todo = select(pairs, summary)
        except KeyboardInterrupt:
            summary.interrupted = len(pairs) - summary.skipped
            raise workers.Interrupted(summary) from None
        workers.run(prepare, lambda: tasks(todo), len(todo), jobs=jobs, summary=summary,
                    progress=_progress(name))
    except workers.Interrupted as stop:
        report(stop.summary, brief=brief)
        atexit.register(workers.exit_now_if_coding, 128 + signal.SIGINT)
        raise
    return report(summary, brief=brief)


def report(summary, stream=None, brief=False):
    """Print the failures (on stderr) and the summary line (``brief``: counts only); returns
    the exit status, 1 if any file failed."""
    print_failures(summary.failed, stream or sys.stderr)
    print(summary.counts() if brief else summary.line())
    return 1 if summary.failed else 0
