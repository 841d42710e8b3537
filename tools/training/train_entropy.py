"""Train the BinaryRNN entropy model (Toderici et al. 2017, Section 3) on dumped codes.

    python tools/training/dump_codes.py --split train --crop 256 --out codes-train.tfrecord
    python tools/training/dump_codes.py --split validation --crop 256 --crops 2 \\
        --out codes-val.tfrecord
    python tools/training/train_entropy.py --train codes-train.tfrecord \\
        --validation codes-val.tfrecord --out runs/binaryrnn --minutes 25

Writes ``<out>/float.weights.h5`` (best validation loss), ``<out>/config.json`` and
``<out>/log.csv`` (loss in bits per coded bit).  Export the integer model for coding with
``tools/training/export_binaryrnn.py``.  ``--init RUN`` continues an earlier run (its config,
best weights and log; the new log carries on from its last pass, and a pass is kept only when it
beats the earlier run's best).  ``--init RUN --depth-groups N`` continues it with its bits
coded in N depth groups, the new layer starting at zero (so at the run's best loss)::

    python tools/training/train_entropy.py --init runs/binaryrnn --train ... \
        --validation ... --out runs/binaryrnn-more --learning-rate 6e-4 --minutes 60

A shipped integer net (its float weights not kept) continues from the run that
``tools/training/dequantize_binaryrnn.py`` makes of it.
"""

import argparse
import csv
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


class TimeBudget:
    """Stop training after ``minutes``; lower the learning rate after ``decay_at`` of it."""

    def __init__(self, minutes, decay_at=0.6, factor=0.3):
        import keras

        class Callback(keras.callbacks.Callback):
            def __init__(inner):
                super().__init__()
                inner.start = time.monotonic()
                inner.decayed = False

            def on_train_batch_end(inner, batch, logs=None):
                elapsed = (time.monotonic() - inner.start) / 60.0
                if not inner.decayed and elapsed > decay_at * minutes:
                    rate = inner.model.optimizer.learning_rate
                    rate.assign(rate * factor)
                    inner.decayed = True
                if elapsed > minutes:
                    inner.model.stop_training = True

        self.callback = Callback()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="code TFRecords (train split)")
    parser.add_argument("--validation", nargs="+", required=True,
                        help="code TFRecords (validation split)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=25.0, help="wall-clock budget")
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--config", help="a BinaryRNN config JSON (channels, masked_rows, ...); "
                        "the defaults of BinaryRNNConfig where absent")
    parser.add_argument("--no-progressive", action="store_true",
                        help="the per-iteration model, without earlier iterations")
    parser.add_argument("--init", metavar="RUN",
                        help="continue the train_entropy run in RUN (its config.json, "
                             "float.weights.h5 and log.csv)")
    parser.add_argument("--depth-groups", type=int,
                        help="with --init: code each position's bits in this many depth groups "
                             "(the added layer starts at zero)")
    args = parser.parse_args(argv)
    problem = _argument_problem(args)
    if problem:
        print(f"train_entropy: {problem}", file=sys.stderr)
        return 2
    import keras

    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.entropy.training import binaryrnn

    config_path = os.path.join(args.init, "config.json") if args.init else args.config
    try:
        overrides = {"progressive": False} if args.no_progressive else {}
        if args.depth_groups:
            overrides["depth_groups"] = args.depth_groups
        config = binaryrnn.load_config(config_path, **overrides)
    except ValueError as error:   # ConfigError and malformed JSON
        print(f"train_entropy: {error}", file=sys.stderr)
        return 2
    model = binaryrnn.compile_model(binaryrnn.build_model(config), args.learning_rate)
    os.makedirs(args.out, exist_ok=True)
    passes, best = _continue_from(args.init, args.out, model) if args.init else (0, None)
    train = binaryrnn.training_dataset(args.train, args.batch_size)
    validation = binaryrnn.training_dataset(args.validation, args.batch_size, shuffle=0)
    atomic_write_bytes(os.path.join(args.out, "config.json"), (config.to_json() + "\n").encode())
    callbacks = [
        TimeBudget(args.minutes).callback,
        keras.callbacks.ModelCheckpoint(os.path.join(args.out, "float.weights.h5"),
                                        save_best_only=True, save_weights_only=True,
                                        initial_value_threshold=best),
        keras.callbacks.CSVLogger(os.path.join(args.out, "log.csv"), append=bool(args.init)),
    ]
    history = model.fit(train, validation_data=validation, initial_epoch=passes,
                        epochs=passes + args.epochs, callbacks=callbacks, verbose=2)
    best = min(history.history["val_loss"] + ([best] if best is not None else []))
    print(f"best validation loss: {best:.5f} bits per bit ({args.out})")
    return 0


def _argument_problem(args):
    """The one-line reason these arguments cannot run, or None."""
    if args.init and (args.config or args.no_progressive):
        return "--init takes the architecture of its run: leave out --config and --no-progressive"
    if args.depth_groups and not args.init:
        return "--depth-groups extends a run: give it with --init RUN"
    if args.init:
        for name in ("config.json", "float.weights.h5", "log.csv"):
            if not os.path.isfile(os.path.join(args.init, name)):
                return f"no {name} in {args.init}: not a train_entropy run"
    if args.config and not os.path.isfile(args.config):
        return f"no config file {args.config}"
    for path in args.train + args.validation:
        if not os.path.isfile(path):
            return f"no code file {path}; run tools/training/dump_codes.py"
    return None


def _continue_from(run, out, model):
    """Load ``run``'s best weights into ``model`` and carry its log into ``out``.

    Returns the number of passes the run made and its best validation loss."""
    from tfrnncomp.atomic import atomic_write_bytes

    with open(os.path.join(run, "log.csv"), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    from tfrnncomp.entropy.training import binaryrnn

    binaryrnn.warm_start(model, os.path.join(run, "float.weights.h5"),
                         binaryrnn.load_config(os.path.join(run, "config.json")))
    if os.path.abspath(run) != os.path.abspath(out):
        for name in ("float.weights.h5", "log.csv"):
            with open(os.path.join(run, name), "rb") as handle:
                atomic_write_bytes(os.path.join(out, name), handle.read())
    losses = [float(row["val_loss"]) for row in rows if row.get("val_loss")]
    return len(rows), (min(losses) if losses else None)


if __name__ == "__main__":
    sys.exit(main())
