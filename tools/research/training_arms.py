#!/usr/bin/env python3
"""Training changes compared at equal CPU time, warm-started from one checkpoint.

    python tools/research/training_arms.py --checkpoint CKPT.weights.h5
        [--metadata training_metadata.json] [--config tools/training/default/config.json]
        [--data ../shared/data/train] [--cpu-minutes 6] [--learning-rate 3.125e-5]
        [--decay-rate 0.5]
        [--arms control,lr-quarter,lr-tenth,increasing] [--patch-size 64 --batch-size 8]
        [--runs ../runs/arms] [--out results/training/arms-epochN]

Every arm starts from the same checkpoint (weights, optimizer state and epoch of the default
run), changes one thing, and trains with ``tfrnncomp.training.train.train`` on
``--batch-size`` patches of ``--patch-size`` pixels per step (unless the arm changes them; the
default run takes one of 192 with its MS-SSIM loss) until the process has used ``--cpu-minutes`` of CPU time (all
threads, the input pipeline and graph tracing included), then codes the whole-image validation
crops of the training run (:mod:`tfrnncomp.training.validation`, never Kodak).  An arm of
another model than the checkpoint's starts from a conversion of it that codes as it does
(``WARM_STARTS``; residual-gru: :mod:`tfrnncomp.training.warm_start`, width-0.5:
:mod:`tfrnncomp.training.widen`), whose CPU time is not counted as the arm's.  Each arm runs in
its own process and writes OUT/ARM.json; OUT/arms.md is the table (OUT: by default
``results/training/arms-epochN``, N the epoch the checkpoint resumes at, where
``tools/research/arms_summary.py`` finds it).  An arm whose result exists
is skipped, so a rerun continues.  Compare arms of one invocation only: the CPU and the
checkpoint must be the same.  The learning rate decays exponentially with the optimizer's step,
which the checkpoint carries on, so the table gives each arm's effective rate at its start and end.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: arm -> (training settings, model config changes, what it tests); ``learning_rate_factor``
#: scales ``--learning-rate``
ARMS = {
    "control": ({}, {}, "the default run's settings"),
    "sign-binarizer": ({}, {"binarizer_training": "sign"},
                       "the binarizer trains on the bits inference emits (signs, "
                       "straight-through gradient) instead of stochastic bits"),
    "lr-quarter": ({"learning_rate_factor": 1 / 4}, {}, "learning rate / 4 (a step decay)"),
    "lr-tenth": ({"learning_rate_factor": 1 / 10}, {}, "learning rate / 10 (a step decay)"),
    "increasing": ({}, {"loss_weighting": "increasing"},
                   "loss weight t for iteration t (later iterations count more)"),
    "xla": ({"jit_compile": True}, {}, "XLA-compiled train step (compile time included)"),
    "bf16": ({"precision": "mixed_bfloat16"}, {}, "bf16 arithmetic, float32 variables"),
    "ssim-weighted-l1": ({}, {"loss": "ssim_weighted_l1"},
                         "L1 weighted per pixel by 1 - SSIM (Johnston et al. 2018)"),
    "l1-ssim": ({}, {"loss": "l1_ssim", "ssim_weight": 0.84},
                "0.16 L1 + 0.84 (1 - SSIM) (Zhao et al. 2017)"),
    "l1-ssim-low": ({}, {"loss": "l1_ssim", "ssim_weight": 0.3},
                    "0.7 L1 + 0.3 (1 - SSIM)"),
    "l1-ssim-low-lr-quarter": ({"learning_rate_factor": 1 / 4},
                               {"loss": "l1_ssim", "ssim_weight": 0.3},
                               "0.7 L1 + 0.3 (1 - SSIM) at learning rate / 4"),
    "lr-4x": ({"learning_rate_factor": 4}, {}, "learning rate x 4 (a warm restart)"),
    "lr-16x": ({"learning_rate_factor": 16}, {}, "learning rate x 16 (a warm restart)"),
    "lr-64x": ({"learning_rate_factor": 64}, {}, "learning rate x 64 (a warm restart)"),
    "unroll-4": ({}, {"train_iterations": 4},
                 "4 unrolled iterations per step instead of the run's (cheaper steps)"),
    "unroll-10": ({}, {"train_iterations": 10},
                  "10 unrolled iterations per step (the 0.125-1 bpp range) instead of the run's "
                  "16 (cheaper steps)"),
    "residual-gru": ({}, {"cell": "residual_gru", "decoder_cell": "residual_gru"},
                     "residual GRU cells, warm-started to code as the GRU checkpoint"),
    "patch-128": ({"patch_size": 128, "batch_size": 2}, {},
                  "128x128 patches, 2 per step (the same pixels per step): an 8x8 code grid, "
                  "not 4x4"),
    "patch-192": ({"patch_size": 192, "batch_size": 1}, {},
                  "one 192x192 patch per step (about the same pixels per step)"),
    "l1-ms-ssim-192": ({"patch_size": 192, "batch_size": 1},
                       {"loss": "l1_ms_ssim", "ssim_weight": 0.3},
                       "0.7 L1 + 0.3 (1 - MS-SSIM), one 192x192 patch per step"),
    "ms-ssim-0.6": ({"patch_size": 192, "batch_size": 1},
                    {"loss": "l1_ms_ssim", "ssim_weight": 0.6},
                    "0.4 L1 + 0.6 (1 - MS-SSIM), one 192x192 patch per step"),
    "ms-ssim-0.84": ({"patch_size": 192, "batch_size": 1},
                     {"loss": "l1_ms_ssim", "ssim_weight": 0.84},
                     "0.16 L1 + 0.84 (1 - MS-SSIM) (Zhao et al.'s mix), one 192x192 patch "
                     "per step"),
    "ms-ssim-0.95": ({}, {"loss": "l1_ms_ssim", "ssim_weight": 0.95},
                     "0.05 L1 + 0.95 (1 - MS-SSIM)"),
    "ms-ssim-1.0": ({}, {"loss": "l1_ms_ssim", "ssim_weight": 1.0},
                    "1 - MS-SSIM alone"),
    "width-0.5": ({}, {"width": 0.5},
                  "width 0.5, warm-started by copying units (Net2WiderNet) to code as the "
                  "checkpoint"),
}


def _residual_gru_start(config, checkpoint, destination):
    from tfrnncomp.training.warm_start import residual_gru_warm_start

    residual_gru_warm_start(config, checkpoint, destination)


def _wider_start(width):
    def start(config, checkpoint, destination):
        from tfrnncomp.training.widen import widen_checkpoint

        widen_checkpoint(config, checkpoint, destination, width)
    return start


#: arm -> function(model config of the checkpoint, checkpoint, destination) that writes the arm's
#: starting checkpoint into the destination, for an arm whose model differs from the checkpoint's
#: (default: a copy).  Its CPU time is not counted as the arm's.
WARM_STARTS = {"residual-gru": _residual_gru_start, "width-0.5": _wider_start(0.5)}


def _stop_after_cpu(seconds):
    import keras

    class StopAfterCPU(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if time.process_time() >= seconds:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            self.final_model = self.model

    return StopAfterCPU()


def run_arm(args):
    """Train one arm in this process and measure it; returns the result dict."""
    from tfrnncomp.training import validation
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.train import TrainingConfig, train

    training_changes, config_changes, _ = ARMS[args.arm]
    run_dir = os.path.join(args.runs, args.arm)
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(os.path.join(run_dir, "backup"))
    config = load_config(args.config)
    warm_start_cpu = time.process_time()
    WARM_STARTS.get(args.arm, lambda _, source, destination: shutil.copy(source, destination))(
        config, args.checkpoint, os.path.join(run_dir, "backup", "latest.weights.h5"))
    warm_start_cpu = time.process_time() - warm_start_cpu
    shutil.copy(args.metadata, os.path.join(run_dir, "backup", "training_metadata.json"))
    with open(args.metadata, encoding="utf-8") as handle:
        start_epoch = json.load(handle)["epoch"]
    config = config.replace(**config_changes)
    settings = dict(data=args.data, patch_size=args.patch_size, batch_size=args.batch_size,
                    steps_per_epoch=50,
                    epochs=start_epoch + 10000, learning_rate=args.learning_rate,
                    decay_steps=20000, decay_rate=args.decay_rate, validation_steps=0,
                    validation_images=0, seed=1)
    settings.update(training_changes)
    settings["learning_rate"] *= settings.pop("learning_rate_factor", 1.0)
    stopper = _stop_after_cpu(args.cpu_minutes * 60 + warm_start_cpu)
    training = TrainingConfig(**settings)
    train(config, training, run_dir, verbose=0, extra_callbacks=[stopper])
    cpu = time.process_time() - warm_start_cpu
    optimizer = stopper.final_model.optimizer
    end_rate = float(optimizer.learning_rate)
    start_rate = end_rate / training.decay_rate ** (stopper.steps / training.decay_steps)
    _, crops = validation.validation_crops(args.data, 256, 8)
    measure = validation.WholeImageValidation(crops, os.devnull)
    measure.set_model(stopper.final_model)
    curve = validation.iteration_curve(measure._codec_functions(), crops, 16)
    return {"arm": args.arm, "what": ARMS[args.arm][2], "training": training_changes,
            "learning_rate": settings["learning_rate"],
            "effective_learning_rate": [start_rate, end_rate],
            "config": config_changes, "steps": stopper.steps, "cpu_minutes": round(cpu / 60, 2),
            "score": validation.score(curve),
            **{f"{f}_{k}": curve[f][k - 1] for f in ("psnr", "ms_ssim")
               for k in validation.LOGGED_ITERATIONS}}


def table(results):
    lines = ["| arm | what | rate at start / end | steps | CPU min | score | PSNR @1/4/8/16 "
             "| MS-SSIM @1/4/8/16 |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        rates = r.get("effective_learning_rate")
        rates = " / ".join(f"{v:.2e}" for v in rates) if rates else "-"
        lines.append(
            f"| {r['arm']} | {r['what']} | {rates} | {r['steps']} | {r['cpu_minutes']:.1f} | "
            f"{r['score']:.3f} | " + " / ".join(f"{r[f'psnr_{k}']:.2f}" for k in (1, 4, 8, 16))
            + " | " + " / ".join(f"{r[f'ms_ssim_{k}']:.4f}" for k in (1, 4, 8, 16)) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--metadata", default=None,
                        help="its training_metadata.json (default: beside the checkpoint)")
    parser.add_argument("--config", default=os.path.join(REPO, "tools", "training", "default",
                                                         "config.json"))
    parser.add_argument("--data", default=os.path.join(REPO, "..", "shared", "data", "train"))
    parser.add_argument("--cpu-minutes", type=float, default=6.0)
    parser.add_argument("--learning-rate", type=float, default=3.125e-5,
                        help="the control's learning rate (default: the default run's until "
                        "epoch 983, as the arms quoted in README ran; from epoch 984 it runs "
                        "at 4e-6 with --decay-rate 1)")
    parser.add_argument("--decay-rate", type=float, default=0.5,
                        help="its factor every 20,000 optimizer steps (1: constant)")
    parser.add_argument("--arms", default="control,lr-quarter,lr-tenth,increasing")
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--runs", default=os.path.join(REPO, "..", "runs", "arms"))
    parser.add_argument("--out", default=None,
                        help="default: results/training/arms-epochN, N the checkpoint's epoch")
    parser.add_argument("--arm", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.metadata = args.metadata or os.path.join(os.path.dirname(args.checkpoint),
                                                  "training_metadata.json")
    return args


def arm_result(args, arm):
    """One arm's result: from ``--out`` when it ran before, else run now in its own process
    (a fresh TensorFlow, so the arms share nothing) and written there."""
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.eval import schema

    if arm not in ARMS:
        raise SystemExit(f"training_arms: unknown arm {arm!r}; use {sorted(ARMS)}")
    path = os.path.join(args.out, f"{arm}.json")
    if not os.path.exists(path):
        command = [sys.executable, os.path.abspath(__file__), "--arm", arm,
                   "--checkpoint", args.checkpoint, "--metadata", args.metadata,
                   "--config", args.config, "--data", args.data,
                   "--cpu-minutes", str(args.cpu_minutes), "--runs", args.runs,
                   "--learning-rate", repr(args.learning_rate),
                   "--decay-rate", repr(args.decay_rate),
                   "--patch-size", str(args.patch_size), "--batch-size", str(args.batch_size)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"training_arms: arm {arm} failed: "
                             + (done.stderr.strip().splitlines() or ["?"])[-1])
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["environment"] = schema.environment()
        atomic_write_bytes(path, json.dumps(result, indent=1).encode())
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main(argv=None):
    args = parse_args(argv)
    if args.arm:
        print(json.dumps(run_arm(args)))
        return 0
    if not os.path.isdir(args.data):
        print(f"training_arms: training images {args.data} not found; skipped")
        return 0
    if args.out is None:
        with open(args.metadata, encoding="utf-8") as handle:
            args.out = os.path.join("results", "training", f"arms-epoch{json.load(handle)['epoch']}")
    from tfrnncomp.atomic import atomic_write_bytes

    os.makedirs(args.out, exist_ok=True)
    results = []
    for arm in args.arms.split(","):
        results.append(arm_result(args, arm))
        print(json.dumps({k: results[-1][k] for k in ("arm", "steps", "cpu_minutes", "score")}))
    command = "python tools/research/training_arms.py " + " ".join(argv or sys.argv[1:])
    atomic_write_bytes(os.path.join(args.out, "arms.md"),
                       f"{table(results)}\n\n`{command}`\n".encode())
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
