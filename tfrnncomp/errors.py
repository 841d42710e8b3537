"""Error types of tfrnncomp.

Every failure the package reports on purpose is a :class:`TfrnncompError`, so
callers (and the CLI, which prints one line and exits non-zero) can tell the
codec's own errors from bugs.
"""


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


class ConfigError(TfrnncompError, ValueError):
    """A model or layer configuration is invalid."""


class BackendError(TfrnncompError):
    """A codec backend is unknown or its runtime (e.g. ai-edge-litert) is not installed."""
