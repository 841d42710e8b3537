#!/usr/bin/env python3
"""Split a Keras ``.weights.h5`` checkpoint into model and optimizer parts, and join them again.

    python tools/training/checkpoint_parts.py split CHECKPOINT.weights.h5 MODEL.weights.h5 OPTIMIZER.weights.h5
    python tools/training/checkpoint_parts.py join MODEL.weights.h5 OPTIMIZER.weights.h5 CHECKPOINT.weights.h5

A training checkpoint (``model.save_weights`` of a compiled model, e.g. a run's
``backup/latest.weights.h5``) holds the model's variables and, under ``optimizer/``, Adam's step
and moments: about three times the model.  Split, each part stays under a size limit that the
whole would pass (an accelerator run brings back files of at most 16 MiB); joined, the file has
the layout of the original, group for group and dataset for dataset, and loads with
``model.load_weights``.  The model part alone also loads into an uncompiled model.
"""

import argparse
import os
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

OPTIMIZER = "optimizer"


def _copy(source, target, keep):
    """Copy the file attributes and the top-level groups of ``source`` for which ``keep(name)``."""
    for key, value in source.attrs.items():
        target.attrs[key] = value
    for name in source:
        if keep(name):
            source.copy(source[name], target, name=name)


def _write(path, fill):
    from tfrnncomp.atomic import atomic_path

    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as target:
        fill(target)


def split(checkpoint, model_path, optimizer_path):
    """Write the model's groups to ``model_path`` and ``optimizer/`` to ``optimizer_path``."""
    with h5py.File(checkpoint, "r") as source:
        if OPTIMIZER not in source:
            raise SystemExit(f"{checkpoint} holds no optimizer state")
        _write(model_path, lambda target: _copy(source, target, lambda n: n != OPTIMIZER))
        _write(optimizer_path, lambda target: _copy(source, target, lambda n: n == OPTIMIZER))


def join(model_path, optimizer_path, checkpoint):
    """One checkpoint of the two parts (the inverse of :func:`split`)."""
    with h5py.File(model_path, "r") as model, h5py.File(optimizer_path, "r") as optimizer:
        if OPTIMIZER not in optimizer or OPTIMIZER in model:
            raise SystemExit(f"expected the model part first ({model_path}) and then the "
                             f"optimizer part ({optimizer_path})")

        def fill(target):
            _copy(model, target, lambda n: True)
            _copy(optimizer, target, lambda n: n == OPTIMIZER)

        _write(checkpoint, fill)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, paths in (("split", ("checkpoint", "model", "optimizer")),
                        ("join", ("model", "optimizer", "checkpoint"))):
        command = sub.add_parser(name)
        for path in paths:
            command.add_argument(path)
    args = parser.parse_args(argv)
    if args.command == "split":
        split(args.checkpoint, args.model, args.optimizer)
    else:
        join(args.model, args.optimizer, args.checkpoint)
    return 0


if __name__ == "__main__":
    sys.exit(main())
