#!/usr/bin/env python3
"""Train the post-filter of a codec model on its own decoded images, and measure it.

    python tools/training/train_postfilter.py --out DIR [--model gru-w25]
        [--data ../shared/data/train] [--work DIR] [--crop 256] [--validation-count 16]
        [--channels 32] [--depth 5] [--context-channels 0] [--context-depth 4]
        [--context-factor 4] [--minutes 40] [--learning-rate 5e-4]
        [--init FILTER_DIR] [--loss ssim|ms_ssim] [--ssim-weight 0.3] [--patch 96]
        [--batch 16] [--late-from K --late-share F] [--results results/postfilter]

1. One random ``--crop`` crop (seeded) of every image of the training split of ``--data`` is
   coded through the codec's own functions (``encode_codes`` then ``decode_all``, all
   iterations); the images after every iteration are cached in ``--work`` (a later run with the
   same settings reuses them).
2. The :class:`~tfrnncomp.model.postfilter.PostFilter` trains for ``--minutes`` of CPU time
   (process time) on ``--batch`` patches of ``--patch`` pixels of those decodes at offsets
   that are multiples of the code block (16 pixels: the block grid of a patch lies where the
   codec's does, at the image's origin), one random iteration per patch (``--late-from``,
   ``--late-share``: that share from the late iterations), loss ``0.7 L1 + 0.3 (1 - SSIM)``
   (the codec model's own; ``--loss ms_ssim`` puts the evaluation's five-scale MS-SSIM in
   place of SSIM, on patches of at least 176 pixels; ``--ssim-weight``), Adam with a cosine
   decay over the budget.  ``--init`` starts from the weights of a filter directory (its
   config, not ``--channels``/``--depth``) instead of zeros; with ``--context-channels`` and
   an initial filter without a context branch, the branch is added (at zero, so training
   starts from that filter's output).
3. ``--validation-count`` whole images of the validation split (never trained on; not Kodak) are
   coded the same way; the table gives mean PSNR and MS-SSIM after each iteration without and
   with the filter.

``DIR`` receives ``postfilter.weights.h5`` and ``postfilter.json`` (config, id, the codec model's
id, the training log and the table): copy both into the model directory to ship the filter.  The
table also goes to ``--results`` as markdown.  A missing data folder is skipped with a message
and exit status 0.
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PATCH = 96
BATCH = 16
SSIM_WEIGHT = 0.3
#: ``--loss`` -> the codec model's loss of that structural term (tfrnncomp.model.losses):
#: single-scale SSIM, or the evaluation's five-scale MS-SSIM (patches of at least
#: ``tfrnncomp.model.losses.MS_SSIM_MIN_SIZE`` pixels)
LOSSES = {"ssim": "l1_ssim", "ms_ssim": "l1_ms_ssim"}


def coded_set(functions, files, crop, iterations, seed, cache):
    """``(originals, decodes)``: ``files`` (random ``crop`` crops, whole images if None) and
    ``uint8[T, H, W, 3]`` after every iteration; read from / written to ``cache`` (npz)."""
    from tfrnncomp.training import data as data_lib

    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as saved:
            count = int(saved["count"])
            return ([saved[f"original{i}"] for i in range(count)],
                    [saved[f"decoded{i}"] for i in range(count)])
    rng = np.random.default_rng(seed)
    originals, decodes = [], []
    for path in files:
        image = data_lib.load_image(path)
        if crop is not None:
            if min(image.shape[:2]) < crop:
                continue
            top = rng.integers(0, image.shape[0] - crop + 1)
            left = rng.integers(0, image.shape[1] - crop + 1)
            image = np.ascontiguousarray(image[top:top + crop, left:left + crop])
        codes = functions.encode_codes(image, np.int32(iterations))
        decodes.append(functions.decode_all(codes, np.int32(image.shape[0]),
                                            np.int32(image.shape[1])).numpy())
        originals.append(image)
    arrays = {f"original{i}": a for i, a in enumerate(originals)}
    arrays.update({f"decoded{i}": a for i, a in enumerate(decodes)})
    from tfrnncomp.atomic import atomic_path

    with atomic_path(cache, suffix=".npz") as tmp:
        np.savez(tmp, count=len(originals), **arrays)
    return originals, decodes


def patches(originals, decodes, rng, align, late=(None, 0.0), size=(PATCH, BATCH)):
    """One batch: decoded patches at offsets that are multiples of ``align``, their iteration
    counts, original patches (uint8).  ``late = (first, share)``: a share of the patches takes
    its iteration from ``first`` .. the last one (the rest from all iterations).  ``size``:
    ``(patch side, patches)``."""
    x, k, y = [], [], []
    first, share = late
    patch, batch = size
    for _ in range(batch):
        i = rng.integers(len(originals))
        low = first - 1 if first and rng.random() < share else 0
        t = rng.integers(low, len(decodes[i]))
        h, w = originals[i].shape[:2]
        top = rng.integers(0, (h - patch) // align + 1) * align
        left = rng.integers(0, (w - patch) // align + 1) * align
        window = (slice(top, top + patch), slice(left, left + patch))
        x.append(decodes[i][t][window])
        k.append(t + 1)
        y.append(originals[i][window])
    return np.stack(x), np.asarray(k, np.float32)[:, None, None, None], np.stack(y)


def filter_loss(loss, weight, y, out):
    """``(1 - weight) L1 + weight (1 - SSIM or MS-SSIM)`` of two batches in [-0.5, 0.5]: the
    codec model's loss (``loss`` a key of LOSSES) for one iteration."""
    from tfrnncomp.model import losses

    return losses.iteration_losses(y, out[None], LOSSES[loss], weight)[0]


