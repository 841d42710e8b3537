#!/usr/bin/env python3
"""Markdown tables of results files: MS-SSIM and PSNR at 0.125/0.25/0.5/1/2 bpp, AUC over
0.125-2 bpp and BD-rate against JPEG 4:2:0 and WebP, wherever the curves overlap and over
0.125-1 bpp (definitions: tfrnncomp/eval/rd.py).

    python tools/bench/rd_summary.py results/kodak/*.json [--jpeg results/kodak/jpeg420.json]
                                     [--webp results/kodak/webp.json] [--method pchip|akima]
                                     [--per-image NAME] [--anchor OTHER.json ...] [--out FILE]

Anchors default to the results named jpeg420 and webp among the files given.  --anchor adds a
BD-rate column against any other result (two checkpoints of one model, say), labelled by its
name.  --per-image NAME prints instead the BD-rates over 0.125-1 bpp of the result named NAME,
image by image.  --out also writes what is printed to FILE (atomically).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.atomic import atomic_write_bytes  # noqa: E402
from tfrnncomp.eval import rd, schema  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="+", help="results JSON files")
    parser.add_argument("--jpeg", default=None,
                        help="JPEG anchor file (default: jpeg420 among RESULTS)")
    parser.add_argument("--webp", default=None,
                        help="WebP anchor file (default: webp among RESULTS)")
    parser.add_argument("--method", choices=("pchip", "akima"), default="pchip",
                        help="BD-rate interpolation (bjontegaard package)")
    parser.add_argument("--anchor", action="append", default=[], metavar="RESULT",
                        help="another anchor file, its column labelled by its name (repeatable)")
    parser.add_argument("--per-image", metavar="NAME", default=None,
                        help="BD-rates of the result named NAME per image, over 0.125-1 bpp")
    parser.add_argument("--out", default=None, help="also write the tables to this file")
    args = parser.parse_args(argv)
    results = [schema.load_result(path) for path in args.results]
    anchors = {}
    for label, name, path in (("JPEG", "jpeg420", args.jpeg), ("WebP", "webp", args.webp)):
        anchors[label] = schema.load_result(path) if path else rd.find_anchor(results, name)
        if anchors[label] is None:
            print(f"rd_summary: no {label} anchor ({name}); its BD-rate column is left out",
                  file=sys.stderr)
    for path in args.anchor:
        other = schema.load_result(path)
        anchors[other["name"]] = other
    images = sorted({len(r["dataset"]["images"]) for r in results})
    if len(images) > 1:
        print(f"rd_summary: warning: results cover different image counts {images}",
              file=sys.stderr)
    if args.per_image is None:
        text = rd.markdown_table(results, anchors, method=args.method)
    else:
        chosen = rd.find_anchor(results, args.per_image)
        if chosen is None:
            raise SystemExit(f"rd_summary: no result named {args.per_image!r} among "
                             f"{sorted(r['name'] for r in results)}")
        text = rd.per_image_table(chosen, anchors, method=args.method)
    print(text, end="")
    if args.out:
        atomic_write_bytes(args.out, text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
