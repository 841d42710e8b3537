"""Rate-distortion summaries of results files (:mod:`tfrnncomp.eval.evaluate`): values at fixed
rates, area under the curve, BD-rate, and a markdown table.

* A curve is a result's points sorted by bpp, with points lacking the metric dropped.
  ``ms_ssim_db`` is ``-10 log10(1 - ms_ssim)`` of each point.
* :func:`value_at` interpolates linearly in bpp.  A curve may be extended linearly from its
  end segment by at most ``EXTEND`` (5 %) of the target rate, so a curve starting at 0.1261 bpp
  (tfrnncomp's one-iteration file, header included) still has a value at 0.125 bpp; further out
  the value is missing (``None``).
* :func:`auc` is the area under the curve over ``AUC_RANGE`` = 0.125-2 bpp: the trapezoid rule
  on the linear interpolation in bpp, which is exact for that piecewise-linear curve (the knots
  inside the range are the evaluation points).  It is the raw area (metric x bpp), not divided
  by the width 1.875, and ``None`` when the curve does not reach both ends (same 5 % rule).
* :func:`bd_rate` is the Bjontegaard delta rate of ``test`` against ``anchor`` in percent
  (negative = fewer bits for the same quality), from the ``bjontegaard`` package (``pchip`` by
  default, or ``akima``/``cubic``) on log10(bpp) against the quality metric.  It integrates over
  the quality interval that both curves reach, so only where the curves overlap, with no
  extrapolation.  Points that do not raise the quality over a lower-rate point are dropped
  first (the interpolation needs quality increasing with rate).  ``None`` when the curves do
  not overlap or have fewer than two usable points.  With ``bpp_range`` both curves are first
  cut to that rate interval (their values at its ends interpolated as :func:`value_at` does),
  so the BD-rate covers only those rates: ``BD_RANGE`` = 0.125-1 bpp is the range the quality
  targets are stated for.
* :func:`image_result` is one image's curve of a result (its per-image rows), for BD-rates
  per image (:func:`per_image_table`).
"""

import math
import warnings

import numpy as np

from tfrnncomp.eval.metrics import ms_ssim_db

TARGETS = (0.125, 0.25, 0.5, 1.0, 2.0)
AUC_RANGE = (0.125, 2.0)
BD_RANGE = (0.125, 1.0)
EXTEND = 0.05
ANCHORS = (("JPEG", "jpeg420"), ("WebP", "webp"))
TABLE_METRICS = (("ms_ssim", "MS-SSIM", 4, "ms_ssim_db"), ("psnr", "PSNR (dB)", 2, "psnr"))


def curve(result, metric):
    """``(bpp, values)`` arrays of a result for one metric, sorted by bpp."""
    pairs = []
    for point in result["points"]:
        value = point.get("ms_ssim") if metric == "ms_ssim_db" else point.get(metric)
        if value is None or point.get("bpp") is None:
            continue
        value = ms_ssim_db(value) if metric == "ms_ssim_db" else float(value)
        if math.isfinite(value):
            pairs.append((float(point["bpp"]), value))
    pairs.sort()
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def _interp(rates, values, targets):
    """Linear interpolation with the limited end extension described above."""
    targets = np.atleast_1d(np.asarray(targets, np.float64))
    out = np.full(targets.shape, np.nan)
    if len(rates) == 0:
        return out
    if len(rates) == 1:
        out[np.isclose(targets, rates[0])] = values[0]
        return out
    inside = (targets >= rates[0]) & (targets <= rates[-1])
    out[inside] = np.interp(targets[inside], rates, values)
    for end, (i, j) in ((rates[0], (0, 1)), (rates[-1], (-2, -1))):
        near = ~inside & (np.abs(targets - end) <= EXTEND * targets)
        if np.any(near) and rates[j] > rates[i]:
            slope = (values[j] - values[i]) / (rates[j] - rates[i])
            out[near] = values[i] + slope * (targets[near] - rates[i])
    return out


def value_at(result, metric, bpp):
    """The metric at ``bpp`` (a number or sequence); ``None`` where the curve does not reach."""
    values = _interp(*curve(result, metric), bpp)
    out = [None if np.isnan(v) else float(v) for v in values]
    return out if np.ndim(bpp) else out[0]


def auc(result, metric="ms_ssim", bpp_range=AUC_RANGE):
    """Area under the metric-vs-bpp curve over ``bpp_range`` (``None`` if not covered)."""
    rates, values = curve(result, metric)
    low, high = bpp_range
    knots = np.concatenate([[low], rates[(rates > low) & (rates < high)], [high]])
    ys = _interp(rates, values, knots)
    if np.any(np.isnan(ys)):
        return None
    return float(np.sum((ys[1:] + ys[:-1]) * np.diff(knots)) / 2.0)


