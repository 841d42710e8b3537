"""Error types of tfrnncomp.

Every failure the package reports on purpose is a :class:`TfrnncompError`, so
callers (and the CLI, which prints one line and exits non-zero) can tell the
codec's own errors from bugs.
"""

import os


class TfrnncompError(Exception):
    """Base class of every error the codec raises on purpose."""


class BitstreamError(TfrnncompError):
    """A ``.trc`` file is malformed (bad magic, bad field, trailing data...)."""


class ChecksumError(BitstreamError):
    """A header or chunk CRC32 does not match its bytes."""


class TruncatedError(BitstreamError):
    """The file ends before the header or before the first whole chunk."""


class UnsupportedVersionError(BitstreamError):
    """The file was written by a newer format version than this reader knows."""


class LimitError(BitstreamError):
    """A header asks for more than the configured limits (decompression bomb guard)."""


class ModelMismatchError(TfrnncompError):
    """The file was written by another model than the one decoding it."""


class InputImageError(TfrnncompError):
    """An input image has a mode, depth or size the codec does not accept."""


class InputImageWarning(UserWarning):
    """An input image was changed to fit what the codec codes (16-bit samples cut to 8 bits)."""


class TargetNotMetError(TfrnncompError):
    """No number of iterations meets a rate budget or quality target (``best_effort=False``)."""


class ConfigError(TfrnncompError, ValueError):
    """A model or layer configuration is invalid."""


class BackendError(TfrnncompError):
    """A codec backend is unknown or its runtime (e.g. ai-edge-litert) is not installed."""


class OutputError(TfrnncompError):
    """An output cannot be written where asked (e.g. it is a device, FIFO or socket)."""


# -- pieces of messages ---------------------------------------------------------------------
#: longest id (model, entropy model) echoed whole in a message
SHOWN_ID_CHARS = 60


def shown_id(text, limit=SHOWN_ID_CHARS):
    """``text`` quoted for a message, cut after ``limit`` characters: a file may hold a 60 KB id."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _escaped(char):
    if 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        return f"\\x{ord(char) - 0xDC00:02x}"
    return char.encode("unicode_escape").decode("ascii")


def printable(text):
    """``text`` with newlines and other unprintable characters escaped (``\\n``, ``\\xff``)."""
    return "".join(c if c.isprintable() else _escaped(c) for c in str(text))


def shown_path(path):
    """A path for a one-line message: as it is if printable, else quoted with escapes."""
    path = os.fsdecode(path)
    if path.isprintable():
        return path
    return "'" + printable(path.replace("\\", "\\\\").replace("'", "\\'")) + "'"
