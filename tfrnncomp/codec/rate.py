"""Rate control: budgets and quality targets with one encode (progressive codes).

The codes of Toderici et al. 2017 are progressive (Section 2): the file of k
iterations is exactly the first k chunks of the file of 16 iterations, since
iteration t is coded given iterations < t only.  So a budget (bits per pixel
or bytes) or a quality target (MS-SSIM, PSNR) is met by encoding once at the
most iterations and keeping the right prefix: no search over encodes.

Rate control sees that one encode as :class:`Prefixes` (the size of each prefix's file and
the image each decodes to) and answers how many iterations to keep; the codec encodes and
writes.
"""

import dataclasses
from typing import Callable, Iterable

import numpy as np

from tfrnncomp.eval import metrics
from tfrnncomp.errors import InputImageError, TargetNotMetError, TfrnncompError

#: how each quality metric is shown in messages: name, number format, unit
_SHOWN = {"psnr": ("PSNR", ".2f", " dB"), "ms_ssim": ("MS-SSIM", ".4f", "")}


@dataclasses.dataclass(frozen=True)
class Prefixes:
    """One encode at the most iterations, as rate control sees it."""

    #: whole-file size in bytes of every prefix (header included), shortest first
    sizes: np.ndarray
    #: the images after each iteration, as :meth:`Codec.decompress` returns them (decoding
    #: runs when it is called)
    decoded: Callable[[], Iterable[np.ndarray]]


@dataclasses.dataclass(frozen=True)
class Budget:
    """The whole file in at most ``bits`` bits, for an image of ``pixels`` pixels."""

    bits: float
    pixels: int

    def iterations(self, prefixes, best_effort=True):
        """The most iterations whose whole file fits (at least 1).

        When even one iteration does not fit, ``best_effort=False`` raises
        :class:`TargetNotMetError` naming the smallest file instead.
        """
        sizes = prefixes.sizes
        fits = np.nonzero(sizes * 8.0 <= self.bits)[0]
        if not len(fits) and not best_effort:
            raise TargetNotMetError(
                f"the smallest file is {sizes[0]} bytes ({sizes[0] * 8.0 / self.pixels:.4f} "
                f"bpp, 1 iteration), over the budget of {self.bits / 8:.0f} bytes "
                f"({self.bits / self.pixels:.4g} bpp)")
        return int(fits[-1]) + 1 if len(fits) else 1


@dataclasses.dataclass(frozen=True)
class Quality:
    """``metric`` (``"ms_ssim"``: RGB, channel-averaged; ``"psnr"``: dB) of at least ``target``
    against ``array`` (the input of :func:`tfrnncomp.codec.image_io.to_array`, ``channels``
    channels), measured exactly as the decoder will reconstruct it."""

    metric: str
    target: float
    array: np.ndarray
    channels: int

    def iterations(self, prefixes, best_effort=True):
        """The fewest iterations that reach the target, else all of them.

        When none does, ``best_effort=False`` raises :class:`TargetNotMetError` naming the
        quality of all the iterations instead.
        """
        keep = 0
        for keep, image in enumerate(prefixes.decoded(), start=1):
            score = measure(self.metric, self.array, self.channels, image)
            if score >= self.target:
                return keep
        if not best_effort:
            raise TargetNotMetError(
                f"the most iterations ({keep}) reach {shown_quality(self.metric, score)}, "
                f"below the target {shown_quality(self.metric, self.target, 'g')}")
        return keep


def goal(options, array, channels):
    """The :class:`Budget` or :class:`Quality` of :class:`~tfrnncomp.codec.options.CompressOptions`
    ``options`` for ``array`` (checked), or None when it asks for a number of iterations."""
    given = options.rate_settings()
    if len(given) > 1:
        raise TfrnncompError(f"give one rate setting, not {' and '.join(given)}")
    height, width = array.shape[:2]
    if options.target_size is not None:
        size = float(options.target_size)
        _check_positive("target size", size)
        return Budget(size * 8.0, height * width)
    if options.bpp is not None:
        bpp = float(options.bpp)
        _check_positive("bpp", bpp)
        return Budget(bpp * height * width, height * width)
    if options.target_msssim is not None:
        return _quality("ms_ssim", float(options.target_msssim), array, channels)
    if options.target_psnr is not None:
        return _quality("psnr", float(options.target_psnr), array, channels)
    return None


def _quality(metric, target, array, channels):
    _check_positive(f"target {metric}", target)
    height, width = array.shape[:2]
    if metric == "ms_ssim":
        if not target < 1:
            raise TfrnncompError(f"target MS-SSIM must be below 1, got {target}")
        if min(height, width) < metrics.min_ms_ssim_size():
            raise InputImageError(f"image {width}x{height} is too small for an MS-SSIM target "
                                  f"(both sides >= {metrics.min_ms_ssim_size()}); use a PSNR target")
    return Quality(metric, target, array, channels)


def _check_positive(name, value):
    if not np.isfinite(value) or value <= 0:
        raise TfrnncompError(f"{name} must be a positive number, got {value}")


def shown_quality(metric, value, spec=None):
    """``PSNR 32.10 dB`` or ``MS-SSIM 0.9500``: a quality for a message (a target as given:
    ``spec="g"``)."""
    name, number, unit = _SHOWN[metric]
    return f"{name} {value:{spec or number}}{unit}"


def measure(metric, array, channels, decoded):
    """``metric`` of ``decoded`` (as :meth:`Codec.decompress` returns it) against the input
    ``array`` of :func:`tfrnncomp.codec.image_io.to_array` with ``channels`` channels."""
    original = array[..., :1] if channels == 1 else array
    decoded = decoded[..., None] if channels == 1 else decoded
    return {"psnr": metrics.psnr, "ms_ssim": metrics.ms_ssim}[metric](original, decoded)