def _increasing(rates, values):
    keep_r, keep_v = [], []
    for r, v in zip(rates, values):
        if not keep_v or (v > keep_v[-1] and r > keep_r[-1]):
            keep_r.append(r)
            keep_v.append(v)
    return np.array(keep_r), np.array(keep_v)


def _cut(rates, values, bpp_range):
    """The curve restricted to ``bpp_range``, with its values at the ends interpolated."""
    if bpp_range is None or len(rates) == 0:
        return rates, values
    low, high = bpp_range
    knots = np.concatenate([[low], rates[(rates > low) & (rates < high)], [high]])
    ys = _interp(rates, values, knots)
    keep = ~np.isnan(ys)
    return knots[keep], ys[keep]


def bd_rate(test, anchor, metric="ms_ssim_db", method="pchip", bpp_range=None):
    """BD-rate (%) of ``test`` against ``anchor`` (result dicts), over ``bpp_range`` if given;
    ``None`` if not computable."""
    import bjontegaard

    rt, vt = _increasing(*_cut(*curve(test, metric), bpp_range))
    ra, va = _increasing(*_cut(*curve(anchor, metric), bpp_range))
    if min(len(rt), len(ra)) < 2 or min(vt[-1], va[-1]) <= max(vt[0], va[0]):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = bjontegaard.bd_rate(ra, va, rt, vt, method=method,
                                    require_matching_points=False, min_overlap=0)
    value = float(value)
    return value if math.isfinite(value) else None


def image_result(result, image):
    """``result`` as the curve of one of its images (from each point's per-image row)."""
    points = [row for point in result["points"] for row in point.get("per_image") or []
              if row.get("image") == image]
    return {**result, "points": points, "dataset": {**result["dataset"], "images": [image]}}


def find_anchor(results, name):
    for result in results:
        if result["name"] == name:
            return result
    return None


def _cell(value, digits, percent=False):
    if value is None:
        return "-"
    return f"{value:+.1f} %" if percent else f"{value:.{digits}f}"


def _range_label(bpp_range):
    return "" if bpp_range is None else f", {bpp_range[0]:g}-{bpp_range[1]:g} bpp"


def _present(anchors):
    """The anchors that are there (a missing one, ``None``, gets no column)."""
    return {label: result for label, result in anchors.items() if result is not None}


def markdown_table(results, anchors=None, targets=TARGETS, method="pchip",
                   bd_ranges=(None, BD_RANGE)):
    """Markdown tables (MS-SSIM, then PSNR) of results: values at ``targets``, AUC, BD-rates.

    ``anchors`` maps a column label to a result; by default the results named ``jpeg420`` (JPEG)
    and ``webp`` (WebP) among ``results``.  Each anchor gets a BD-rate column per entry of
    ``bd_ranges`` (``None``: wherever the curves overlap; ``(low, high)``: those rates only).
    """
    if anchors is None:
        anchors = {label: find_anchor(results, name) for label, name in ANCHORS}
    anchors = _present(anchors)
    low, high = AUC_RANGE
    blocks = []
    for metric, title, digits, bd_metric in TABLE_METRICS:
        bd_label = "MS-SSIM dB" if bd_metric == "ms_ssim_db" else "PSNR"
        head = ([f"{title} @{t:g}" for t in targets] + [f"AUC {low:g}-{high:g}"]
                + [f"BD-rate vs {label} ({bd_label}{_range_label(r)})"
                   for r in bd_ranges for label in anchors])
        lines = ["| codec | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
        for result in results:
            cells = [_cell(v, digits) for v in value_at(result, metric, list(targets))]
            cells.append(_cell(auc(result, metric), 4 if metric == "ms_ssim" else 2))
            cells += [_cell(bd_rate(result, anchor, bd_metric, method, r), 1, percent=True)
                      for r in bd_ranges for anchor in anchors.values()]
            lines.append(f"| {result['name']} | " + " | ".join(cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def per_image_table(result, anchors, method="pchip", bpp_range=BD_RANGE):
    """Markdown table of ``result``'s BD-rates per image against each anchor's same image
    (MS-SSIM dB, then PSNR), over ``bpp_range``; ``-`` where an anchor lacks the image or
    the two curves do not overlap."""
    anchors = _present(anchors)
    head = [f"BD-rate vs {label} ({name}{_range_label(bpp_range)})"
            for name in ("MS-SSIM dB", "PSNR") for label in anchors]
    lines = ["| image | " + " | ".join(head) + " |", "|---" * (len(head) + 1) + "|"]
    for image in result["dataset"]["images"]:
        ours = image_result(result, image)
        cells = [_cell(bd_rate(ours, image_result(anchor, image), metric, method, bpp_range),
                       1, percent=True)
                 for metric in ("ms_ssim_db", "psnr") for anchor in anchors.values()]
        lines.append(f"| {image} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
