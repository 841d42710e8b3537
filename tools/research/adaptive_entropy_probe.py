#!/usr/bin/env python3
"""Would the BinaryRNN gain from adapting to each file?  A probe of per-file refinement.

    python tools/research/adaptive_entropy_probe.py [--data ../shared/data/train] [--count 24]
        [--iterations 8] [--out results/entropy/adaptation-probe.md]

The codes of ``--count`` whole images of the validation split (never trained on; not Kodak)
are coded by the shipped codec model, and the shipped integer BinaryRNN gives every bit its
probability (the table indices its range coder uses).  On top of those probabilities the probe
simulates refinements that a decoder could mirror, because they learn only from bits already
decoded: they update once per code row (a decoder decodes a row at a time) and carry their
state across iterations.

- ``bias``: one logit offset per code depth (32), moved by ``rate`` times the row's summed
  error (bit minus probability) after every row;
- ``table``: one probability correction per code depth and bucket of the BinaryRNN's logit
  (12 buckets over -6..6), the mean error seen so far in that context shrunk by ``prior``
  pseudo-counts.

It prints the ideal code length of each refinement against the BinaryRNN's own, after 1, 2, 4
and ``--iterations`` iterations (negative: the refinement saves bits), and writes the table.
Nothing here changes a file format: the probe measures the headroom first.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

BUCKETS = 12
REFINEMENTS = [("bias", {"rate": 0.002}), ("bias", {"rate": 0.005}), ("bias", {"rate": 0.01}),
               ("table", {"prior": 32}), ("table", {"prior": 128})]


def _bits(p_one, ones):
    return -np.log2(np.where(ones, p_one, 1.0 - p_one))


def _clip(p):
    return np.clip(p, 1 / 4096, 4095 / 4096)


def refined_bits(p_one, ones, kind, rate=0.0, prior=0.0):
    """Bits per iteration of ``ones bool[T,h,w,D]`` under the refinement ``kind`` of the
    probabilities ``p_one float[T,h,w,D]``, updated after every code row."""
    count, height, width, depth = p_one.shape
    logits = np.log(p_one / (1.0 - p_one))
    bias = np.zeros(depth)
    error_sum = np.zeros((depth, BUCKETS))
    seen = np.zeros((depth, BUCKETS))
    edges = np.linspace(-6.0, 6.0, BUCKETS + 1)[1:-1]
    columns = np.broadcast_to(np.arange(depth), (width, depth))
    total = np.zeros(count)
    for t in range(count):
        for y in range(height):
            p, bit = p_one[t, y], ones[t, y]
            if kind == "bias":
                q = _clip(1.0 / (1.0 + np.exp(-(logits[t, y] + bias))))
                bias += rate * (bit - q).sum(axis=0)
            else:
                bucket = np.digitize(logits[t, y], edges)
                q = _clip(p + error_sum[columns, bucket] / (seen[columns, bucket] + prior))
                np.add.at(error_sum, (columns, bucket), bit - p)
                np.add.at(seen, (columns, bucket), 1.0)
            total[t] += _bits(q, bit).sum()
    return total


def probe(files, iterations):
    """``{name: (bits of the BinaryRNN, bits refined)}`` cumulative over iterations, summed
    over ``files``."""
    from tfrnncomp import Codec
    from tfrnncomp.entropy.coding import binaryrnn, rangecoder
    from tfrnncomp.training import data as data_lib

    codec = Codec()
    results = {}
    for path in files:
        codes, _ = codec.encode_codes(data_lib.load_image(path), iterations)
        cdf0 = (binaryrnn.indices_for(codec.entropy_net, codes) + 1) / float(1 << rangecoder.PRECISION)
        p_one, ones = 1.0 - cdf0, codes > 0
        plain = np.cumsum(_bits(p_one, ones).sum(axis=(1, 2, 3)))
        for kind, settings in REFINEMENTS:
            name = f"{kind} " + ", ".join(f"{k} {v}" for k, v in settings.items())
            refined = np.cumsum(refined_bits(p_one, ones, kind, **settings))
            before, after = results.get(name, (0.0, 0.0))
            results[name] = (before + plain, after + refined)
    return results


def table(results, iterations):
    shown = sorted({1, 2, 4, iterations})
    lines = ["| refinement | " + " | ".join(f"after {k}" for k in shown) + " |",
             "|---|" + "---|" * len(shown)]
    for name, (plain, refined) in results.items():
        lines.append(f"| {name} | " + " | ".join(
            f"{100.0 * (refined[k - 1] / plain[k - 1] - 1.0):+.2f} %" for k in shown) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "train"))
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--out", default=None, help="markdown file for the table")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"adaptive_entropy_probe: training images {args.data} not found; skipped")
        return 0
    if args.count < 1 or not 1 <= args.iterations <= 16:
        parser.error("--count must be positive and --iterations in 1..16")
    from tfrnncomp.training.image_files import source_files

    files = source_files(args.data, "validation", 0.05)[:args.count]
    text = table(probe(files, args.iterations), args.iterations)
    command = "python tools/research/adaptive_entropy_probe.py " + " ".join(argv or sys.argv[1:])
    text = (f"Code length of per-file refinements against the shipped BinaryRNN's, {len(files)} "
            f"whole validation images (negative: fewer bits)\n\n{text}\n\n`{command}`\n")
    print(text)
    if args.out:
        from tfrnncomp.atomic import atomic_write_bytes

        atomic_write_bytes(args.out, text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
