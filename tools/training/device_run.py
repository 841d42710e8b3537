#!/usr/bin/env python3
"""Train the model on an accelerator for a few minutes with Keras on JAX (no TensorFlow needed).

    KERAS_BACKEND=jax python tools/training/device_run.py --data .device/photos --out "$OUT"
        [--config tools/training/default/config.json] [--weights tools/training/default/checkpoint.weights.h5]
        [--epoch 170] [--minutes 8] [--steps N] [--batch-size 256] [--patch-size 192]
        [--learning-rate 3.125e-5] [--decay-steps 20000] [--save-every 120] [--seed 1]
        [--train-loop auto|scan|unrolled] [--validation .device/validation] [--probe]
        [--score-only]

It resumes from ``--weights`` (the committed checkpoint: weights and Adam's state), trains on
random crops of ``--data`` (:class:`tfrnncomp.training.patches.PatchBatches`, every image of the folder:
make it of training-split photos only, as ``device_prep.py`` does) until ``--minutes`` or
``--steps`` are spent, and writes into ``--out`` at least every ``--save-every`` seconds and at
the end:

* ``model.weights.h5`` and ``optimizer.weights.h5``: the checkpoint in two parts of under
  16 MiB each; ``checkpoint_parts.py join`` makes them one file with the committed
  checkpoint's layout, which the TensorFlow run resumes from;
* ``training_metadata.json``: BackupAndRestore's ``{"epoch": E, "batch": 0}``, ``E`` being
  ``--epoch`` plus the whole epochs of ``--steps-per-epoch`` steps trained here;
* ``device_run.json``: the checkpoint's steps (``steps``; ``steps_run``: all the run's),
  seconds, steps per second (the first step, which compiles, and the scorings left out), the
  loss of the first and last steps, the settings, and with ``--validation`` every scoring and
  ``beat_start`` (whether any beat the start's score);
* ``probe.npz`` with ``--probe``: a fixed image's codes and reconstructions (deterministic
  inference) with the checkpoint's weights, to compare with them under TensorFlow.

With ``--validation DIR`` (the CPU run's whole-image validation crops, from ``device_prep.py``)
the run is scored at its start, every ``--save-every`` seconds and at its end through the
model's own forward pass (:func:`tfrnncomp.training.validation.model_curve`, the codec's steps
and rounding, the codec itself being TensorFlow's), and the checkpoint is saved only when the
score beats the run's earlier ones: a long run keeps its best point, and the scorings are its
learning curve.
"""

import argparse
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO, HERE]


def save_checkpoint(model, out, epoch):
    """The checkpoint's two parts and BackupAndRestore's metadata, each written atomically."""
    import checkpoint_parts
    from tfrnncomp.training import checkpoint_epoch

    whole = os.path.join(out, "checkpoint.weights.h5")
    model.save_weights(whole)
    checkpoint_parts.split(whole, os.path.join(out, "model.weights.h5"),
                           os.path.join(out, "optimizer.weights.h5"))
    os.remove(whole)
    checkpoint_epoch.write_epoch(out, epoch)


def _write_json(path, value):
    from tfrnncomp.atomic import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(value, indent=2).encode("utf-8"))


def checkpoint_callback(args, validate=None):
    """A Keras callback that saves every ``--save-every`` seconds, times the steps and stops the
    run after ``--minutes`` or ``--steps`` (:class:`CheckpointSchedule` on Keras' callback)."""
    import keras

    class Callback(CheckpointSchedule, keras.callbacks.Callback):
        pass

    return Callback(args, validate)


