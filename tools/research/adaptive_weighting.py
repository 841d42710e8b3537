#!/usr/bin/env python3
"""Equal-slope adaptive allocation with each block's MSE weighted by its texture (SSIM's masking).

    python tools/research/adaptive_weighting.py [--validation ../shared/data/train --count 8]
        [--model gru-w25] [--settings 1024,256,64,16,4] [--window 8] [--downsample 1]
        [--power 1] [--entropy binaryrnn] [--name NAME] [--out results/adaptive-weighting]

The lagrangian rule of :mod:`tfrnncomp.codec.adaptive` gives each block the iteration count
minimising ``MSE_k + L * k``, which spends bits where squared error is large: on texture.  SSIM
sees an error of variance ``e`` in a window of variance ``s`` as ``1 - SSIM ~ e / (2 s + C2)``
(its contrast-structure term, ``C2 = (0.03 * 255)^2``), so the same error costs more in a flat
window.  This tool runs the rule on ``w_b * MSE_k`` instead, ``w_b`` the block's mean of
``1 / (2 s + C2)`` over windows of ``--window`` pixels (of the image averaged over
``--downsample``-pixel squares, for MS-SSIM's coarser scales), raised to ``--power`` and divided
by the image's mean, so slopes keep their 8-bit MSE scale.  It measures real files through
:func:`tfrnncomp.eval.evaluate_adaptive.run_adaptive` (the codec's first pass is the only thing
changed) on the validation split of a training folder, never Kodak, and writes a results file
that ``tools/research/adaptive_bdrate.py`` compares with the fixed-iteration curve.
"""

import argparse
import os
import sys
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)

from tfrnncomp.eval.metrics import K2  # noqa: E402

C2 = (K2 * 255.0) ** 2  # SSIM's C2 for 8-bit pixels, as tfrnncomp.eval.metrics uses it


def window_weights(image, window, downsample):
    """``1 / (2 s + C2)`` per window (mean over RGB) and the window's footprint in pixels."""
    x = np.asarray(image, np.float64)
    if downsample > 1:
        h, w = x.shape[0] // downsample, x.shape[1] // downsample
        x = x[:h * downsample, :w * downsample].reshape(h, downsample, w, downsample, -1)
        x = x.mean(axis=(1, 3))
    h, w = x.shape[0] // window, x.shape[1] // window
    tiles = x[:h * window, :w * window].reshape(h, window, w, window, -1)
    return (1.0 / (2.0 * tiles.var(axis=(1, 3)) + C2)).mean(axis=-1), window * downsample


def block_weights(image, shape, block_pixels, window=8, downsample=1, power=1.0):
    """Weights ``[rows, cols]`` (mean 1) of the blocks of ``block_pixels`` a side: each block's
    mean window weight (windows by their centre; blocks without a whole window get the mean)."""
    weights, footprint = window_weights(image, window, downsample)
    centres = lambda n: (np.arange(n) * footprint + footprint / 2) // block_pixels  # noqa: E731
    rows = np.minimum(centres(weights.shape[0]).astype(int), shape[0] - 1)
    cols = np.minimum(centres(weights.shape[1]).astype(int), shape[1] - 1)
    total, count = np.zeros(shape), np.zeros(shape)
    np.add.at(total, (rows[:, None], cols[None, :]), weights)
    np.add.at(count, (rows[:, None], cols[None, :]), 1)
    mean = total.sum() / count.sum()
    per_block = np.where(count > 0, total / np.maximum(count, 1), mean) ** power
    return per_block / per_block.mean()


class WeightedFirstPass:
    """A codec whose lagrangian first pass returns texture-weighted block MSEs."""

    def __init__(self, codec, window, downsample, power):
        self._codec, self._weighting = codec, (window, downsample, power)

    def __getattr__(self, name):
        return getattr(self._codec, name)

    def adaptive_history(self, image, iterations, block):
        history = self._codec.adaptive_history(image, iterations, block)
        block_pixels = block * self._codec.layout.block_size
        weights = block_weights(image, history.shape[1:], block_pixels, *self._weighting)
        return (history * weights[None]).astype(np.float32)


def validation_arguments(parser):
    """``--validation`` (a training folder), ``--count`` (its validation images) and
    ``--model``: the images and model of the adaptive-allocation research tools."""
    parser.add_argument("--validation", default=os.path.join(REPO, "..", "shared", "data",
                                                             "train"), metavar="TRAIN_DATA")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--model", default="gru-w25")


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--settings", default="1024,256,64,16,4")
    parser.add_argument("--block", type=int, default=2)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--downsample", type=int, default=1)
    parser.add_argument("--power", type=float, default=1.0)
    parser.add_argument("--entropy", default="binaryrnn")
    parser.add_argument("--name", default=None)
    parser.add_argument("--out", default="results/adaptive-weighting")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if not os.path.isdir(args.validation):
        print(f"adaptive_weighting: skipped: training folder {args.validation} not found")
        return 0
    from tfrnncomp.codec import Codec
    from tfrnncomp.eval import evaluate, schema
    from tfrnncomp.eval.evaluate_adaptive import run_adaptive

    start = time.time()
    dataset = evaluate.validation_dataset(args.validation, args.count)
    codec = WeightedFirstPass(Codec(args.model), args.window, args.downsample, args.power)
    name = args.name or (f"tfrnncomp-{args.model}-adaptive-ssim-w{args.window}"
                         f"-d{args.downsample}-p{args.power:g}")
    result = run_adaptive(codec, dataset, [float(v) for v in args.settings.split(",")],
                          rule="lagrangian", block=args.block, entropy=args.entropy, name=name,
                          log=evaluate.log_stderr)
    result["codec"]["adaptive"]["weighting"] = {"window": args.window,
                                               "downsample": args.downsample,
                                               "power": args.power, "c2": C2}
    schema.write_and_report(result, schema.default_output(args.out, name), dataset, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
