#!/usr/bin/env python3
"""What spatially adaptive allocation could gain on MS-SSIM, and what stopped blocks cost.

    python tools/research/adaptive_headroom.py [--validation ../shared/data/train --count 8]
        [--model gru-w25] [--slopes 64,16,4] [--starts 2,4,8] [--rounds 12]
        [--out results/adaptive-headroom]
    python tools/research/adaptive_headroom.py --render results/adaptive-headroom/headroom.json

Two measurements on whole images of the validation split of a training folder (never Kodak),
both built on the *composite*: the image whose every block of 32x32 pixels is cut from the
fixed-iteration decode (post-filter included) after that block's own iteration count.

1. **Interaction.**  For each equal-slope setting (the codec's ``slope=`` rule), the image an
   adaptive file decodes to against the composite of its iteration map.  Their difference is
   all that stopped blocks cost their neighbours (zero codes in the decoder's context, the
   encoder's residual around them): the bits are the same.
2. **Headroom.**  From the fixed plan of ``k`` iterations everywhere, budget-neutral swaps
   steered by the gradient of the whole image's MS-SSIM: each round, the gradient at the
   current composite prices every block's next and previous iteration (a first-order gain),
   and the 5 % of blocks with the largest gain get one iteration more, the 5 % with the
   smallest loss one fewer, while the estimate says the swap gains.  The best composite's
   MS-SSIM, at the fixed plan's raw bits, bounds what any per-block rule could add on MS-SSIM
   (before the map's bytes and the entropy coder's cost of adaptive chunks).

MS-SSIM is the harness's (:func:`tfrnncomp.eval.metrics.ms_ssim`); its gradient comes from
``tf.image.ssim_multiscale``, which it matches to 1e-5.  Writes ``headroom.json`` and
``headroom.md`` under ``--out`` (``--render`` rewrites the markdown from the JSON).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO, HERE]


def block_sums(values, pixels):
    """``[..., H, W]`` -> ``[..., rows, cols]``: sums over blocks of ``pixels`` a side
    (``H``, ``W`` zero-padded up to multiples of it)."""
    pad = [(0, 0)] * (values.ndim - 2) + [(0, -values.shape[-2] % pixels),
                                          (0, -values.shape[-1] % pixels)]
    values = np.pad(values, pad)
    rows, cols = values.shape[-2] // pixels, values.shape[-1] // pixels
    shape = values.shape[:-2] + (rows, pixels, cols, pixels)
    return values.reshape(shape).sum(axis=(-3, -1))


def pixel_plan(plan, pixels, height, width):
    """A per-block plan ``[rows, cols]`` spread over the image's pixels ``[H, W]``."""
    return np.repeat(np.repeat(plan, pixels, 0), pixels, 1)[:height, :width]


def composite(decodes, plan, pixels):
    """The image whose blocks come from ``decodes[k - 1]`` (``[T, H, W, 3]``), ``k`` the
    block's entry of ``plan``."""
    height, width = decodes.shape[1:3]
    index = pixel_plan(plan - 1, pixels, height, width)
    return np.take_along_axis(decodes, index[None, :, :, None], 0)[0]


