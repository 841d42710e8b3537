#!/usr/bin/env python3
"""Rate-distortion plots of results files (the tfrnncomp/eval/schema.py schema).

    python tools/bench/plot_rd.py results/kodak/*.json --out plots/ [--max-bpp 2.5] [--title Kodak]

Writes OUT/ms_ssim_db.png, OUT/psnr.png and OUT/psnr_hvs_m.png, each with every result file.
tfrnncomp results are drawn with thick lines; classic codecs with thin lines (the drawing is
tfrnncomp/eval/rdplot.py, shared with `tfrnncomp eval --plot`).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.eval import rdplot, schema  # noqa: E402
from tfrnncomp.eval.rdplot import MARKERS, PLOTS, plot  # noqa: E402,F401  (this tool's old names)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="results JSON files")
    parser.add_argument("--out", required=True, help="folder for the PNG files")
    parser.add_argument("--max-bpp", type=float, default=2.5, help="right end of the x axis")
    parser.add_argument("--title", default=None, help="prefix of the plot titles, e.g. Kodak")
    args = parser.parse_args(argv)
    reason = rdplot.matplotlib_unavailable()
    if reason:
        print(f"plot_rd: skipped: {reason}", file=sys.stderr)
        return 0
    results = [schema.load_result(path) for path in args.results]
    os.makedirs(args.out, exist_ok=True)
    for metric, label in PLOTS:
        path = os.path.join(args.out, f"{metric}.png")
        drawn = plot(results, metric, label, path, args.max_bpp, args.title)
        print(f"{path}: {drawn} curves" + ("" if drawn else " (no result has this metric)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
