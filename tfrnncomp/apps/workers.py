"""The worker threads of folder mode: ``jobs`` threads prepare outputs while one feeds them
tasks, each output written atomically under one lock.

Ctrl-C stops a run within about a second: no new file is started, files still
being coded get :data:`GRACE` seconds to be written and are dropped after that
(their workers are daemon threads), and :class:`Interrupted` carries the
:class:`Summary` of what was written, so a rerun does exactly the rest.
"""

import dataclasses
import os
import queue
import sys
import threading
import time

from tfrnncomp.apps.files import write_output
from tfrnncomp.errors import TfrnncompError

#: seconds that images already being coded get to be written after Ctrl-C
GRACE = 0.5
#: seconds between the checks of a waiting thread (so Ctrl-C is never held up longer)
POLL = 0.1
#: threads of interrupted runs still coding (or reading) an image when they were dropped
_dropped = []


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
    #: files not done because the run was interrupted (a rerun does them)
    interrupted: int = 0

    def counts(self):
        """``3 written, 0 skipped (existing), 0 failed`` (``, 5 interrupted`` if so)."""
        line = f"{self.written} written, {self.skipped} skipped (existing), {len(self.failed)} failed"
        return line + (f", {self.interrupted} interrupted" if self.interrupted else "")

    def line(self):
        bpp = self.bytes_out * 8.0 / self.pixels if self.pixels else 0.0
        rate = self.written / self.seconds if self.seconds else 0.0
        mps = self.pixels / 1e6 / self.seconds if self.seconds else 0.0
        return (f"{self.counts()}; {self.bytes_in / 1e6:.2f} MB in, "
                f"{self.bytes_out / 1e6:.3f} MB out, mean {bpp:.3f} bpp; "
                f"{self.seconds:.1f} s, {rate:.2f} images/s, {mps:.2f} MP/s")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped a folder run; ``summary`` says what was written before it."""

    def __init__(self, summary):
        super().__init__()
        self.summary = summary


def run(prepare, tasks, total, *, jobs=1, summary=None, progress=None):
    """Write the outputs of ``total`` tasks in ``jobs`` worker threads; returns ``summary``
    (a new :class:`Summary` if None) with the counts added.

    ``tasks()`` gives ``(source, target, payload)`` triples (it runs in a feeding thread);
    ``prepare(source, target, payload)`` gives ``(data, replace, (bytes_in, bytes_out,
    pixels))`` or raises :class:`TfrnncompError` (a failure of that file).  Ctrl-C raises
    :class:`Interrupted` within about :data:`GRACE` seconds, with the summary of the
    files written by then; no output is written after it.
    """
    summary = Summary() if summary is None else summary
    if not total:
        return summary
    start = time.time()
    bar = progress(total=total) if progress else None
    workers = _Workers(prepare, tasks, max(1, jobs))
    interrupted = False
    try:
        workers.wait(total, bar)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        outcomes = workers.close(GRACE if interrupted else 0.0)
        _tally(summary, outcomes)
        summary.interrupted += total - len(outcomes)
        summary.seconds = time.time() - start
        if bar is not None:
            _advance(bar, len(outcomes))
            bar.close()
    if interrupted:
        raise Interrupted(summary)
    return summary


def _tally(summary, outcomes):
    for source, outcome in outcomes:
        if isinstance(outcome, str):
            summary.failed.append((source, outcome))
        else:
            summary.written += 1
            summary.bytes_in += outcome[0]
            summary.bytes_out += outcome[1]
            summary.pixels += outcome[2]


def _advance(bar, done):
    """Move a progress bar to ``done`` files (it may have missed updates to Ctrl-C)."""
    if done > bar.n:
        bar.update(done - bar.n)


class _Workers:
    """Daemon threads: one feeding tasks, ``jobs`` preparing and writing outputs.

    Each output is written, and its outcome recorded, under one lock that :meth:`close`
    takes too, so nothing is written after a run is closed and the outcomes are exactly
    the files written (or failed).  Threads that are still coding when the process exits
    are dropped; their outputs were never started, so nothing partial is left.
    """

    def __init__(self, prepare, tasks, jobs):
        self.prepare = prepare
        self.outcomes = []  # (source, (bytes_in, bytes_out, pixels) or a failure message)
        self.lock = threading.Lock()  # held while writing an output and recording it
        self.closed = False
        self.stop = threading.Event()
        self.progressed = threading.Event()
        self.fatal = None  # an unexpected exception of a thread, raised by wait()
        self.queue = queue.Queue(maxsize=jobs)
        self.workers = [threading.Thread(target=self._work, daemon=True,
                                         name=f"tfrnncomp-worker-{i}") for i in range(jobs)]
        self.feeder = threading.Thread(target=self._feed, args=(tasks, jobs), daemon=True,
                                       name="tfrnncomp-feeder")
        for thread in [self.feeder, *self.workers]:
            thread.start()

    def wait(self, total, bar=None):
        """Return once ``total`` outcomes are in, advancing ``bar`` as they come."""
        while len(self.outcomes) < total:
            self.progressed.wait(POLL)  # a timeout, so Ctrl-C is seen at once
            self.progressed.clear()
            if self.fatal is not None:
                raise self.fatal
            if bar is not None:
                _advance(bar, len(self.outcomes))

    def close(self, grace):
        """Start no new task, give tasks in flight ``grace`` seconds, then write nothing
        more; returns the outcomes.  (The feeder writes nothing: it is not waited for.)"""
        self.stop.set()
        deadline = time.monotonic() + grace
        try:
            for thread in self.workers:
                thread.join(max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:  # Ctrl-C again: stop waiting
            pass
        with self.lock:
            self.closed = True
            _dropped[:] = [thread for thread in [*_dropped, self.feeder, *self.workers]
                           if thread.is_alive()]
            return list(self.outcomes)

    def _put(self, task):
        while not self.stop.is_set():
            try:
                self.queue.put(task, timeout=POLL)
                return True
            except queue.Full:
                pass
        return False

    def _feed(self, tasks, jobs):
        try:
            for task in tasks():
                if not self._put(task):
                    return
        except BaseException as error:  # a bug: stop the run, and wait() raises it
            self._fatal(error)
        for _ in range(jobs):  # one end mark per worker
            self._put(None)

    def _work(self):
        try:
            while not self.stop.is_set():
                try:
                    task = self.queue.get(timeout=POLL)
                except queue.Empty:
                    continue
                if task is None or self.stop.is_set():
                    return
                self._do(*task)
        except BaseException as error:  # a bug: stop the run, and wait() raises it
            self._fatal(error)

    def _do(self, source, target, payload):
        try:
            outcome = self.prepare(source, target, payload)
        except TfrnncompError as error:
            outcome = str(error)
        except OSError as error:  # e.g. the input vanished meanwhile
            outcome = f"{source}: {error.strerror or error}"
        with self.lock:
            if self.closed:
                return
            if not isinstance(outcome, str):
                outcome = _write(target, *outcome)
            self.outcomes.append((source, outcome))
        self.progressed.set()

    def _fatal(self, error):
        self.fatal = self.fatal or error
        self.stop.set()
        self.progressed.set()


def _write(target, data, replace, stats):
    """Write one output atomically: ``stats``, or a failure message."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    except OSError as error:
        return f"{target}: cannot make its folder ({error.strerror or error})"
    try:
        write_output(target, data, replace=replace)
    except TfrnncompError as error:
        return str(error)
    return stats


def exit_now_if_coding(status):
    """End the process with ``status`` at once, stdio flushed, if a dropped thread is still
    coding or reading an image (for ``atexit``: finalizing TensorFlow under a running kernel
    can crash the process; there is nothing to clean up, as a dropped thread writes nothing)."""
    if not any(thread.is_alive() for thread in _dropped):
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
