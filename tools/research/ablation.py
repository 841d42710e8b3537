#!/usr/bin/env python3
"""Architecture ablation at CPU scale (Toderici et al. 2017, Sections 3-4).

    python tools/research/ablation.py [--data ../shared/data/train] [--out results/ablation]
                                      [--runs ../runs/ablation] [--steps 200] [--batch-size 16]
                                      [--iterations 8] [--widths 0.125,0.25] [--val-images 8]
                                      [--val-crop 256] [--variants baseline,cell-lstm,...] [--list]

One factor at a time from a baseline (GRU, additive reconstruction, the first width, random crops,
no GDN): the cell (residual GRU, LSTM), the reconstruction (one-shot, residual scaling), the second
width, the hard-patch set, the GDN blocks, and the baseline with a second seed (run-to-run noise).
Every variant trains for the same fixed number of steps (not wall time, so the budget is
reproducible) on the *train* split of the folder and is measured on centre crops of its
*validation* split (``tfrnncomp.training.data.split_files``), never on Kodak.

Rate is the raw bits of the codes, k x 0.125 bpp after k iterations (no header, no entropy
coding); quality is the harness's MS-SSIM and PSNR (``tfrnncomp.eval.evaluate.Measurer``); the score
is the area under the MS-SSIM curve over 0.125 .. iterations x 0.125 bpp (``tfrnncomp.eval.rd.auc``).

Each variant's result is written to OUT/variants/NAME.json (harness schema plus an "ablation"
object) and skipped when it exists with the same budget, so a killed run continues where it
stopped (a variant killed mid-training resumes from its run directory's last epoch).  The summary
is OUT/ablation.json and OUT/ablation.md.  A missing data folder is skipped with exit status 0.
"""

import argparse
import csv
import dataclasses
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfrnncomp.codec import image_io  # noqa: E402
from tfrnncomp.eval import evaluate, schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(REPO, "..", "shared", "data", "train")
DEFAULT_RUNS = os.path.join(REPO, "..", "runs", "ablation")
SUMMARY_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Budget:
    """What every variant gets; a stored result is reused only under the same budget."""

    steps: int = 200
    batch_size: int = 16
    patch_size: int = 32
    iterations: int = 8
    learning_rate: float = 5e-4
    steps_per_epoch: int = 50
    seed: int = 1
    val_images: int = 8
    val_crop: int = 256
    validation_fraction: float = 0.05  # tfrnncomp.training.data's default, which training uses (keep last)


def variants(widths):
    """``[(name, factor, settings)]``: the baseline, then one changed factor each."""
    base = {"cell": "gru", "reconstruction": "additive", "width": widths[0],
            "hard_patches": False, "gdn": False, "seed_offset": 0}
    out = [("baseline", "baseline", base)]
    out += [(f"cell-{c}", "cell", {**base, "cell": c}) for c in ("residual_gru", "lstm")]
    out += [(f"reconstruction-{r}", "reconstruction", {**base, "reconstruction": r})
            for r in ("one_shot", "residual_scaling")]
    out += [(f"width-{w:g}", "width", {**base, "width": w}) for w in widths[1:]]
    out += [("hard-patches", "data", {**base, "hard_patches": True}),
            ("gdn", "gdn", {**base, "gdn": True}),
            ("baseline-seed2", "noise", {**base, "seed_offset": 1})]
    return out


def model_config(name, settings, budget):
    from tfrnncomp.model.config import ModelConfig

    return ModelConfig(name=f"ablation-{name}", cell=settings["cell"], width=settings["width"],
                       reconstruction=settings["reconstruction"], gdn=settings["gdn"],
                       max_iterations=budget.iterations, train_iterations=budget.iterations)


def training_config(data, settings, budget):
    from tfrnncomp.training.train import TrainingConfig

    epochs = -(-budget.steps // budget.steps_per_epoch)
    return TrainingConfig(data=os.path.abspath(data), batch_size=budget.batch_size,
                          patch_size=budget.patch_size, hard_patches=settings["hard_patches"],
                          steps_per_epoch=min(budget.steps, budget.steps_per_epoch), epochs=epochs,
                          learning_rate=budget.learning_rate, decay_steps=max(budget.steps, 1000),
                          seed=budget.seed + settings["seed_offset"],
                          validation_images=0)  # scored after training, on its own crops


def run_dir_for(runs, name, config, training):
    key = json.dumps([config.to_dict(), {**training.to_dict(), "data": ""}], sort_keys=True)
    return os.path.join(runs, f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:8]}")