class CheckpointSchedule:
    """The callback's behaviour, kept free of Keras so that this module imports without it.

    With ``validate`` (the model -> ``(score, curve)``) it scores the model instead at the
    checkpoint times and at the end, and saves only when the score beats every earlier one of
    the run, so that the checkpoint it leaves is the run's best.
    """

    def __init__(self, args, validate=None):
        super().__init__()
        self.args, self.scorer = args, validate
        self.start = self.saved = self.first_done = self.last = time.perf_counter()
        self.steps, self.losses, self.validations = 0, [], []
        self.saved_step, self.checked_step, self.best, self.pauses = None, None, -math.inf, 0.0
        self.probe = None

    def on_train_batch_end(self, batch, logs=None):
        args, now = self.args, time.perf_counter()
        self.steps, self.last = self.steps + 1, now
        self.losses.append(float(logs["loss"]) if logs and "loss" in logs else None)
        if self.steps == 1:
            self.first_done = now
            print(f"first step (compiles) {now - self.start:.1f} s", flush=True)
        if now - self.saved >= args.save_every:
            self.checkpoint()
        if (args.steps and self.steps >= args.steps) or now - self.start >= args.minutes * 60:
            self.model.stop_training = True

    def checkpoint(self):
        """Save the checkpoint now (with ``validate``: score, and save only a new best)."""
        if self.checked_step == self.steps:
            return
        args, paused = self.args, time.perf_counter()
        self.checked_step = self.steps
        try:
            if self.scorer is not None:
                value = self.validate()
                if value <= self.best:
                    return
                self.best = value
            save_checkpoint(self.model, args.out, args.epoch + self.steps // args.steps_per_epoch)
            if args.probe:
                self.probe = probe(self.model)
            self.saved_step = self.steps
            print(f"saved at step {self.steps}", flush=True)
        finally:
            self.saved = time.perf_counter()
            self.pauses += self.saved - paused

    def validate(self):
        """Score the model now; the row goes to the summary's ``validation``."""
        began = time.perf_counter()
        value, curve = self.scorer(self.model)
        self.validations.append(validation_row(self.steps, began - self.start, value, curve))
        print(f"step {self.steps}: validation score {value:.4f} "
              f"({time.perf_counter() - began:.1f} s)", flush=True)
        return value

    def summary(self):
        timed = self.last - self.first_done - self.pauses
        steps = self.steps if self.saved_step is None else self.saved_step
        return {"steps": steps, "steps_run": self.steps,
                "seconds": round(time.perf_counter() - self.start, 2),
                "steps_per_second": (self.steps - 1) / timed if timed > 0 else None,
                "first_loss": self.losses[0] if self.losses else None,
                "last_loss": self.losses[-1] if self.losses else None,
                **({"validation": self.validations,
                    "beat_start": self.beat_start()} if self.scorer is not None else {})}

    def beat_start(self):
        """Whether a later scoring beat the run's start (else the checkpoint kept is worse
        than the one it resumed from)."""
        scores = [row["score"] for row in self.validations]
        return len(scores) > 1 and max(scores[1:]) > scores[0]


def validation_row(step, seconds, value, curve):
    """One scoring of the run: step, seconds since its start, score, PSNR and MS-SSIM at the
    logged iterations."""
    from tfrnncomp.training.validation import LOGGED_ITERATIONS

    logged = [k for k in LOGGED_ITERATIONS if k <= len(curve["psnr"])]
    return {"step": step, "seconds": round(seconds, 1), "score": round(value, 4),
            "iterations": logged,
            "psnr": [round(curve["psnr"][k - 1], 4) for k in logged],
            "ms_ssim": [round(curve["ms_ssim"][k - 1], 5) for k in logged]}


def validation_scorer(folder):
    """The model -> ``(score, curve)`` on the crops in ``folder`` (``device_prep.py``'s
    ``validation/``), from the model's own forward pass (:func:`validation.model_curve`)."""
    import numpy as np
    from PIL import Image

    from tfrnncomp.training import validation

    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".png"))
    if not names:
        raise SystemExit(f"device_run: no .png validation crops in {folder}")
    crops = [np.asarray(Image.open(os.path.join(folder, n)).convert("RGB")) for n in names]

    def scorer(model):
        curve = validation.model_curve(model, crops)
        return validation.score(curve), curve

    return scorer


def probe(model, iterations=4, size=64):
    """Codes ``[T, 1, h, w, bits]`` and reconstructions ``[T, 1, H, W, 3]`` of a fixed smooth
    image, in inference mode, from the model's own steps."""
    import numpy as np
    from keras import ops

    y, x = np.mgrid[0:size, 0:size] / size
    image = np.stack([np.sin(6 * x + 2 * y), np.cos(5 * y - x), x * y - 0.5], -1) * 0.4
    image = ops.convert_to_tensor(image[None].astype("float32"))
    enc_states, reconstruction = model.initial_encoder_state(image), ops.zeros_like(image)
    gain, dec_states, codes, outputs = model.initial_gain(image), None, [], []
    for _ in range(iterations):
        bits, enc_states = model.encoder_step(
            model.encoder_input(image, reconstruction, gain), enc_states)
        dec_states = dec_states or model.initial_decoder_state(bits)
        output, dec_states = model.decoder_step(bits, dec_states)
        reconstruction, gain = model.reconstruct(output, reconstruction, gain)
        codes.append(ops.convert_to_numpy(bits))
        outputs.append(ops.convert_to_numpy(reconstruction))
    return {"image": ops.convert_to_numpy(image), "codes": np.stack(codes),
            "reconstructions": np.stack(outputs)}


