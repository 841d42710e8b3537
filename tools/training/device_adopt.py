#!/usr/bin/env python3
"""Continue a training run from an accelerator run's checkpoint.

    python tools/training/device_adopt.py DEVICE_RUN [--run ../runs/default]

DEVICE_RUN is one run that ``device_run.sh`` brought back (its ``model.weights.h5``,
``optimizer.weights.h5``, ``training_metadata.json`` and ``device_run.json``; with ``--arms``,
the chosen arm's folder).  Stop the run first.  The parts are joined into the run's
``backup/latest.weights.h5`` (weights and optimizer state, replaced atomically), its
``backup/training_metadata.json`` takes the device run's epoch, the weight average of the
replaced weights (``backup/average.npz``) is removed so that it starts afresh from the new
ones, and ``phases.log`` records the switch (the epoch the run had reached, the device run's
steps, batch and learning rate).  ``tools/training/run_default.sh`` then resumes from it.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO, HERE]

PARTS = ("model.weights.h5", "optimizer.weights.h5", "training_metadata.json", "device_run.json")


def _read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def phase_record(run_epoch, device):
    """The ``phases.log`` line of a switch from the run at ``run_epoch`` to a device run."""
    settings = device["summary"]["settings"]
    return {"from": {"epoch": run_epoch},
            "to": {"epoch": device["epoch"], "device_run": {
                "resumed_epoch": settings["epoch"], "steps": device["summary"]["steps"],
                "batch_size": settings["batch_size"], "patch_size": settings["patch_size"],
                "learning_rate": settings["learning_rate"],
                "decay_steps": settings["decay_steps"],
                "optimizer_step": device["summary"]["optimizer_step"],
                "device": device["summary"].get("device")}}}


def adopt(device_run, run_dir):
    """Make ``run_dir`` resume from ``device_run``; returns the ``phases.log`` record."""
    import checkpoint_parts
    from tfrnncomp.training import checkpoint_epoch

    missing = [p for p in PARTS if not os.path.isfile(os.path.join(device_run, p))]
    if missing:
        raise SystemExit(f"device_adopt: {device_run} lacks {', '.join(missing)}")
    backup = os.path.join(run_dir, "backup")
    run_epoch = checkpoint_epoch.read_epoch(backup)
    if run_epoch is None:
        raise SystemExit(f"device_adopt: {run_dir} is not a training run: no readable "
                         f"{os.path.join(backup, checkpoint_epoch.FILENAME)}")
    device = {"epoch": checkpoint_epoch.read_epoch(device_run),
              "summary": _read_json(os.path.join(device_run, "device_run.json"))}
    if device["epoch"] is None:
        raise SystemExit(f"device_adopt: {device_run}'s {checkpoint_epoch.FILENAME} is unreadable")
    record = phase_record(run_epoch, device)
    checkpoint_parts.join(os.path.join(device_run, "model.weights.h5"),
                          os.path.join(device_run, "optimizer.weights.h5"),
                          os.path.join(backup, "latest.weights.h5"))
    checkpoint_epoch.write_epoch(backup, device["epoch"])
    average = os.path.join(backup, "average.npz")
    if os.path.exists(average):
        os.remove(average)
    with open(os.path.join(run_dir, "phases.log"), "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("device_run", metavar="DEVICE_RUN")
    parser.add_argument("--run", default=os.path.join(REPO, "..", "runs", "default"))
    args = parser.parse_args(argv)
    record = adopt(args.device_run, args.run)
    print(f"{args.run} resumes at epoch {record['to']['epoch']} from {args.device_run} "
          f"(it was at epoch {record['from']['epoch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
