#!/usr/bin/env python3
"""Score accelerator runs on the whole-image validation crops, beside the checkpoint they left.

    python tools/training/device_arms.py DEVICE_OUT [DEVICE_OUT ...] --out results/training/device-epoch396
        [--start tools/training/default/checkpoint.weights.h5] [--config tools/training/default/config.json]
        [--data ../shared/data/train] [--crop 256] [--images 8]

A DEVICE_OUT is what one ``device_run.sh`` call brought back: one run (``device_run.json`` in
it) or ``--arms`` (a folder per arm, each with its ``device_run.json``).  Each run's checkpoint
parts are joined (``checkpoint_parts.py``, in a temporary folder), loaded into the model of
``--config`` and scored as the training run's whole-image validation scores an epoch (the
validation crops of ``--data``, never Kodak; :mod:`tfrnncomp.training.validation`), and so is
``--start``, the checkpoint the runs resumed from (row "start").  Writes ``OUT/NAME.json`` per run
and ``OUT/arms.md``; the learning rate shown is the one the schedule applied at the run's first
step (``--learning-rate`` halved every ``--decay-steps`` optimizer steps).
"""

import argparse
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO, HERE]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ITERATIONS = (1, 4, 8, 16)


def find_runs(outs):
    """``{name: folder}`` of every run under the DEVICE_OUT folders (an arm's name is its folder's)."""
    runs = {}
    for out in outs:
        folders = [out] if os.path.isfile(os.path.join(out, "device_run.json")) else sorted(
            os.path.join(out, d) for d in os.listdir(out)
            if os.path.isfile(os.path.join(out, d, "device_run.json")))
        if not folders:
            raise SystemExit(f"device_arms: no device_run.json in {out} or its folders")
        for folder in folders:
            name = os.path.basename(os.path.normpath(folder))
            if name in runs or name == "start":
                raise SystemExit(f"device_arms: two runs are named {name!r}")
            runs[name] = folder
    return runs


def starting_learning_rate(summary):
    """The learning rate the exponential schedule applied at the run's first step."""
    settings = summary["settings"]
    first_step = summary["optimizer_step"] - summary["steps"]
    return settings["learning_rate"] * 0.5 ** (first_step / settings["decay_steps"])


def score_checkpoint(weights, config, crops):
    """The whole-image validation curve and score of a checkpoint."""
    from tfrnncomp.model.config import load_config
    from tfrnncomp.runtime.graph import CodecFunctions
    from tfrnncomp.training import validation
    from tfrnncomp.training.setup import TrainingConfig, build_model

    model = build_model(load_config(config), TrainingConfig())
    model.load_weights(weights)
    curve = validation.iteration_curve(CodecFunctions(model), crops, max(ITERATIONS))
    return {"score": validation.score(curve), "curve": curve}


def score_run(folder, config, crops):
    import checkpoint_parts
    import device_run

    with open(os.path.join(folder, "device_run.json"), encoding="utf-8") as handle:
        summary = json.load(handle)
    with tempfile.TemporaryDirectory() as tmp:
        joined = os.path.join(tmp, "checkpoint.weights.h5")
        checkpoint_parts.join(os.path.join(folder, "model.weights.h5"),
                              os.path.join(folder, "optimizer.weights.h5"), joined)
        measured = score_checkpoint(joined, config, crops)
    settings = summary["settings"]
    summary = dict(summary, settings=device_run.portable_settings(argparse.Namespace(**settings)))
    return {**measured, "device_run": summary, "batch_size": settings["batch_size"],
            "patches": summary["steps"] * settings["batch_size"],
            "learning_rate": starting_learning_rate(summary)}


def row(name, result):
    curve = result["curve"]
    points = " / ".join(f"{curve['psnr'][k - 1]:.2f}" for k in ITERATIONS)
    ms_ssim = " / ".join(f"{curve['ms_ssim'][k - 1]:.4f}" for k in ITERATIONS)
    if name == "start":
        return f"| start | - | - | - | - | - | {result['score']:.3f} | {points} | {ms_ssim} |"
    run = result["device_run"]
    return (f"| {name} | {result['batch_size']} | {result['learning_rate']:.2e} | {run['steps']} | "
            f"{result['patches']:,} | {run['seconds'] / 60:.1f} | {result['score']:.3f} | "
            f"{points} | {ms_ssim} |")


def table(results, command):
    lines = ["| run | batch | learning rate | steps | patches | minutes | score | "
             "PSNR @1/4/8/16 | MS-SSIM @1/4/8/16 |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [row(name, result) for name, result in results.items()]
    return "\n".join(lines) + learning_curves(results) + f"\n\n`{command}`\n"


def learning_curves(results):
    """The runs' own scorings on the device (``device_run.py --validation``), if any: step and
    score, the checkpoint's step marked with *."""
    lines = []
    for name, result in results.items():
        run = result.get("device_run", {})
        if run.get("validation"):
            points = ", ".join(f"{v['step']}{'*' if v['step'] == run['steps'] else ''}: "
                               f"{v['score']:.3f}" for v in run["validation"])
            lines.append(f"- {name}: {points}")
    if not lines:
        return ""
    return ("\n\nScored on the device as they trained (step: score; * the checkpoint kept, "
            "the best; the model's forward pass on the same crops):\n\n" + "\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outs", nargs="+", metavar="DEVICE_OUT")
    parser.add_argument("--out", required=True)
    parser.add_argument("--start", default=os.path.join(HERE, "default", "checkpoint.weights.h5"))
    parser.add_argument("--config", default=os.path.join(HERE, "default", "config.json"))
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "train"))
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--images", type=int, default=8)
    args = parser.parse_args(argv)
    runs = find_runs(args.outs)
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.training import validation

    _, crops = validation.validation_crops(args.data, args.crop, args.images)
    results = {"start": score_checkpoint(args.start, args.config, crops)}
    for name, folder in runs.items():
        results[name] = score_run(folder, args.config, crops)
        print(row(name, results[name]), flush=True)
    os.makedirs(args.out, exist_ok=True)
    for name, result in results.items():
        atomic_write_bytes(os.path.join(args.out, f"{name}.json"),
                           json.dumps(result, indent=1).encode("utf-8"))
    command = "python tools/training/device_arms.py " + " ".join(argv or sys.argv[1:])
    atomic_write_bytes(os.path.join(args.out, "arms.md"),
                       table(results, command).encode("utf-8"))
    print(table(results, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
