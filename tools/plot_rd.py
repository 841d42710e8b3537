#!/usr/bin/env python3
"""Rate-distortion plots of results files (tfrnncomp/evaluate.py schema).

    python tools/plot_rd.py results/kodak/*.json --out plots/ [--max-bpp 2.5] [--title Kodak]

Writes OUT/ms_ssim_db.png, OUT/psnr.png and OUT/psnr_hvs_m.png, each with every result file.
tfrnncomp results are drawn with thick lines; classic codecs with thin lines.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfrnncomp import evaluate, rd  # noqa: E402

PLOTS = (("ms_ssim_db", "MS-SSIM (dB) = -10 log10(1 - MS-SSIM), RGB"),
         ("psnr", "PSNR (dB), RGB"),
         ("psnr_hvs_m", "PSNR-HVS-M (dB), luma"))
MARKERS = "osD^v<>ph*Xd"


def plot(results, metric, label, path, max_bpp=None, title=None):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 6.5), dpi=110)
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
    fig.tight_layout()
    fig.savefig(path + ".tmp.png")
    plt.close(fig)
    os.replace(path + ".tmp.png", path)
    return drawn


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="results JSON files")
    parser.add_argument("--out", required=True, help="folder for the PNG files")
    parser.add_argument("--max-bpp", type=float, default=2.5, help="right end of the x axis")
    parser.add_argument("--title", default=None, help="prefix of the plot titles, e.g. Kodak")
    args = parser.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_rd: skipped: matplotlib is missing (pip install matplotlib)", file=sys.stderr)
        return 0
    results = [evaluate.load_result(path) for path in args.results]
    os.makedirs(args.out, exist_ok=True)
    for metric, label in PLOTS:
        path = os.path.join(args.out, f"{metric}.png")
        drawn = plot(results, metric, label, path, args.max_bpp, args.title)
        print(f"{path}: {drawn} curves" + ("" if drawn else " (no result has this metric)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
