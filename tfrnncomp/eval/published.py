"""Published rate-distortion curves (the aggregate files of tensorflow/compression's
``results/image_compression``) as result dicts that :mod:`tfrnncomp.eval.rd` can compare.

A published file holds comment lines (``#``) and ``bpp, value`` lines: PSNR in dB or MS-SSIM
(0-1) of the RGB image, averaged over the images at one setting.  :func:`load_curve` turns one
into a result with only ``bpp`` and that metric per point, so the BD-rate definitions of
:mod:`tfrnncomp.eval.rd` apply unchanged.

Published figures come from another harness (another JPEG encoder, another MS-SSIM code), so
a published codec is compared first with the published anchor of the same harness; a
comparison across harnesses (a published curve against one measured here) is only as good as
the two harnesses agree, which :func:`tfrnncomp.eval.rd.bd_rate` of the two JPEG curves shows.
"""

import math

from tfrnncomp.eval import rd

class PublishedFormatError(ValueError):
    """A published curve file is not ``bpp, value`` lines."""


def parse_curve(text, source="curve"):
    """``[(bpp, value), ...]`` of a published file's text, in file order."""
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = [field.strip() for field in line.split(",")]
        try:
            bpp, value = (float(field) for field in fields)
        except ValueError:
            raise PublishedFormatError(
                f"{source}:{number}: expected 'bpp, value', got {line!r}") from None
        if not (math.isfinite(bpp) and math.isfinite(value) and bpp > 0):
            raise PublishedFormatError(f"{source}:{number}: not a positive rate and a value")
        pairs.append((bpp, value))
    if not pairs:
        raise PublishedFormatError(f"{source}: no 'bpp, value' lines")
    return pairs


def load_curve(path, metric, name):
    """The published file at ``path`` as a result named ``name`` with ``metric`` per point."""
    with open(path, encoding="utf-8") as handle:
        pairs = parse_curve(handle.read(), source=path)
    return as_result(pairs, metric, name)


def as_result(pairs, metric, name):
    """A result dict with one point per ``(bpp, value)`` pair."""
    return {"name": name, "points": [{"bpp": bpp, metric: value} for bpp, value in pairs]}


def scale_rates(result, factors):
    """``result`` with each point's bpp multiplied by its factor (one per point, or one for all)."""
    points = result["points"]
    if not isinstance(factors, (list, tuple)):
        factors = [factors] * len(points)
    if len(factors) != len(points):
        raise ValueError(f"{len(factors)} factors for {len(points)} points")
    return {**result, "points": [{**point, "bpp": point["bpp"] * factor}
                                 for point, factor in zip(points, factors)]}


def saving_to_match(test, anchor, metric, bpp_range=rd.BD_RANGE, tolerance=1e-4):
    """The fraction ``s`` of every rate of ``test`` to save for its BD-rate against ``anchor``
    to reach 0 (``test``'s rates times ``1 - s``); negative when ``test`` already beats it, and
    ``None`` where the BD-rate is not computable or ``s`` lies outside -0.5..0.5."""
    def bd(saving):
        return rd.bd_rate(scale_rates(test, 1.0 - saving), anchor, metric, bpp_range=bpp_range)

    low, high = -0.5, 0.5
    at_low, at_high = bd(low), bd(high)
    if at_low is None or at_high is None or at_low < 0 or at_high > 0:
        return None
    while high - low > tolerance:
        middle = (low + high) / 2
        value = bd(middle)
        if value is None:
            return None
        low, high = (middle, high) if value > 0 else (low, middle)
    return (low + high) / 2