def ms_ssim_gradient(image, candidate):
    """The gradient of MS-SSIM (``tf.image.ssim_multiscale``, 8-bit scale) at ``candidate``."""
    import tensorflow as tf

    x = tf.convert_to_tensor(candidate[None], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = tf.image.ssim_multiscale(tf.convert_to_tensor(image[None], tf.float32), x, 255.0)
    return tape.gradient(value, x)[0].numpy()


def swap_rounds(image, decodes, start, pixels, rounds, share=0.05):
    """Budget-neutral swaps from ``start`` (module docstring): ``(best MS-SSIM, its plan,
    MS-SSIM after each round)``."""
    from tfrnncomp.eval.metrics import ms_ssim

    plan, last = start.copy(), len(decodes)
    target = image.astype(np.float32)
    best, best_plan, trace = -1.0, plan, []
    for _ in range(rounds):
        current = composite(decodes, plan, pixels)
        value = ms_ssim(image, np.clip(np.rint(current), 0, 255).astype(np.uint8))
        trace.append(value)
        if value > best:
            best, best_plan = value, plan.copy()
        gradient = ms_ssim_gradient(target, current)
        more = composite(decodes, np.minimum(plan + 1, last), pixels)
        fewer = composite(decodes, np.maximum(plan - 1, 1), pixels)
        gain = block_sums(((more - current) * gradient).sum(-1), pixels)
        loss = block_sums(((current - fewer) * gradient).sum(-1), pixels)
        gain[plan >= last], loss[plan <= 1] = -np.inf, np.inf
        count = max(1, int(plan.size * share))
        up = np.argsort(-gain.ravel())[:count]
        down = np.argsort(loss.ravel())[:count]
        if gain.ravel()[up].sum() <= loss.ravel()[down].sum():
            break
        flat = plan.ravel().copy()
        flat[up] += 1
        flat[down] -= 1
        plan = flat.reshape(plan.shape)
    return best, best_plan, trace


def measure_image(codec, image, slopes, starts, rounds):
    """The rows of one image: interaction per slope, headroom per start."""
    from tfrnncomp.codec import adaptive
    from tfrnncomp.eval.metrics import ms_ssim, psnr

    iterations, block = codec.max_iterations, 2
    pixels = block * codec.layout.block_size
    decoded = codec.decompress_progressive(codec.compress(image, iterations=iterations))
    decodes = np.stack([np.asarray(x, np.float32) for x in decoded])
    as_uint8 = lambda x: np.clip(np.rint(x), 0, 255).astype(np.uint8)  # noqa: E731
    history = codec.adaptive_history(image, iterations, block)
    interaction = []
    for slope in slopes:
        allocation = adaptive.Allocation("lagrangian", slope, block, iterations)
        encoded = codec.compress_adaptive(image, allocation, block_mse=history)
        decoded = np.asarray(codec.decompress(encoded.data))
        mixed = as_uint8(composite(decodes, encoded.iteration_map.astype(np.int32), pixels))
        interaction.append({
            "slope": slope, "mean_iterations": float(encoded.iteration_map.mean()),
            "adaptive_ms_ssim": ms_ssim(image, decoded), "composite_ms_ssim": ms_ssim(image, mixed),
            "adaptive_psnr": psnr(image, decoded), "composite_psnr": psnr(image, mixed)})
    headroom = []
    for k in starts:
        start = np.full(history.shape[1:], k, np.int32)
        best, plan, trace = swap_rounds(image, decodes, start, pixels, rounds)
        headroom.append({"iterations": k, "fixed_ms_ssim": trace[0], "swapped_ms_ssim": best,
                         "swapped_mean_iterations": float(plan.mean()),
                         "blocks_changed": int((plan != k).sum()), "blocks": int(plan.size),
                         "trace": trace})
    return {"interaction": interaction, "headroom": headroom}


def markdown(results, header):
    lines = [header, "", "Interaction (equal-slope files against the composite of their own "
             "iteration map):", "",
             "| image | slope | mean iterations | MS-SSIM adaptive | MS-SSIM composite | "
             "PSNR adaptive | PSNR composite |", "|---|---|---|---|---|---|---|"]
    for name, rows in results.items():
        for r in rows["interaction"]:
            lines.append(f"| {name} | {r['slope']:g} | {r['mean_iterations']:.2f} | "
                         f"{r['adaptive_ms_ssim']:.4f} | {r['composite_ms_ssim']:.4f} | "
                         f"{r['adaptive_psnr']:.2f} | {r['composite_psnr']:.2f} |")
    lines += ["", "Headroom (budget-neutral swaps by the MS-SSIM gradient, from k iterations "
              "everywhere; the gain also in iterations: over the mean MS-SSIM step per iteration "
              "from k to the next k measured):", "",
              "| image | k | MS-SSIM fixed | MS-SSIM swapped | gain | gain in iterations | "
              "blocks changed |", "|---|---|---|---|---|---|---|"]
    for name, rows in results.items():
        for r, steps in zip(rows["headroom"], iteration_gains(rows["headroom"])):
            shown = "-" if steps is None else f"{steps:.2f}"
            lines.append(f"| {name} | {r['iterations']} | {r['fixed_ms_ssim']:.4f} | "
                         f"{r['swapped_ms_ssim']:.4f} | "
                         f"{r['swapped_ms_ssim'] - r['fixed_ms_ssim']:+.4f} | {shown} | "
                         f"{r['blocks_changed']} of {r['blocks']} |")
    lines += ["", summary(results)]
    return "\n".join(lines) + "\n"


def iteration_gains(headroom):
    """Each start's swap gain over the mean MS-SSIM step per iteration from its ``k`` to the
    next start's (None for the last start)."""
    gains = []
    for r, following in zip(headroom, headroom[1:] + [None]):
        if following is None:
            gains.append(None)
            continue
        step = ((following["fixed_ms_ssim"] - r["fixed_ms_ssim"])
                / (following["iterations"] - r["iterations"]))
        gains.append((r["swapped_ms_ssim"] - r["fixed_ms_ssim"]) / step if step > 0 else None)
    return gains


def summary(results):
    """Mean differences over the images, one line each."""
    inter = [r for rows in results.values() for r in rows["interaction"]]
    head = [r for rows in results.values() for r in rows["headroom"]]
    d_ms = [r["adaptive_ms_ssim"] - r["composite_ms_ssim"] for r in inter]
    d_db = [r["adaptive_psnr"] - r["composite_psnr"] for r in inter]
    gains = {}
    for r in head:
        gains.setdefault(r["iterations"], []).append(r["swapped_ms_ssim"] - r["fixed_ms_ssim"])
    per_k = ", ".join(f"k={k}: {np.mean(v):+.4f} (max {np.max(v):+.4f})"
                      for k, v in sorted(gains.items()))
    return (f"Adaptive minus composite, mean over {len(inter)} files: MS-SSIM "
            f"{np.mean(d_ms):+.4f} (range {np.min(d_ms):+.4f} to {np.max(d_ms):+.4f}), PSNR "
            f"{np.mean(d_db):+.3f} dB (range {np.min(d_db):+.3f} to {np.max(d_db):+.3f}). "
            f"Swap gain in MS-SSIM at equal raw bits, mean over images: {per_k}.")


def _parser():
    from adaptive_weighting import validation_arguments

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    validation_arguments(parser)
    parser.add_argument("--slopes", default="64,16,4")
    parser.add_argument("--starts", default="2,4,8")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--out", default="results/adaptive-headroom")
    parser.add_argument("--render", metavar="JSON", help="only rewrite the markdown next to "
                        "this headroom.json from its numbers")
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from tfrnncomp.atomic import atomic_write_bytes

    if args.render:
        with open(args.render, encoding="utf-8") as f:
            saved = json.load(f)
        atomic_write_bytes(os.path.join(os.path.dirname(args.render), "headroom.md"),
                           markdown(saved["results"], saved["header"]).encode())
        return 0
    if not os.path.isdir(args.validation):
        print(f"adaptive_headroom: skipped: training folder {args.validation} not found")
        return 0
    from tfrnncomp.codec import Codec
    from tfrnncomp.eval import evaluate

    start = time.time()
    dataset = evaluate.validation_dataset(args.validation, args.count)
    codec = Codec(args.model)
    slopes = [float(v) for v in args.slopes.split(",")]
    starts = [int(v) for v in args.starts.split(",")]
    results = {}
    for name, image in zip(dataset.names, dataset.images):
        results[name] = measure_image(codec, image, slopes, starts, args.rounds)
        print(f"adaptive_headroom: {name} done ({time.time() - start:.0f} s)", file=sys.stderr)
    header = (f"{codec.model_id} with {codec.post_filter_id or 'no post-filter'}, "
              f"{len(results)} whole validation images of {os.path.basename(dataset.path)}, "
              f"blocks of 32x32 pixels")
    os.makedirs(args.out, exist_ok=True)
    atomic_write_bytes(os.path.join(args.out, "headroom.json"), (json.dumps(
        {"header": header, "results": results}, indent=1) + "\n").encode())
    atomic_write_bytes(os.path.join(args.out, "headroom.md"), markdown(results, header).encode())
    print(summary(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
