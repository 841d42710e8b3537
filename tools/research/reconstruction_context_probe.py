#!/usr/bin/env python3
"""Would the BinaryRNN save bits by seeing the image decoded so far?  A cheap probe.

    python tools/training/dequantize_binaryrnn.py --model gru-w25 --out RUN
    python tools/research/reconstruction_context_probe.py --run RUN [--model gru-w25]
        [--data ../shared/data/train] [--fit-count 160] [--count 41] [--crop 256]
        [--out results/entropy/reconstruction_context_probe.md]

The BinaryRNN predicts iteration t's bits from the rows above, the same position's earlier
depth groups and the codes of iterations t-1 and t-2.  A decoder also holds the image after
t-1 iterations, a nonlinear summary of every earlier code over a wide area (where it is flat,
where it has edges), which none of those inputs gives directly.  This probe measures what that
context is worth before any format changes for it:

1. centre crops of ``--fit-count`` images of the training split and of ``--count`` of the
   validation split (never trained on; not Kodak) are coded by the codec model (all its
   iterations) and decoded after every iteration (no post-filter);
2. the float BinaryRNN of ``--run`` (frozen) gives every bit its logit;
3. a small term is fitted on the training crops and added to the logits; the table gives bits
   per coded bit on the validation crops, over all iterations and by iteration range.

Terms: ``iteration`` (a bias per bit and iteration: how much is mere recalibration of the
dequantized net), ``image`` (the image after t-1 iterations, mid-grey before the first, each
16x16 block rearranged into one position's 768 values, through a 1x1 layer of 64 ReLU units
and a 3x3 convolution to the 32 logits; it also gets the iteration's one-hot), ``image-3x3``
(the same with a 3x3 first layer).
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

TERMS = ("iteration", "image", "image-3x3")
RANGES = ((1, 1), (2, 4), (5, 8), (9, 16))


def coded_crops(model, files, crop):
    """``(codes int8[T,h,w,bits], decodes uint8[T,H,W,3])`` of the centre crops of ``files``."""
    from tfrnncomp.runtime.graph import CodecFunctions
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.training.validation import centre_crop

    functions, iterations = CodecFunctions(model), model.config.max_iterations
    out = []
    for path in files:
        image = centre_crop(data_lib.load_image(path), crop)
        if image is None:
            continue
        codes = functions.encode_codes(image, np.int32(iterations)).numpy()
        decodes = functions.decode_all(codes, np.int32(crop), np.int32(crop)).numpy()
        out.append((codes, decodes))
    return out


def features(codes, decodes, block):
    """Per iteration sample: the image after t-1 iterations (mid-grey before the first) in
    the model range, space-to-depth by ``block``, then the iteration's one-hot."""
    count, h, w, _ = codes.shape
    before = np.concatenate([np.full_like(decodes[:1], 128), decodes[:-1]])
    x = before.astype(np.float32) / 255.0 - 0.5
    x = x.reshape(count, h, block, w, block, 3).transpose(0, 1, 3, 2, 4, 5)
    x = x.reshape(count, h, w, block * block * 3)
    onehot = np.broadcast_to(np.eye(count, dtype=np.float32)[:, None, None, :], (count, h, w, count))
    return np.concatenate([x, onehot], -1)


