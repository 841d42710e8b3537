#!/usr/bin/env python3
"""What each iteration adds: PSNR, MS-SSIM, mean |residual| and the cosine of each change.

    python tools/research/iteration_table.py
        [--model gru-w25 | MODEL_DIR | --weights W.weights.h5 --config C.json]
        [--data ../shared/data/kodak | --validation ../shared/data/train]
        [--iterations 16] [--names kodim01.png,...] [--out results/iterations] [--name NAME]

Every image is coded through the codec's own functions (``encode_codes``, then ``decode_all``:
the image a user gets after each iteration, through the model directory's post-filter unless
``--no-post-filter``; entropy coding is lossless and left out) and
measured after iterations 1..T (:mod:`tfrnncomp.training.validation`).  ``--validation DATA`` uses the
whole-image validation crops of the training run instead of a folder of whole images.  The
table (markdown) and the figures (JSON) go to ``--out``; "falls" lists the iterations k whose
mean PSNR or MS-SSIM is below that after k-1, and "useful iterations" is the last iteration
before the first fall (the model's curve says more iterations buy nothing after it).
A missing image folder is skipped with a message and exit status 0.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfrnncomp.apps.parser import add_post_filter_flag  # noqa: E402
from tfrnncomp.training import validation  # noqa: E402
from tfrnncomp.eval import evaluate, schema


def load_model(args):
    from tfrnncomp.model import zoo

    if args.weights is None:
        return zoo.load_model(args.model)
    if args.config is None:
        raise SystemExit("iteration_table: --weights needs --config")
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.train import TrainingConfig, build_model

    model = build_model(load_config(args.config), TrainingConfig())  # takes optimizer state too
    model.load_weights(args.weights)
    return model


def falls(curve):
    """Iterations k (2..T) whose mean PSNR or MS-SSIM is below that after k - 1."""
    return [k for k in range(2, len(curve["psnr"]) + 1)
            if curve["psnr"][k - 1] < curve["psnr"][k - 2]
            or curve["ms_ssim"][k - 1] < curve["ms_ssim"][k - 2]]


def useful_iterations(curve):
    """The last iteration before the first fall (all of them if none falls)."""
    fell = falls(curve)
    return fell[0] - 1 if fell else len(curve["psnr"])


def markdown(curve, bits_per_iteration_bpp):
    lines = ["| iteration | raw bpp | PSNR dB | Δ PSNR | MS-SSIM | Δ MS-SSIM | mean abs residual "
             "| cosine (change, residual) |", "|---|---|---|---|---|---|---|---|"]
    for t in range(len(curve["psnr"])):
        dp = curve["psnr"][t] - curve["psnr"][t - 1] if t else float("nan")
        dm = curve["ms_ssim"][t] - curve["ms_ssim"][t - 1] if t else float("nan")
        lines.append(f"| {t + 1} | {(t + 1) * bits_per_iteration_bpp:.3f} | "
                     f"{curve['psnr'][t]:.2f} | {dp:+.2f} | {curve['ms_ssim'][t]:.4f} | "
                     f"{dm:+.4f} | {curve['residual'][t]:.2f} | {curve['cosine'][t]:.3f} |"
                     .replace("+nan", "-"))
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="zoo name or model directory")
    parser.add_argument("--weights", default=None, help="a run's .weights.h5 (with --config)")
    parser.add_argument("--config", default=None, help="model config JSON of --weights")
    parser.add_argument("--data", default=evaluate.DEFAULT_DATASET, help="folder of whole images")
    parser.add_argument("--validation", default=None, metavar="DATA",
                        help="use the training run's whole-image validation crops of DATA")
    parser.add_argument("--crop", type=int, default=256, help="validation crop (--validation)")
    parser.add_argument("--images", type=int, default=8, help="validation images (--validation)")
    parser.add_argument("--names", default=None, help="comma-separated file names of --data")
    parser.add_argument("--iterations", type=int, default=16)
    parser.add_argument("--out", default="results/iterations")
    parser.add_argument("--name", default=None, help="file stem (default: the model id)")
    add_post_filter_flag(parser, "the decoder's own images, without the model directory's "
                         "post-filter (--weights never has one)")
    parser.add_argument("--set-useful", default=None, metavar="MODEL_DIR",
                        help="write the measured useful iterations into MODEL_DIR/config.json "
                        "(use held-out images: --validation, never Kodak)")
    return parser.parse_args(argv)


def load_images(args):
    """``(names, images, source)`` of the validation crops or the image folder; None when the
    folder is missing."""
    if args.validation is not None:
        names, images = validation.validation_crops(args.validation, args.crop, args.images)
        return names, images, {"validation": os.path.relpath(args.validation), "crop": args.crop}
    if not os.path.isdir(args.data):
        return None
    dataset = evaluate.load_dataset(args.data, names=args.names.split(",") if args.names else None)
    return dataset.names, dataset.images, dataset.info()


def main(argv=None):
    args = parse_args(argv)
    loaded = load_images(args)
    if loaded is None:
        print(f"iteration_table: image folder {args.data} not found; skipped")
        return 0
    names, images, source = loaded
    from tfrnncomp.model import postfilter, zoo
    from tfrnncomp.runtime.graph import CodecFunctions

    model = load_model(args)
    post_filter = None
    if args.weights is None and args.post_filter is not None:
        post_filter = zoo.load_post_filter(args.model, zoo.model_id(model))
    start = time.time()
    curve = validation.iteration_curve(CodecFunctions(model, post_filter=post_filter), images,
                                       args.iterations)
    bpp = model.config.bpp_per_iteration
    result = {"model_id": zoo.model_id(model), "source": source, "images": list(names),
              "post_filter_id": postfilter.weights_id(post_filter),
              "iterations": args.iterations, "curve": curve, "falls": falls(curve),
              "useful_iterations": useful_iterations(curve),
              "score": validation.score(curve), "seconds": round(time.time() - start, 1),
              "environment": schema.environment(),
              "command": ("python tools/research/iteration_table.py "
                          + " ".join(argv or sys.argv[1:]))}
    table = markdown(curve, bpp)
    summary = (f"{result['model_id']} on {len(names)} images ({source}): falls at iterations "
               f"{result['falls'] or 'none'}; useful iterations {result['useful_iterations']}; "
               f"score {result['score']:.3f}")
    print(table + "\n\n" + summary)
    stem = os.path.join(args.out, args.name or result["model_id"].replace("@", "-"))
    os.makedirs(args.out, exist_ok=True)
    from tfrnncomp.atomic import atomic_write_bytes

    atomic_write_bytes(stem + ".json", json.dumps(result, indent=1).encode())
    atomic_write_bytes(stem + ".md", f"{table}\n\n{summary}\n\n`{result['command']}`\n".encode())
    print(f"wrote {stem}.json, {stem}.md")
    if args.set_useful:
        set_useful(args.set_useful, result["useful_iterations"])
    return 0


def set_useful(model_dir, useful):
    """Record ``useful`` as ``useful_iterations`` of a model directory's config."""
    from tfrnncomp.model import zoo
    from tfrnncomp.model.config import load_config
    from tfrnncomp.atomic import atomic_write_bytes

    path = os.path.join(model_dir, zoo.CONFIG_FILE)
    config = load_config(path)
    useful = None if useful >= config.max_iterations else useful
    atomic_write_bytes(path, (config.replace(useful_iterations=useful).to_json() + "\n").encode())
    print(f"{path}: useful_iterations = {useful}")


if __name__ == "__main__":
    sys.exit(main())