def train(net, originals, decodes, minutes, learning_rate, seed, align, sampling):
    """Train ``net`` for ``minutes`` of process time; returns ``(steps, log rows)``.
    ``sampling``: the ``late``, ``size``, ``loss`` and ``ssim_weight`` of the patches and
    loss."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)

    @tf.function
    def step(x, k, y):
        x = tf.cast(x, tf.float32) / 255.0 - 0.5
        y = tf.cast(y, tf.float32) / 255.0 - 0.5
        with tf.GradientTape() as tape:
            out = net(x, k, training=True)
            loss = filter_loss(sampling["loss"], sampling["ssim_weight"], y, out)
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    rng = np.random.default_rng(seed)
    start, steps, recent, log = time.process_time(), 0, [], []
    while True:
        used = (time.process_time() - start) / 60.0
        if used >= minutes:
            return steps, log
        optimizer.learning_rate.assign(learning_rate * 0.5 * (1 + math.cos(math.pi * used / minutes)))
        recent.append(float(step(*patches(originals, decodes, rng, align, sampling["late"],
                                           sampling["size"]))))
        steps += 1
        if steps % 200 == 0:
            log.append({"step": steps, "cpu_minutes": round(used, 2),
                        "loss": float(np.mean(recent))})
            print(f"step {steps}: loss {np.mean(recent):.5f} ({used:.1f} CPU min)", flush=True)
            recent = []


def validation_table(net, originals, decodes):
    """Mean PSNR and MS-SSIM after each iteration, without and with the filter.

    The filter runs on each cached (cropped) decoded image; the codec filters the padded
    reconstruction, so for sizes that are not multiples of 32 the border pixels can differ
    slightly from what a user gets."""
    from tfrnncomp.eval import metrics
    from tfrnncomp.model.postfilter import apply_uint8

    fields = ("psnr", "ms_ssim", "psnr_filtered", "ms_ssim_filtered")
    table = {key: [] for key in fields}
    for t in range(len(decodes[0])):
        row = {key: [] for key in fields}
        for original, decoded in zip(originals, decodes):
            filtered = np.asarray(apply_uint8(net, decoded[t][None], np.float32(t + 1)))[0]
            row["psnr"].append(metrics.psnr(original, decoded[t]))
            row["ms_ssim"].append(metrics.ms_ssim(original, decoded[t]))
            row["psnr_filtered"].append(metrics.psnr(original, filtered))
            row["ms_ssim_filtered"].append(metrics.ms_ssim(original, filtered))
        for key in fields:
            table[key].append(float(np.mean(row[key])))
    return table


def markdown(table):
    lines = ["| iteration | PSNR | filtered | Δ | MS-SSIM | filtered | Δ |",
             "|---|---|---|---|---|---|---|"]
    for t in range(len(table["psnr"])):
        p, pf = table["psnr"][t], table["psnr_filtered"][t]
        m, mf = table["ms_ssim"][t], table["ms_ssim_filtered"][t]
        lines.append(f"| {t + 1} | {p:.2f} | {pf:.2f} | {pf - p:+.2f} | {m:.4f} | {mf:.4f} "
                     f"| {mf - m:+.4f} |")
    return "\n".join(lines)


def parse(argv):
    from tfrnncomp.model.losses import MS_SSIM_MIN_SIZE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the filter's two files")
    parser.add_argument("--model", default="gru-w25", help="zoo name or model directory")
    parser.add_argument("--data", default="../shared/data/train")
    parser.add_argument("--work", default=None, help="cache of the coded images (default: --out)")
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--validation-count", type=int, default=16)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--depth", type=int, default=5)
    parser.add_argument("--context-channels", type=int, default=0,
                        help="width of the context branch at 1/--context-factor resolution "
                        "(0: none)")
    parser.add_argument("--context-depth", type=int, default=4)
    parser.add_argument("--context-factor", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=40.0, help="CPU minutes of training")
    parser.add_argument("--learning-rate", type=float, default=5e-4)
    parser.add_argument("--init", default=None, metavar="FILTER_DIR",
                        help="continue the filter in this folder (postfilter.json + weights)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the crops")
    parser.add_argument("--patch-seed", type=int, default=None,
                        help="seeds the training patches (default --seed; give another one "
                        "to continue a filter on other patches of the same crops)")
    parser.add_argument("--late-from", type=int, default=None, metavar="K",
                        help="with --late-share: draw that share of the training patches from "
                        "iterations K..last, so the filter sees the late iterations more often")
    parser.add_argument("--late-share", type=float, default=0.0)
    parser.add_argument("--loss", choices=sorted(LOSSES), default="ssim",
                        help="structural term: SSIM (the codec model's) or MS-SSIM (needs "
                        f"--patch >= {MS_SSIM_MIN_SIZE})")
    parser.add_argument("--ssim-weight", type=float, default=SSIM_WEIGHT)
    parser.add_argument("--patch", type=int, default=PATCH, help="training patch side")
    parser.add_argument("--batch", type=int, default=BATCH, help="patches per step")
    parser.add_argument("--results", default="results/postfilter")
    args = parser.parse_args(argv)
    if args.loss == "ms_ssim" and args.patch < MS_SSIM_MIN_SIZE:
        parser.error(f"--loss ms_ssim needs --patch >= {MS_SSIM_MIN_SIZE}")
    if args.patch < 16 or args.patch > args.crop or args.batch < 1:
        parser.error("--patch must be in 16..--crop and --batch positive")
    if args.late_from is not None and not 0 <= args.late_share <= 1:
        parser.error("--late-share must be in 0..1")
    return args


def main(argv=None):
    args = parse(argv)
    if not os.path.isdir(args.data):
        print(f"train_postfilter: no data folder {args.data!r}; skipped")
        return 0
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.model import postfilter, zoo
    from tfrnncomp.runtime.graph import CodecFunctions
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.training.validation import spread

    model = zoo.load_model(args.model)
    functions, iterations = CodecFunctions(model), model.config.max_iterations
    files = data_lib.list_images(args.data)
    work = args.work or args.out
    os.makedirs(work, exist_ok=True)
    train_set = coded_set(functions, data_lib.split_files(files, "train", root=args.data),
                          args.crop, iterations, args.seed,
                          os.path.join(work, f"train{args.crop}-seed{args.seed}.npz"))
    held = spread(data_lib.split_files(files, "validation", root=args.data),
                  args.validation_count)
    valid = coded_set(functions, held, None, iterations, args.seed,
                      os.path.join(work, f"validation{args.validation_count}.npz"))
    print(f"coded {len(train_set[0])} training crops, {len(valid[0])} validation images",
          flush=True)
    net, initial = initial_filter(args, iterations)
    patch_seed = args.seed if args.patch_seed is None else args.patch_seed
    align = model.config.block_size
    if args.late_from is not None and not 1 <= args.late_from <= iterations:
        raise SystemExit(f"train_postfilter: --late-from must be in 1..{iterations}")
    sampling = {"late": (args.late_from, args.late_share), "size": (args.patch, args.batch),
                "loss": args.loss, "ssim_weight": args.ssim_weight}
    steps, log = train(net, *train_set, args.minutes, args.learning_rate, patch_seed, align,
                       sampling)
    table = validation_table(net, *valid)
    record = {"config": net.get_config(), "postfilter_id": postfilter.weights_id(net),
              "codec_model_id": zoo.model_id(model),
              "training": {"data": "train split of the training data", "crops": len(train_set[0]),
                           "crop": args.crop, "steps": steps, "batch": args.batch, "patch": args.patch,
                           "patch_align": align,
                           "cpu_minutes": args.minutes, "learning_rate": args.learning_rate,
                           "init": initial and initial["postfilter_id"],
                           "late_iterations": {"from": args.late_from, "share": args.late_share},
                           "loss": f"{1 - args.ssim_weight:g} L1 + {args.ssim_weight:g} "
                                   f"(1 - {'MS-SSIM' if args.loss == 'ms_ssim' else 'SSIM'})",
                           "log": log},
              "validation": dict(table, images=[os.path.relpath(f, args.data) for f in held])}
    save(net, record, args.out)
    os.makedirs(args.results, exist_ok=True)
    text = markdown(table)
    stem = "validation-" + record["postfilter_id"].replace("@", "-")
    atomic_write_bytes(os.path.join(args.results, stem + ".md"),
                       (f"{record['postfilter_id']} for {record['codec_model_id']}, "
                        f"{len(held)} validation images\n\n{text}\n").encode("utf-8"))
    print(text)
    return 0


def initial_filter(args, iterations):
    """``(filter, record of --init or None)``: the filter to train."""
    from tfrnncomp.model import postfilter

    context = {"context_channels": args.context_channels, "context_depth": args.context_depth,
               "context_factor": args.context_factor}
    if not args.init:
        return postfilter.build(dict(context, channels=args.channels, depth=args.depth,
                                     iterations=iterations)), None
    net, initial = postfilter.load(args.init)
    if net is None:
        raise SystemExit(f"train_postfilter: no post-filter in {args.init!r}")
    if args.context_channels and not net.context_channels:
        net = postfilter.with_context(net, **context)
    return net, initial


def save(net, record, directory):
    """Write the filter's weights and record into ``directory`` (each file atomically)."""
    from tfrnncomp.atomic import atomic_path, atomic_write_bytes
    from tfrnncomp.model import postfilter

    os.makedirs(directory, exist_ok=True)
    with atomic_path(os.path.join(directory, postfilter.WEIGHTS_FILE),
                     suffix=".weights.h5") as tmp:
        net.save_weights(tmp)
    text = json.dumps(record, indent=1) + "\n"
    atomic_write_bytes(os.path.join(directory, postfilter.CONFIG_FILE), text.encode("utf-8"))


if __name__ == "__main__":
    sys.exit(main())
