#!/usr/bin/env python3
"""Write a run's moving average of the weights, as it stands, as a weights file.

    python tools/training/export_average.py [RUN_DIR] --out AVERAGE.weights.h5

A run trained with ``--average-momentum`` keeps the average in ``RUN_DIR/backup/average.npz``
beside its last checkpoint ``RUN_DIR/backup/latest.weights.h5`` (both written at every epoch
end) and scores it in ``validation-average.csv``; it writes ``best-average.weights.h5`` only
when the average beats its best score.  This writes the average after the last epoch (the one
before the epoch ``backup/training_metadata.json`` resumes at) in the checkpoint's layout, the checkpoint's other weights
and optimizer state kept, so ``refresh_model.sh AVERAGE.weights.h5 EPOCH`` (with ``AVERAGE=1``)
can ship it and ``tools/research/iteration_table.py --weights`` can score it.  RUN_DIR defaults
to ``../runs/default``; its ``config.json`` is the model's config.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?", default="../runs/default")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    backup = os.path.join(args.run_dir, "backup")
    checkpoint = os.path.join(backup, "latest.weights.h5")
    for path in (os.path.join(args.run_dir, "config.json"), checkpoint):
        if not os.path.isfile(path):
            raise SystemExit(f"export_average: {path}: no such file")
    if os.path.abspath(args.out) == os.path.abspath(checkpoint):
        raise SystemExit(f"export_average: {args.out} is the run's checkpoint; write elsewhere")
    from tfrnncomp.atomic import atomic_path
    from tfrnncomp.errors import TfrnncompError
    from tfrnncomp.model.config import load_config
    from tfrnncomp.training.averaging import assign_average
    from tfrnncomp.training.run_dir import finished_epoch
    from tfrnncomp.training.train import TrainingConfig, build_model

    model = build_model(load_config(os.path.join(args.run_dir, "config.json")), TrainingConfig())
    model.load_weights(checkpoint)
    try:
        updates = assign_average(model, os.path.join(backup, "average.npz"))
    except TfrnncompError as error:
        raise SystemExit(f"export_average: {error}") from None
    with atomic_path(args.out, suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    finished = finished_epoch(args.run_dir)
    after = (f"after epoch {finished - 1} (its line in validation-average.csv where "
             "that epoch was validated)" if finished
             else "(the run's backup records no finished epoch)")
    print(f"export_average: {args.out}: the average of {updates} samples {after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