def fit_term(kind, logits, targets, inputs, iterations, steps=1500, batch=32, seed=0):
    """A fitted term of ``kind`` (see the module doc): a function of feature arrays -> logits."""
    import keras
    import tensorflow as tf

    from tfrnncomp.entropy.training.binaryrnn import bits_cross_entropy

    bits = logits.shape[-1]
    keras.utils.set_random_seed(seed)
    if kind == "iteration":
        net = keras.Sequential([keras.layers.Lambda(lambda f: f[..., -iterations:]),
                                keras.layers.Dense(bits, kernel_initializer="zeros")])
    else:
        first = 3 if kind == "image-3x3" else 1
        net = keras.Sequential([keras.layers.Conv2D(64, first, padding="same", activation="relu"),
                                keras.layers.Conv2D(bits, 3, padding="same",
                                                    kernel_initializer="zeros")])
    net(inputs[:1])
    optimizer = keras.optimizers.Adam(1e-3)
    rng = np.random.default_rng(seed)

    @tf.function
    def step(f, z, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(bits_cross_entropy(y, z + net(f)))
        optimizer.apply_gradients(zip(tape.gradient(loss, net.trainable_variables),
                                      net.trainable_variables))

    for _ in range(steps):
        pick = rng.integers(0, len(logits), batch)
        step(inputs[pick], logits[pick], targets[pick])
    return lambda f: np.concatenate([net(f[i:i + 64]).numpy() for i in range(0, len(f), 64)])


def samples_of(model, net, files, crop):
    """``(logits, targets, features, iteration)`` of every iteration of the centre crops of
    ``files``, concatenated."""
    from tfrnncomp.entropy.training.binaryrnn import iteration_samples

    out = [[], [], [], []]
    for codes, decodes in coded_crops(model, files, crop):
        samples, ones = iteration_samples(codes)
        out[0].append(net(samples).numpy())
        out[1].append(ones.numpy())
        out[2].append(features(codes, decodes, model.config.block_size))
        out[3].append(np.arange(1, len(codes) + 1))
    return [np.concatenate(a) for a in out]


def bits_by_range(logits, targets, iteration):
    """Bits per coded bit over all samples and over each of RANGES (by ``iteration``)."""
    from tfrnncomp.entropy.training.binaryrnn import bits_cross_entropy

    per = np.asarray(bits_cross_entropy(targets, logits)).mean(axis=(1, 2, 3))
    return [float(per.mean())] + [float(per[(iteration >= a) & (iteration <= b)].mean())
                                  for a, b in RANGES]


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a float BinaryRNN run (config.json, "
                        "float.weights.h5), e.g. from tools/training/dequantize_binaryrnn.py")
    parser.add_argument("--model", default="gru-w25")
    parser.add_argument("--data", default="../shared/data/train")
    parser.add_argument("--fit-count", type=int, default=160, help="training-split crops")
    parser.add_argument("--count", type=int, default=41, help="validation-split crops")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--terms", default=",".join(TERMS))
    parser.add_argument("--out", default="results/entropy/reconstruction_context_probe.md")
    args = parser.parse_args(argv)
    args.terms = [t for t in args.terms.split(",") if t]
    if not args.terms or set(args.terms) - set(TERMS):
        parser.error(f"--terms: choose from {', '.join(TERMS)}")
    return args


def main(argv=None):
    args = parse(argv)
    if not os.path.isdir(args.data):
        print(f"reconstruction_context_probe: no data folder {args.data!r}; skipped")
        return 0
    for name in ("config.json", "float.weights.h5"):
        if not os.path.isfile(os.path.join(args.run, name)):
            print(f"reconstruction_context_probe: no {name} in {args.run}", file=sys.stderr)
            return 2
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.entropy.training import binaryrnn
    from tfrnncomp.model import zoo
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.training.validation import spread

    model = zoo.load_model(args.model)
    net = binaryrnn.build_model(binaryrnn.load_config(os.path.join(args.run, "config.json")))
    net.load_weights(os.path.join(args.run, "float.weights.h5"))
    listed = data_lib.list_images(args.data)
    fit = samples_of(model, net, spread(data_lib.split_files(listed, "train", root=args.data),
                                        args.fit_count), args.crop)
    held = samples_of(model, net, spread(data_lib.split_files(listed, "validation",
                                                              root=args.data), args.count),
                      args.crop)
    logits, targets, inputs, iteration = held
    steps = model.config.max_iterations
    before = bits_by_range(logits, targets, iteration)
    head = " | ".join(f"iterations {a}-{b}" if a != b else f"iteration {a}" for a, b in RANGES)
    rows = [f"Frozen BinaryRNN of `{os.path.basename(os.path.normpath(args.run))}` on the codes "
            f"of {zoo.model_id(model)}: terms fit on centre crops ({args.crop} px) of "
            f"{len(fit[0]) // steps} images of the training split, bits per coded bit on those "
            f"of {len(logits) // steps} of the validation split (saved against the net alone).", "",
            f"| term | all iterations | {head} |", "|---" * (2 + len(RANGES)) + "|",
            "| none | " + " | ".join(f"{b:.4f}" for b in before) + " |"]
    for kind in args.terms:
        term = fit_term(kind, *fit[:3], model.config.max_iterations)
        after = bits_by_range(logits + term(inputs), targets, iteration)
        rows.append(f"| {kind} | " + " | ".join(
            f"{a:.4f} ({100 * (b - a) / b:+.2f} %)" for a, b in zip(after, before)) + " |")
        print(rows[-1], flush=True)
    rows += ["", f"Command: `python tools/research/reconstruction_context_probe.py --run RUN "
                 f"--fit-count {args.fit_count} --count {args.count} --crop {args.crop} --terms {','.join(args.terms)}`"]
    atomic_write_bytes(args.out, ("\n".join(rows) + "\n").encode("utf-8"))
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
