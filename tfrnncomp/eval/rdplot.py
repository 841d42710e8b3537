"""Rate-distortion plots of results (the :mod:`tfrnncomp.eval.evaluate` schema), with matplotlib.

tfrnncomp results are drawn with thick lines, classic codecs with thin ones.  matplotlib is an
optional dependency (``pip install tfrnncomp[eval]``); it is imported only when drawing.
"""

import os

from tfrnncomp.atomic import atomic_path
from tfrnncomp.eval import rd

#: (metric, axis label) of every plot tools/bench/plot_rd.py draws
PLOTS = (("ms_ssim_db", "MS-SSIM (dB) = -10 log10(1 - MS-SSIM), RGB"),
         ("psnr", "PSNR (dB), RGB"),
         ("psnr_hvs_m", "PSNR-HVS-M (dB), luma"))
#: the panels of ``tfrnncomp eval --plot``
EVAL_PLOTS = (PLOTS[1], PLOTS[0])
MARKERS = "osD^v<>ph*Xd"
INSTALL_HINT = "pip install tfrnncomp[eval]"


def matplotlib_unavailable():
    """None when matplotlib can be imported, else a one-line reason."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return f"matplotlib is not installed ({INSTALL_HINT})"
    return None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw(ax, results, metric, label, max_bpp=None, title=None):
    """Draw every result's curve of ``metric`` on ``ax``; returns how many were drawn."""
    drawn = 0
    for i, result in enumerate(results):
        rates, values = rd.curve(result, metric)
        if max_bpp:
            keep = rates <= max_bpp
            rates, values = rates[keep], values[keep]
        if len(rates) == 0:
            continue
        ours = result["codec"].get("family") == "tfrnncomp"
        ax.plot(rates, values, marker=MARKERS[i % len(MARKERS)], markersize=5 if ours else 3.5,
                linewidth=2.6 if ours else 1.2, label=result["name"], zorder=3 if ours else 2,
                color=f"C{i % 10}")
        drawn += 1
    images = {len(r["dataset"]["images"]) for r in results}
    subtitle = f"{'/'.join(str(n) for n in sorted(images))} images"
    ax.set_title(f"{title + ': ' if title else ''}{label.split(',')[0]} vs rate ({subtitle})")
    ax.set_xlabel("bits per pixel (whole file)")
    ax.set_ylabel(label)
    ax.set_xlim(left=0, right=max_bpp)
    ax.grid(True, alpha=0.35)
    ax.minorticks_on()
    ax.grid(True, which="minor", alpha=0.12)
    if drawn:
        ax.legend(loc="lower right", fontsize=9, framealpha=0.9)
    else:
        ax.text(0.5, 0.5, "not measured", transform=ax.transAxes, ha="center", va="center")
    return drawn


def _save(plt, fig, path):
    """Write the figure atomically (parent folders are created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def plot(results, metric, label, path, max_bpp=None, title=None):
    """One PNG of one metric with every result; returns how many curves were drawn."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=110)
    drawn = draw(ax, results, metric, label, max_bpp, title)
    _save(plt, fig, path)
    return drawn


def plot_panels(results, path, panels=EVAL_PLOTS, max_bpp=None, title=None):
    """One PNG with a panel per ``(metric, label)`` side by side; returns the curves drawn in
    each panel."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(7 * len(panels), 5.5), dpi=100,
                             squeeze=False)
    drawn = [draw(ax, results, metric, label, max_bpp, title)
             for ax, (metric, label) in zip(axes[0], panels)]
    _save(plt, fig, path)
    return drawn
