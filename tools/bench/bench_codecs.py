#!/usr/bin/env python3
"""Rate-distortion sweep of classic codecs, one results file per codec.

    python tools/bench/bench_codecs.py [--data ../shared/data/kodak] [--out results/kodak]
                                       [--codecs jpeg420,webp,...] [--limit N] [--settings 10,50,90]

Writes OUT/<codec>.json (schema: tfrnncomp/eval/schema.py).  Codecs that cannot run here (no
ffmpeg/libx265, no AVIF in Pillow, no imagecodecs) are skipped with a message; a missing image
folder is skipped with a message and exit status 0.  `tfrnncomp eval FOLDER --compare CODECS`
runs the same sweeps (tfrnncomp/apps/eval_command.py).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.eval import classic, evaluate, schema  # noqa: E402
from tfrnncomp.apps.eval_command import parse_codecs, run_classics  # noqa: E402


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=evaluate.DEFAULT_DATASET, help="image folder")
    parser.add_argument("--out", default="results", help="folder for <codec>.json (results)")
    parser.add_argument("--output", default=None,
                        help="exact output file (only with a single codec)")
    parser.add_argument("--codecs", type=parse_codecs, default=",".join(classic.CODECS),
                        help=f"comma-separated, from {','.join(classic.CODECS)}")
    parser.add_argument("--settings", default=None,
                        help="comma-separated sweep overriding the codec's default")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--images", default=None, help="comma-separated image names")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    names = args.codecs
    if args.output and len(names) != 1:
        parser.error("--output needs exactly one codec")
    if not os.path.isdir(args.data):
        print(f"bench_codecs: skipped: image folder {args.data} not found", file=sys.stderr)
        return 0
    dataset = evaluate.load_dataset(args.data, limit=args.limit,
                                    names=args.images.split(",") if args.images else None)
    settings = [_number(s) for s in args.settings.split(",")] if args.settings else None
    log = None if args.quiet else evaluate.log_stderr
    for name, result, start in run_classics(names, dataset, settings, log, "bench_codecs"):
        path = args.output or schema.default_output(args.out, name)
        schema.write_and_report(result, path, dataset, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
