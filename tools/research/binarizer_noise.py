#!/usr/bin/env python3
"""How far the stochastic binarizer's training bits are from the bits inference emits.

    python tools/research/binarizer_noise.py [--validation ../shared/data/train --count 8]
        [--model gru-w25] [--out results/training/binarizer-noise.md]

In training the paper's binarizer emits +1 with probability ``(1 + x) / 2`` (``x`` the tanh
output); inference emits ``sign(x)``.  A training bit differs from the inference bit with
probability ``(1 - |x|) / 2``.  This tool runs the model's own iterations in inference mode on
whole images of the validation split of a training folder (never Kodak; each cropped to a
multiple of 32 pixels) and prints that probability per iteration (the mean over every bit of
every image), with the share of outputs with ``|x| < 0.5``: how noisy the codes are that the
decoder learns from, against the clean ones it decodes.
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO, HERE]


def tanh_outputs(model, image, iterations):
    """``|x|`` of every bit of ``image`` (uint8 ``[H, W, 3]``), ``[T, n]``, from the model's
    steps in inference mode."""
    from keras import ops

    side = model.config.pad_multiple
    height, width = image.shape[0] // side * side, image.shape[1] // side * side
    x = ops.convert_to_tensor(image[None, :height, :width].astype("float32") / 255.0 - 0.5)
    enc_states, reconstruction = model.initial_encoder_state(x), ops.zeros_like(x)
    gain, dec_states, found = model.initial_gain(x), None, []
    for _ in range(iterations):
        features, enc_states = model.encoder_features(
            model.encoder_input(x, reconstruction, gain), enc_states)
        found.append(np.abs(ops.convert_to_numpy(
            ops.tanh(model.binarizer.projection(features)))).ravel())
        bits = model.binarizer(features)  # inference: the signs
        dec_states = dec_states or model.initial_decoder_state(bits)
        output, dec_states = model.decoder_step(bits, dec_states)
        reconstruction, gain = model.reconstruct(output, reconstruction, gain)
    return np.stack(found)


def main(argv=None):
    from adaptive_weighting import validation_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--out", default="results/training/binarizer-noise.md")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.validation):
        print(f"binarizer_noise: skipped: training folder {args.validation} not found")
        return 0
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.eval import evaluate
    from tfrnncomp.model import zoo

    model = zoo.load_model(args.model)
    iterations = model.config.max_iterations
    dataset = evaluate.validation_dataset(args.validation, args.count)
    found = np.concatenate([tanh_outputs(model, image, iterations) for image in dataset.images],
                           axis=1)
    flip = ((1.0 - found) / 2.0).mean(axis=1)
    lines = [f"{zoo.model_id(model)}, {len(dataset.images)} whole validation images of "
             f"{os.path.basename(dataset.path)}: the probability that a stochastic training bit "
             "differs from the inference bit, (1 - |x|) / 2, per iteration", "",
             "| iteration | " + " | ".join(str(t + 1) for t in range(iterations)) + " |",
             "|---|" + "---|" * iterations,
             "| P(differs) | " + " | ".join(f"{p:.3f}" for p in flip) + " |", "",
             f"Share of outputs with |x| < 0.5: {(found < 0.5).mean():.3f}; mean P(differs) "
             f"{flip.mean():.3f}."]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write_bytes(args.out, text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
