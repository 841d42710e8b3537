"""Batch compression of large collections: ``tfrnncomp compress DIR OUTDIR --jobs N``.

Images stream through a ``tf.data`` pipeline (parallel reading and decoding,
prefetch) into ``N`` compression workers sharing one :class:`~tfrnncomp.Codec`
(it is thread-safe).  The run resumes where it stopped: an output that already
exists and verifies (whole file, checksums, same model) is skipped; anything
else is redone.  Failures are recorded per file and never stop the batch.
Outputs are written atomically, so a killed run leaves no partial file.
"""

import concurrent.futures
import dataclasses
import os
import sys
import time

import numpy as np

from tfrnncomp import batch, bitstream, image_io
from tfrnncomp.errors import TfrnncompError

EXTENSION = ".trc"


@dataclasses.dataclass
class Summary:
    """What a folder run did; ``line()`` is the CLI's closing line."""

    written: int = 0
    skipped: int = 0
    failed: list = dataclasses.field(default_factory=list)
    bytes_in: int = 0
    bytes_out: int = 0
    pixels: int = 0
    seconds: float = 0.0

    def line(self):
        bpp = self.bytes_out * 8.0 / self.pixels if self.pixels else 0.0
        rate = self.written / self.seconds if self.seconds else 0.0
        mps = self.pixels / 1e6 / self.seconds if self.seconds else 0.0
        return (f"{self.written} written, {self.skipped} skipped (existing), "
                f"{len(self.failed)} failed; {self.bytes_in / 1e6:.2f} MB in, "
                f"{self.bytes_out / 1e6:.3f} MB out, mean {bpp:.3f} bpp; "
                f"{self.seconds:.1f} s, {rate:.2f} images/s, {mps:.2f} MP/s")


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


def compress_folder(codec, pairs, *, force=False, jobs=1, progress=None, **kwargs):
    """Compress ``(source, target)`` pairs; returns a :class:`Summary`."""
    summary = Summary()
    pairs, summary.failed = plan(pairs)
    todo, damaged = [], set()  # damaged: outputs found not to verify, to be replaced
    for source, target in pairs:
        if force or not os.path.lexists(target):
            todo.append((source, target))
        elif verifies(codec, target):
            summary.skipped += 1
        else:
            todo.append((source, target))
            damaged.add(target)
    start = time.time()
    bar = progress(total=len(todo)) if progress else None

    def work(item, loaded):
        (source, target), (image, channels, error) = item, loaded
        error = error.numpy()
        if error:
            raise TfrnncompError(error.decode("utf-8", "surrogateescape"))
        image = image.numpy()
        data = codec.compress(image if int(channels) == 3 else image[..., 0], **kwargs)
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        batch.write_output(target, data, replace=force or target in damaged)
        return os.path.getsize(source), len(data), image.shape[0] * image.shape[1]

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {}
        stream = zip(todo, image_pipeline([s for s, _ in todo], jobs))
        for item, loaded in stream:
            futures[pool.submit(work, item, loaded)] = item
            if len(futures) >= 2 * max(1, jobs):
                _collect(futures, summary, bar, wait_all=False)
        _collect(futures, summary, bar, wait_all=True)
    if bar is not None:
        bar.close()
    summary.seconds = time.time() - start
    return summary


def _collect(futures, summary, bar, wait_all):
    done, _ = concurrent.futures.wait(
        list(futures), return_when=(concurrent.futures.ALL_COMPLETED if wait_all
                                    else concurrent.futures.FIRST_COMPLETED))
    for future in done:
        source, _ = futures.pop(future)
        try:
            bytes_in, bytes_out, pixels = future.result()
        except TfrnncompError as error:
            summary.failed.append((source, str(error)))
        else:
            summary.written += 1
            summary.bytes_in += bytes_in
            summary.bytes_out += bytes_out
            summary.pixels += pixels
        if bar is not None:
            bar.update(1)


def report(summary, stream=None):
    batch.print_failures(summary.failed, stream or sys.stderr)
    print(summary.line())
    return 1 if summary.failed else 0
