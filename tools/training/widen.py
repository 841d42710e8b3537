#!/usr/bin/env python3
"""Widen a training run in place (Net2WiderNet), so it resumes as a wider model.

    python tools/training/widen.py RUN_DIR --width 0.5 [--name gru-w50] [--noise 0.01]
    python tools/training/widen.py --checkpoint C.weights.h5 --config C.json --width 0.5
        --out WIDE.weights.h5 [--noise 0]

The run's latest checkpoint is replaced by the wider model's, which codes as the narrower one
did (up to the symmetry-breaking ``--noise``; :mod:`tfrnncomp.training.widen`), its
``config.json`` by the wider config, and ``phases.log`` records the change.  Resume the run with
the wider config (``tfrnncomp train --config RUN_DIR/config.json --out RUN_DIR ...``).  Stop the
run first: the checkpoint must not change under the tool.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("--checkpoint", help="widen this checkpoint into --out instead of a run")
    parser.add_argument("--config", help="the checkpoint's model config")
    parser.add_argument("--out")
    parser.add_argument("--width", type=float, required=True)
    parser.add_argument("--name", default=None, help="the wider model's name (default: kept)")
    parser.add_argument("--noise", type=float, default=0.01,
                        help="perturbation of the copies, times each kernel's std (0: exact)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from tfrnncomp.errors import ConfigError
    from tfrnncomp.training.widen import widen_checkpoint, widen_run

    if (args.run_dir is None) == (args.checkpoint is None) or (
            args.checkpoint and not (args.config and args.out)):
        parser.error("give a RUN_DIR, or --checkpoint with --config and --out")
    try:
        if args.run_dir:
            wide = widen_run(args.run_dir, args.width, args.name, args.noise, args.seed)
        else:
            if os.path.exists(args.out) and os.path.samefile(args.out, args.checkpoint):
                raise ConfigError(f"--out {args.out} is the input checkpoint")
            wide = widen_checkpoint(args.config, args.checkpoint, args.out, args.width,
                                    args.noise, args.seed)
    except (ConfigError, OSError) as error:
        print(f"widen: {error}", file=sys.stderr)
        return 2
    print(f"widened {args.run_dir or args.checkpoint} to width {wide.width}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