def train(args):
    import keras
    import numpy as np

    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.patches import PatchBatches
    from tfrnncomp.training.setup import TrainingConfig, build_model, check_patches

    keras.utils.set_random_seed(args.seed)
    training = TrainingConfig(batch_size=args.batch_size, patch_size=args.patch_size,
                              learning_rate=args.learning_rate, decay_steps=args.decay_steps,
                              seed=args.seed)
    config = load_config(args.config)
    check_patches(config, training)
    model = build_model(config, training)
    if args.weights:
        model.load_weights(args.weights)
    model.train_loop = args.train_loop
    if args.score_only:
        value, curve = validation_scorer(args.validation)(model)
        row = validation_row(0, 0.0, value, curve)
        print(json.dumps({k: row[k] for k in ("score", "iterations", "psnr", "ms_ssim")}))
        return row
    batches = PatchBatches(args.data, patch_size=args.patch_size, batch_size=args.batch_size,
                           patches_per_image=args.patches_per_image, seed=args.seed,
                           split="all", cache_images=True, workers=args.workers,
                           max_queue_size=16)
    os.makedirs(args.out, exist_ok=True)
    validate = validation_scorer(args.validation) if args.validation else None
    callback = checkpoint_callback(args, validate)
    start_step = int(np.asarray(model.optimizer.iterations))
    if validate is not None:
        callback.set_model(model)
        callback.validate()
    model.fit(batches, epochs=10**6, steps_per_epoch=args.steps_per_epoch, callbacks=[callback],
              shuffle=False, verbose=0)
    callback.checkpoint()
    summary = callback.summary()
    summary.update(backend=keras.backend.backend(), device=str(_device()),
                   optimizer_step=start_step + summary["steps"],
                   settings=portable_settings(args))
    _write_json(os.path.join(args.out, "device_run.json"), summary)
    if args.probe:
        np.savez(os.path.join(args.out, "probe.npz"), **callback.probe)
    print(json.dumps(summary), flush=True)
    return summary


def portable_settings(args):
    """The run's options, paths inside the repository written relative to it (no machine paths)."""
    def portable(value):
        if isinstance(value, str) and os.path.isabs(value) and value.startswith(REPO + os.sep):
            return os.path.relpath(value, REPO)
        return value

    return {k: portable(v) for k, v in vars(args).items() if k != "out"}


def _device():
    try:
        import jax

        return jax.devices()[0]
    except ImportError:
        return "unknown"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.path.join(HERE, "default")
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default=os.environ.get("OUT", "device-out"))
    parser.add_argument("--config", default=os.path.join(default, "config.json"))
    parser.add_argument("--weights", default=os.path.join(default, "checkpoint.weights.h5"),
                        help="checkpoint to resume from ('' for fresh weights)")
    parser.add_argument("--epoch", type=int, default=None,
                        help="epochs the checkpoint has done (default: its training_metadata.json)")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--patch-size", type=int, default=None,
                        help="default: the CPU run's 192 for a loss with MS-SSIM, else 64")
    parser.add_argument("--patches-per-image", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3.125e-5)
    parser.add_argument("--decay-steps", type=int, default=20000)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--save-every", type=float, default=120.0,
                        help="seconds (with --validation: between scorings)")
    parser.add_argument("--validation", default="",
                        help="folder of validation crops (device_prep.py's validation/): score "
                             "the run at the start, every --save-every seconds and at the end, "
                             "and keep its best checkpoint")
    parser.add_argument("--train-loop", choices=("auto", "scan", "unrolled"), default="auto",
                        help="the iterations as one scan (compiles fast) or unrolled (auto: "
                             "the scan on a GPU)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--probe", action="store_true")
    parser.add_argument("--score-only", action="store_true",
                        help="print the --weights checkpoint's --validation score, train nothing")
    args = parser.parse_args(argv)
    if args.score_only and not args.validation:
        parser.error("--score-only needs --validation")
    if args.epoch is None:
        from tfrnncomp.training import checkpoint_epoch

        args.epoch = checkpoint_epoch.read_epoch(os.path.dirname(args.weights or "")) or 0
    if args.patch_size is None:
        args.patch_size = default_patch_size(args.config)
    return args


def default_patch_size(config_path):
    """64 pixels where the config's loss allows them; else 192, the default CPU run's patches
    (the five scales of MS-SSIM need at least 176)."""
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.setup import min_patch_size

    return 64 if min_patch_size(load_config(config_path)) <= 64 else 192


def main(argv=None):
    train(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
