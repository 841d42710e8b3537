#!/usr/bin/env python3
"""Seconds per training step on this CPU: TensorFlow (with/without XLA) and JAX, float32 and bf16.

    python tools/bench/bench_train_step.py [--config tools/training/default/config.json]
        [--weights CHECKPOINT.weights.h5] [--data ../shared/data/train]
        [--patch-size 64] [--batch-size 8] [--steps 20] [--warmup 3]
        [--variants tf,tf-xla,tf-bf16,tf-xla-bf16,jax,jax-bf16,jax-scan]
        [--out results/training/train_step.json]

Each variant runs in its own process (the Keras backend, XLA and the precision policy stay out of
each other's way): the model of ``--config`` (with ``--weights`` if given) trains ``--warmup`` +
``--steps`` steps of ``model.train_on_batch`` (``fit``'s own train step; compiled by XLA for the
``-xla`` and the JAX variants; ``jax-scan`` runs the iterations as one ``ops.scan``, as JAX does
on a GPU) on the same seeded batches (:class:`tfrnncomp.training.patches.PatchBatches`, the same NumPy
crops for every backend), and the tool reports the median seconds of the timed steps, the loss
of the first step (equal weights and batch: it shows whether a variant computes the same thing)
and the mean loss of the timed steps.  Run it with the CPU
otherwise idle (pause the training run: ``kill -STOP PID``, then ``kill -CONT PID``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: variant -> (Keras backend, jit_compile under TensorFlow, precision)
VARIANTS = {"tf": ("tensorflow", False, "float32"), "tf-xla": ("tensorflow", True, "float32"),
            "tf-bf16": ("tensorflow", False, "mixed_bfloat16"),
            "tf-xla-bf16": ("tensorflow", True, "mixed_bfloat16"),
            "jax": ("jax", True, "float32"), "jax-bf16": ("jax", True, "mixed_bfloat16"),
            "jax-scan": ("jax", True, "float32")}


def run_variant(args):
    """Time one variant in this process; returns its result dict."""
    backend, jit, precision = VARIANTS[args.variant]
    os.environ["KERAS_BACKEND"] = backend  # before Keras is imported
    import keras

    keras.utils.set_random_seed(1)
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.patches import PatchBatches
    from tfrnncomp.training.setup import TrainingConfig, build_model

    training = TrainingConfig(patch_size=args.patch_size, batch_size=args.batch_size,
                              jit_compile=jit, precision=precision)
    model = build_model(load_config(args.config), training)
    if args.variant.endswith("-scan"):  # on a CPU, JAX otherwise unrolls the iterations
        model.train_loop = "scan"
    if args.weights:
        model.load_weights(args.weights)
    batches = PatchBatches(args.data, patch_size=args.patch_size, batch_size=args.batch_size,
                           seed=7, split="train")
    seconds, losses = [], []
    for index in range(args.warmup + args.steps):
        batch = batches[index]
        start = time.perf_counter()
        logs = model.train_on_batch(batch, return_dict=True)
        loss = float(logs["loss"])
        seconds.append(time.perf_counter() - start)
        losses.append(loss)
    timed = seconds[args.warmup:]
    return {"variant": args.variant, "backend": backend,
            "jit_compile": jit or backend == "jax", "precision": precision,
            "median_s": statistics.median(timed), "min_s": min(timed), "max_s": max(timed),
            "first_step_s": seconds[0], "first_loss": losses[0],
            "mean_timed_loss": statistics.fmean(losses[args.warmup:])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=os.path.join(ROOT, "tools", "training", "default",
                                                         "config.json"))
    parser.add_argument("--weights", default=None)
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "train"))
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--variant", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default="results/training/train_step.json")
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args)))
        return 0
    if not os.path.isdir(args.data):
        print(f"bench_train_step: training images {args.data} not found; skipped")
        return 0
    rows = []
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            raise SystemExit(f"bench_train_step: unknown variant {variant!r}; use {list(VARIANTS)}")
        command = [sys.executable, os.path.abspath(__file__), "--variant", variant,
                   "--config", args.config, "--data", args.data,
                   "--patch-size", str(args.patch_size), "--batch-size", str(args.batch_size),
                   "--steps", str(args.steps), "--warmup", str(args.warmup)]
        command += ["--weights", args.weights] if args.weights else []
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            rows.append({"variant": variant, "error": tail[:300]})
        else:
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]))
    from tfrnncomp.eval import schema
    from tfrnncomp.atomic import atomic_write_bytes

    base = next((r["median_s"] for r in rows if r.get("variant") == "tf" and "median_s" in r), None)
    for row in rows:
        if base and "median_s" in row:
            row["speedup_vs_tf"] = round(base / row["median_s"], 3)
    result = {"rows": rows, "patch_size": args.patch_size, "batch_size": args.batch_size,
              "steps": args.steps, "warmup": args.warmup, "config": os.path.relpath(args.config),
              "weights": os.path.relpath(args.weights) if args.weights else None,
              "environment": schema.environment(),
              "command": "python tools/bench/bench_train_step.py " + " ".join(argv or sys.argv[1:])}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    atomic_write_bytes(args.out, json.dumps(result, indent=1).encode())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
