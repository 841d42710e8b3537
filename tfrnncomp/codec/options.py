"""The settings of :meth:`tfrnncomp.Codec.compress` as one typed value, what an encode returns
(:class:`Encoded`), the entropy modes by name, and the one check of an iteration count; light
enough for the command line to use before TensorFlow loads."""

import dataclasses

import numpy as np

from tfrnncomp.errors import TfrnncompError
from tfrnncomp.format.blockmap import DEFAULT_BLOCK
from tfrnncomp.format.container import EntropyMode

#: entropy modes by their CLI names; the default is the best one this package has
ENTROPY_MODES = {"raw": EntropyMode.RAW, "context": EntropyMode.CONTEXT,
                 "binaryrnn": EntropyMode.BINARYRNN}
#: entropy mode ``"auto"``: ``binaryrnn`` when the codec has a BinaryRNN for its model (it
#: beats ``context`` on the validation split, results/entropy/validation.md), else ``context``
DEFAULT_ENTROPY = "auto"
#: the rate settings, at most one of which is given (adaptive coding: see :mod:`.adaptive`)
RATE_SETTINGS = ("iterations", "bpp", "target_size", "target_msssim", "target_psnr")
#: the rate settings that are goals a file can miss
GOALS = ("bpp", "target_size", "target_psnr", "target_msssim")


@dataclasses.dataclass(frozen=True)
class CompressOptions:
    """What :meth:`Codec.compress` is asked to do; each field is its argument of that name."""

    iterations: int | None = None
    bpp: float | None = None
    target_size: int | None = None
    target_msssim: float | None = None
    target_psnr: float | None = None
    drop_alpha: bool = False
    entropy: str = DEFAULT_ENTROPY
    adaptive: bool = False
    slope: float | None = None
    block: int = DEFAULT_BLOCK
    best_effort: bool = True
    search: int = 0

    def rate_settings(self):
        """The names of the rate settings given, in the order of :data:`RATE_SETTINGS`."""
        return [name for name in RATE_SETTINGS if getattr(self, name) is not None]

    @property
    def goal(self):
        """The name of the goal given (one of :data:`GOALS`), or None."""
        return next((name for name in GOALS if getattr(self, name) is not None), None)


def check_iterations(iterations, maximum, name="iterations"):
    """``iterations`` as an int if it is an integer in ``1..maximum``, else
    :class:`~tfrnncomp.errors.TfrnncompError` (``name`` is what the message calls it)."""
    if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
        raise TfrnncompError(f"{name} must be an integer, got {iterations!r}")
    if not 1 <= iterations <= maximum:
        raise TfrnncompError(f"{name} must be in 1..{maximum}, got {iterations}")
    return int(iterations)


def entropy_mode(entropy):
    """The :class:`EntropyMode` of a name of :data:`ENTROPY_MODES` (or of a mode)."""
    if isinstance(entropy, EntropyMode):
        return entropy
    try:
        return ENTROPY_MODES[entropy]
    except (KeyError, TypeError):
        raise TfrnncompError(f"unknown entropy mode {entropy!r}; expected one of "
                             f"{sorted(ENTROPY_MODES)}") from None


@dataclasses.dataclass(frozen=True)
class Encoded:
    """A file the codec wrote (``data``) with the codes it holds (``codes int8[T,h,w,bits]``);
    for an adaptive file also its iteration map and the image it decodes to."""

    data: bytes
    codes: np.ndarray
    iteration_map: np.ndarray | None = None
    reconstruction: np.ndarray | None = None