# -- validation data ----------------------------------------------------------------------------
def validation_set(data, budget):
    """Centre crops of up to ``val_images`` validation images, spread over the sorted split."""
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.training import validation

    files = data_lib.split_files(data_lib.list_images(data), "validation",
                                 budget.validation_fraction, root=data)
    size = budget.val_crop
    chosen, crops = [], []
    for path in validation.spread(files, budget.val_images):
        crop = validation.centre_crop(data_lib.load_image(path), size)
        if crop is None:
            continue
        crops.append(crop)
        chosen.append(os.path.relpath(path, data).replace(os.sep, "/"))
    if not crops:
        raise SystemExit(f"ablation: no validation image of at least {size}x{size} in {data}")
    return evaluate.Dataset(os.path.abspath(data), chosen, crops), len(files)


# -- one variant --------------------------------------------------------------------------------
def _train_record(run_dir):
    seconds, loss = 0.0, None
    times = os.path.join(run_dir, "times.csv")
    if os.path.exists(times):
        with open(times, encoding="utf-8") as handle:
            seconds = sum(float(row["seconds"]) for row in csv.DictReader(handle))
    log = os.path.join(run_dir, "log.csv")
    if os.path.exists(log):
        with open(log, encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        loss = float(rows[-1]["loss"]) if rows and "loss" in rows[-1] else None
    return seconds, loss


def measure(model, dataset, budget):
    """The harness's rows at every iteration, rate = raw code bits (k x 0.125 bpp)."""
    import numpy as np

    from tfrnncomp.runtime.graph import CodecFunctions

    functions = CodecFunctions(model)
    measurer = evaluate.Measurer()
    measurer.hvs = False  # not used by the score; it would double the evaluation time
    bits = model.config.bits
    rows = {k: [] for k in range(1, budget.iterations + 1)}
    for name, image in zip(dataset.names, dataset.images):
        height, width = image.shape[:2]
        start = time.perf_counter()
        codes = functions.encode_codes(image, np.int32(budget.iterations))
        encoded = time.perf_counter()
        decoded = functions.decode_all(codes, np.int32(height), np.int32(width)).numpy()
        done = time.perf_counter()
        blocks = codes.shape[1] * codes.shape[2]
        for k in rows:
            rows[k].append(measurer.row(name, image, decoded[k - 1], k * blocks * bits // 8,
                                        encoded - start, done - encoded))
    points = [evaluate.make_point(k, rows[k]) for k in rows]
    return points, measurer.notes


def run_variant(name, factor, settings, args, budget, dataset, log):
    from tfrnncomp.training import train
    from tfrnncomp.eval import rd

    config = model_config(name, settings, budget)
    training = training_config(args.data, settings, budget)
    run_dir = run_dir_for(args.runs, name, config, training)
    log(f"{name}: training {budget.steps} steps in {run_dir}")
    train.train(config, training, run_dir, verbose=2 if args.verbose else 0)
    train_seconds, loss = _train_record(run_dir)
    model = train.build_model(config, training)
    model.load_weights(os.path.join(run_dir, "latest.weights.h5"))
    start = time.time()
    points, notes = measure(model, dataset, budget)
    eval_seconds = time.time() - start
    info = {"family": "tfrnncomp", "setting_name": "iterations",
            "settings": list(range(1, budget.iterations + 1)), "config": config.to_dict(),
            "training": {**training.to_dict(), "data": os.path.relpath(args.data)},
            "rate": "raw code bits: k x 0.125 bpp (no header, no entropy coding)"}
    result = schema.new_result(
        f"ablation-{name}", f"ablation variant {name} ({factor}), {budget.steps} steps", info,
        dataset, points, notes + ["bpp is the raw code bits, not a file size",
                                   "psnr_hvs_m not measured (not part of the ablation's score)"])
    bpp_range = (points[0]["bpp"], points[-1]["bpp"])
    result["ablation"] = {
        "variant": name, "factor": factor, "settings": settings,
        "budget": dataclasses.asdict(budget), "parameters": int(model.count_params()),
        "auc_ms_ssim": rd.auc(result, "ms_ssim", bpp_range),
        "auc_psnr": rd.auc(result, "psnr", bpp_range), "auc_bpp_range": list(bpp_range),
        "train_seconds": round(train_seconds, 1), "eval_seconds": round(eval_seconds, 1),
        "final_loss": loss}
    return result


# -- summary ------------------------------------------------------------------------------------
def summarize(results, budget, dataset, split_size):
    rows = []
    for result in results:
        a = result["ablation"]
        span = a["auc_bpp_range"][1] - a["auc_bpp_range"][0]
        rows.append({**{k: a[k] for k in ("variant", "factor", "settings", "parameters",
                                          "auc_ms_ssim", "auc_psnr", "train_seconds",
                                          "eval_seconds", "final_loss")},
                     "mean_ms_ssim": a["auc_ms_ssim"] / span if span else None,
                     "ms_ssim": [p["ms_ssim"] for p in result["points"]],
                     "psnr": [p["psnr"] for p in result["points"]]})
    return {"summary_version": SUMMARY_VERSION, "budget": dataclasses.asdict(budget),
            "rate": "raw code bits: k x 0.125 bpp after k iterations",
            "score": "auc_ms_ssim: area under MS-SSIM vs bpp over the range of the iterations; "
                     "mean_ms_ssim = auc / range width",
            "validation": {"images": list(dataset.names), "crop": budget.val_crop,
                           "split_size": split_size},
            "variants": rows, "environment": schema.environment()}


def markdown(summary):
    b = summary["budget"]
    base = next((v for v in summary["variants"] if v["variant"] == "baseline"), None)
    lines = [f"Budget per variant: {b['steps']} steps x batch {b['batch_size']} of "
             f"{b['patch_size']}x{b['patch_size']} patches, {b['iterations']} iterations, "
             f"Adam lr {b['learning_rate']:g}, seed {b['seed']}. Validation: "
             f"{len(summary['validation']['images'])} centre crops {b['val_crop']}x{b['val_crop']} "
             f"of the validation split ({summary['validation']['split_size']} images). "
             "Rate: raw code bits (k x 0.125 bpp).", "",
             "| variant | params | AUC MS-SSIM | Δ vs baseline | mean MS-SSIM | MS-SSIM @0.25 | "
             "MS-SSIM @1 | PSNR @1 | final loss | train s |", "|---" * 10 + "|"]
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for v in summary["variants"]:
        delta = None if base is None else v["auc_ms_ssim"] - base["auc_ms_ssim"]
        at = lambda key, k: v[key][k - 1] if len(v[key]) >= k else None  # noqa: E731
        lines.append(
            f"| {v['variant']} | {v['parameters'] / 1e6:.2f} M | {fmt(v['auc_ms_ssim'], '.4f')} | "
            f"{fmt(delta, '+.4f')} | {fmt(v['mean_ms_ssim'], '.4f')} | "
            f"{fmt(at('ms_ssim', 2), '.4f')} | {fmt(at('ms_ssim', 8), '.4f')} | "
            f"{fmt(at('psnr', 8), '.2f')} | {fmt(v['final_loss'], '.4f')} | "
            f"{v['train_seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="training photos (split inside)")
    parser.add_argument("--out", default=os.path.join(REPO, "results", "ablation"))
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="training run directories")
    parser.add_argument("--widths", default="0.125,0.25", help="baseline width, then others")
    parser.add_argument("--variants", default=None, help="comma-separated subset (see --list)")
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    parser.add_argument("--verbose", action="store_true", help="Keras progress lines")
    for field in dataclasses.fields(Budget)[:-1]:  # the split is the one training uses
        parser.add_argument("--" + field.name.replace("_", "-"), type=type(field.default),
                            default=field.default)
    args = parser.parse_args(argv)
    budget = Budget(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Budget)[:-1]})
    chosen = variants([float(w) for w in args.widths.split(",")])
    if args.list:
        for name, factor, settings in chosen:
            print(f"{name:28s} {factor:15s} {json.dumps(settings)}")
        return 0
    if args.variants:
        wanted = args.variants.split(",")
        unknown = sorted(set(wanted) - {name for name, _, _ in chosen})
        if unknown:
            parser.error(f"unknown variants {unknown}; see --list")
        chosen = [v for v in chosen if v[0] in wanted]
    if not os.path.isdir(args.data):
        print(f"ablation: skipped: training folder {args.data} not found", file=sys.stderr)
        return 0
    log = evaluate.log_stderr
    dataset, split_size = validation_set(args.data, budget)
    log(f"validation: {len(dataset.names)} crops: {', '.join(dataset.names)}")
    results = []
    for name, factor, settings in chosen:
        path = os.path.join(args.out, "variants", f"{name}.json")
        if os.path.exists(path):
            result = schema.load_result(path)
            if result.get("ablation", {}).get("budget") != dataclasses.asdict(budget):
                print(f"ablation: error: {path} was made with another budget; move it away or "
                      "use another --out", file=sys.stderr)
                return 2
            log(f"{name}: done before, skipped")
        else:
            result = run_variant(name, factor, settings, args, budget, dataset, log)
            schema.write_result(path, result)
            a = result["ablation"]
            log(f"{name}: AUC MS-SSIM {a['auc_ms_ssim']:.4f}, train {a['train_seconds']:.0f} s, "
                f"eval {a['eval_seconds']:.0f} s")
        results.append(result)
    summary = summarize(results, budget, dataset, split_size)
    os.makedirs(args.out, exist_ok=True)
    image_io.atomic_write_bytes(os.path.join(args.out, "ablation.json"),
                                (json.dumps(summary, indent=1) + "\n").encode("utf-8"))
    image_io.atomic_write_bytes(os.path.join(args.out, "ablation.md"),
                                markdown(summary).encode("utf-8"))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
