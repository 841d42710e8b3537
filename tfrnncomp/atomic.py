"""Files written atomically and read only when regular: the one writer of every output.

A writer gets a temporary file (or folder) beside its target, with an unpredictable name,
created exclusively, and renames it onto the target when it is complete, so a reader sees
the old file or the new one, never a partial one.  Free of TensorFlow, so tools that run
where it is missing (an accelerator run) write the same way.
"""

import contextlib
import errno
import os
import shutil
import stat
import tempfile

from tfrnncomp.errors import OutputError, TfrnncompError

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
