"""How many bits would depth groups save on top of a trained BinaryRNN?  A cheap probe.

The BinaryRNN predicts a position's 32 bits from the rows above and earlier iterations only;
with G depth groups, group g also sees the same position's bits of groups < g (and, with a
1 x k kernel, those of its k - 1 row neighbours, which a decoder has decoded too).  This
probe freezes a trained float BinaryRNN, adds such a masked linear term to its logits, fits
the term alone on the first half of the validation codes and reports the bits per coded bit
on the second half: a lower bound on what training the whole net with groups gains
(``tools/training/train_entropy.py --init RUN --depth-groups G``)::

    python tools/research/depth_group_probe.py --run runs/binaryrnn --codes codes-val.tfrecord \\
        --settings 2x1,4x1,8x1,32x1,8x3 --out results/entropy/depth_group_probe.md

The same probe measures a longer iteration history: ``hN`` (``hNxK``) fits a term from the
codes of iterations t-3 .. t-N at the same position (a K x K neighbourhood), which the
BinaryRNN does not see (its previous-iteration input is t-1 and t-2).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def frozen_logits(run, codes_path, tensors):
    """``(logits, codes, counts)``: float32 ``[N, h, w, bits]`` of the run's model on
    ``tensors`` code tensors (every iteration a sample), and each tensor's iteration count."""
    import numpy as np

    from tfrnncomp.entropy.training import binaryrnn
    from tfrnncomp.entropy.training.codes_data import codes_dataset

    model = binaryrnn.build_model(binaryrnn.load_config(os.path.join(run, "config.json")))
    model.load_weights(os.path.join(run, "float.weights.h5"))
    logits, codes, counts = [], [], []
    for tensor in codes_dataset(codes_path).take(tensors):
        inputs, _ = binaryrnn.iteration_samples(tensor)
        logits.append(model(inputs).numpy())
        codes.append(inputs["codes"].numpy())
        counts.append(len(codes[-1]))
    return np.concatenate(logits), np.concatenate(codes), counts


def bits_per_bit(logits, codes):
    import numpy as np

    from tfrnncomp.entropy.training.binaryrnn import bits_cross_entropy

    return float(np.mean(bits_cross_entropy(codes > 0, logits)))


def fit_term(logits, codes, features, mask, kernel, steps=400, batch=64, seed=0):
    """Fit a ``kernel`` (rows, columns) linear term from ``features`` (masked by ``mask``,
    ``[in, bits]``, or None) on frozen logits; returns a function of ``features`` giving
    the term."""
    import keras
    import numpy as np
    import tensorflow as tf

    from tfrnncomp.entropy.training.binaryrnn import bits_cross_entropy

    bits = codes.shape[-1]
    weights = tf.Variable(tf.zeros([kernel[0], kernel[1], features.shape[-1], bits]))
    mask = 1.0 if mask is None else mask

    def term(f):
        return tf.nn.conv2d(f, weights * mask, 1, "SAME")

    optimizer = keras.optimizers.Adam(0.01)
    rng = np.random.default_rng(seed)
    targets = (codes > 0).astype(np.float32)
    for _ in range(steps):
        pick = rng.integers(0, len(codes), batch)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(bits_cross_entropy(targets[pick],
                                                      logits[pick] + term(features[pick])))
        optimizer.apply_gradients([(tape.gradient(loss, weights), weights)])
    return lambda f: term(f).numpy()


def history(codes, counts, depth):
    """Each sample's codes of iterations ``t - 3 .. t - depth`` at the same positions
    (zeros before the first), stacked on the bit axis: what the BinaryRNN does not see (it
    sees iterations ``t - 1`` and ``t - 2``).  ``counts``: the iterations of each tensor."""
    import numpy as np

    features, start = [], 0
    for count in counts:
        tensor = codes[start:start + count]
        start += count
        lags = [np.concatenate([np.zeros_like(tensor[:lag]), tensor[:max(count - lag, 0)]])[:count]
                for lag in range(3, depth + 1)]
        features.append(np.concatenate(lags, -1))
    return np.concatenate(features)


def setting_term(setting, logits, codes, half, counts):
    """``(label, feature array, fitted term)`` of one ``--settings`` entry."""
    from tfrnncomp.entropy.training.layers import depth_group_mask

    if setting.startswith("h"):
        depth, _, kernel = setting[1:].partition("x")
        kernel = int(kernel or 1)
        if int(depth) < 3:
            raise SystemExit(f"depth_group_probe: {setting}: the history starts at t-3")
        features = history(codes, counts, int(depth))
        label = f"iterations t-3..t-{depth}, {kernel}x{kernel}"
        return label, features, fit_term(logits[:half], codes[:half], features[:half], None,
                                         (kernel, kernel))
    groups, kernel = (int(v) for v in setting.split("x"))
    mask = depth_group_mask(codes.shape[-1], groups)
    label = f"{groups} depth groups, 1x{kernel}"
    return label, codes, fit_term(logits[:half], codes[:half], codes[:half], mask, (1, kernel))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="a train_entropy.py run (one depth group)")
    parser.add_argument("--codes", required=True, help="validation codes (TFRecord)")
    parser.add_argument("--tensors", type=int, default=40, help="code tensors to use")
    parser.add_argument("--settings", default="2x1,4x1,8x1,32x1,8x3",
                        help="comma separated: GROUPSxKERNEL (depth groups, a 1 x KERNEL "
                        "term) or hDEPTH[xKERNEL] (the codes of iterations t-3..t-DEPTH)")
    parser.add_argument("--out", required=True, help="a Markdown table")
    args = parser.parse_args(argv)
    for name in ("config.json", "float.weights.h5"):
        if not os.path.isfile(os.path.join(args.run, name)):
            print(f"depth_group_probe: no {name} in {args.run}", file=sys.stderr)
            return 2
    if not os.path.isfile(args.codes):
        print(f"depth_group_probe: no code file {args.codes}", file=sys.stderr)
        return 2
    from tfrnncomp.atomic import atomic_write_bytes

    logits, codes, counts = frozen_logits(args.run, args.codes, args.tensors)
    half = len(codes) // 2  # fit on the first half of the samples, score the second
    before = bits_per_bit(logits[half:], codes[half:])
    rows = [f"Frozen BinaryRNN of `{os.path.basename(os.path.normpath(args.run))}`, "
            f"{args.tensors} validation code tensors (fit on the first half of their "
            f"{len(codes)} iteration samples, scored on the second half): "
            f"{before:.4f} bits per coded bit without the term.", "",
            "| term | bits per coded bit | saved |", "|---|---|---|"]
    for setting in args.settings.split(","):
        label, features, term = setting_term(setting, logits, codes, half, counts)
        after = bits_per_bit(logits[half:] + term(features[half:]), codes[half:])
        rows.append(f"| {label} | {after:.4f} | {100 * (before - after) / before:.2f} % |")
        print(rows[-1], flush=True)
    rows += ["", f"Command: `python tools/research/depth_group_probe.py --run RUN --codes CODES "
                 f"--tensors {args.tensors} --settings {args.settings} --out OUT`"]
    atomic_write_bytes(args.out, ("\n".join(rows) + "\n").encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
