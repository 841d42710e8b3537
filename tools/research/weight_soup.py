#!/usr/bin/env python3
"""Average the weights of several checkpoints of one model (a "model soup").

    python tools/research/weight_soup.py --config tools/training/default/config.json
        A.weights.h5 B.weights.h5 [...] --out SOUP.weights.h5 [--mix 0.5,0.5]

Every checkpoint is loaded into the model of ``--config`` (Keras' ``load_weights``; the files
of ``tfrnncomp train``: ``best.weights.h5``, ``best-average.weights.h5``, the run's backup), and
the model's weights are averaged element by element with the ``--mix`` proportions (equal by
default).  The result is written in the layout of its inputs, carrying the optimizer state of
the first checkpoint, so ``iteration_table.py --weights SOUP --config C --validation DATA``
scores it.  Checkpoints of different models fail on load.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def mix_weights(weight_lists, mix):
    """The element-wise sum of ``mix[i] * weight_lists[i]`` over checkpoints ``i``."""
    return [sum(p * weights[i] for p, weights in zip(mix, weight_lists))
            for i in range(len(weight_lists[0]))]


def parse_mix(text, count):
    """``count`` proportions from ``--mix`` (equal when absent), checked before any loading."""
    if text is None:
        return [1.0 / count] * count
    try:
        mix = [float(part) for part in text.split(",")]
    except ValueError:
        raise SystemExit(f"weight_soup: --mix must be numbers separated by commas, got {text!r}")
    if len(mix) != count:
        raise SystemExit(f"weight_soup: {count} checkpoints but {len(mix)} proportions")
    if any(p < 0 for p in mix) or abs(sum(mix) - 1.0) > 1e-6:
        raise SystemExit(f"weight_soup: the proportions must be non-negative and sum to 1, got {mix}")
    return mix


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mix", default=None, help="proportions, e.g. 0.5,0.5 (default: equal)")
    args = parser.parse_args(argv)
    mix = parse_mix(args.mix, len(args.checkpoints))
    for path in args.checkpoints:
        if not os.path.isfile(path):
            raise SystemExit(f"weight_soup: {path}: no such checkpoint")
    if os.path.abspath(args.out) in {os.path.abspath(p) for p in args.checkpoints}:
        raise SystemExit(f"weight_soup: {args.out} is one of the inputs; write elsewhere")
    from tfrnncomp.atomic import atomic_path
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.train import TrainingConfig, build_model

    model = build_model(load_config(args.config), TrainingConfig())
    weight_lists = []
    for path in reversed(args.checkpoints):  # the first is loaded last: its optimizer state stays
        model.load_weights(path)
        weight_lists.insert(0, model.get_weights())
    model.set_weights(mix_weights(weight_lists, mix))
    with atomic_path(args.out, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    print(f"weight_soup: {args.out} = " + " + ".join(
        f"{p:g} x {path}" for p, path in zip(mix, args.checkpoints)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
