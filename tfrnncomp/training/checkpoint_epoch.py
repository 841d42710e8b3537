"""The epochs a training checkpoint has finished, as ``training_metadata.json`` records them.

Keras's ``BackupAndRestore`` keeps that file beside its weights (``{"epoch": E, "batch": 0}`` at
an epoch's end, ``E`` being the epochs done) and resumes ``fit`` from it; checkpoints made outside
``fit`` (an accelerator run, a run adopting one) write it in the same form.  Plain Python with
no TensorFlow, so the accelerator machine reads and writes it too.
"""

import json
import os

from tfrnncomp.atomic import atomic_write_bytes

FILENAME = "training_metadata.json"


def read_epoch(folder):
    """The epochs recorded in ``folder``'s metadata; None where it is missing or unreadable."""
    try:
        with open(os.path.join(folder, FILENAME), encoding="utf-8") as handle:
            return int(json.load(handle)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_epoch(folder, epoch):
    """Record, atomically, that the checkpoint in ``folder`` has finished ``epoch`` epochs."""
    record = json.dumps({"epoch": int(epoch), "batch": 0}).encode("utf-8")
    atomic_write_bytes(os.path.join(folder, FILENAME), record)
