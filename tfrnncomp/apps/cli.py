"""The ``tfrnncomp`` command line: a thin layer over :mod:`tfrnncomp.codec` and friends
(the parser in :mod:`tfrnncomp.apps.parser`, the commands in :mod:`tfrnncomp.apps.commands`).

Every error the codec raises on purpose is printed as one line
(``tfrnncomp: error: ...``) with exit status 2; outputs are written
atomically and an input is never overwritten.
"""

import contextlib
import os
import sys
import warnings

from tfrnncomp.apps.commands import COMMANDS
from tfrnncomp.apps.parser import build_parser
from tfrnncomp.errors import InputImageWarning, TfrnncompError, printable


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not args.verbose:
        _quiet_libraries()
    try:
        with _one_line_warnings():
            return COMMANDS[args.command](args) or 0
    except TfrnncompError as error:
        message = printable(error).replace("pass max_pixels= to raise it",
                                           "pass --max-pixels to raise it")
        print(f"tfrnncomp: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfrnncomp: interrupted", file=sys.stderr)
        return 130


def _quiet_libraries():
    """Hide TensorFlow's log messages (CUDA plugin registration, CPU feature notices,
    Python warnings) unless the user chose a level: before TensorFlow is imported."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf_logger = logging.getLogger("tensorflow")
    if tf_logger.level == logging.NOTSET:
        tf_logger.setLevel(logging.ERROR)
    try:
        from absl import flags
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return
    if not flags.FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def _one_line_warnings():
    """Show each warning as one ``tfrnncomp: warning: ...`` line on stderr; the codec's
    :class:`InputImageWarning` every time (once per file in folder mode)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"tfrnncomp: warning: {printable(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", InputImageWarning)
        warnings.showwarning = show
        yield


if __name__ == "__main__":
    sys.exit(main())
