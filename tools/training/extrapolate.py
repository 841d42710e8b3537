"""Estimate what more training steps would give: the validation curve and Kodak BD-rate.

    python tools/training/extrapolate.py --log tools/training/default/log.csv \
        --point 3000=results/training/kodak-gru-w25-epoch29-context.json \
        --point 4700=results/training/kodak-gru-w25-epoch46-context.json \
        --point 9000=results/kodak/tfrnncomp-gru-w25.json \
        --jpeg results/kodak/jpeg420.json --out results/training

Two fits, both plain least squares, both assumptions that the numbers may break:

* the validation L1 after the last iteration against training steps, a power law
  ``log L1 = a + b log steps`` over the second half of the logged epochs;
* Kodak BD-rate (MS-SSIM dB, against JPEG 4:2:0) of evaluated checkpoints against
  ``log L1`` of the same checkpoints (a straight line through the ``--point`` runs).

Together they give the BD-rate expected after 2x, 4x and 10x the steps so far and the step
count at which the line reaches ``--target`` (default -30 %, BD-rate vs JPEG).  Written to
``OUT/extrapolation.json`` and ``OUT/extrapolation.md``.
"""

import argparse
import csv
import json
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.eval import rd, schema  # noqa: E402
from tfrnncomp.atomic import atomic_write_bytes  # noqa: E402


def read_log(path, steps_per_epoch):
    """``(steps, val_l1_last)`` arrays of a training log (steps after each epoch)."""
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    steps = np.array([(int(r["epoch"]) + 1) * steps_per_epoch for r in rows], np.float64)
    return steps, np.array([float(r["val_l1_last"]) for r in rows], np.float64)


def fit_power_law(steps, values, start_fraction=0.5):
    """``(a, b)`` of ``log value = a + b log steps`` over the last part of the curve."""
    keep = steps >= steps[-1] * start_fraction
    b, a = np.polyfit(np.log(steps[keep]), np.log(values[keep]), 1)
    return float(a), float(b)


def smoothed(steps, values, at, window=5):
    """Mean of the logged values of the ``window`` epochs ending at step ``at``."""
    index = int(np.argmin(np.abs(steps - at)))
    return float(np.mean(values[max(0, index - window + 1):index + 1]))


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True, help="the run's log.csv")
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--point", action="append", required=True, metavar="STEPS=RESULT.json",
                        help="an evaluated checkpoint: its training steps and Kodak results file")
    parser.add_argument("--jpeg", required=True, help="the JPEG 4:2:0 results file (anchor)")
    parser.add_argument("--target", type=float, default=-30.0, help="BD-rate target in percent")
    parser.add_argument("--out", required=True)
    return parser


def _report_lines(result, points, rows, target, needed):
    """The Markdown report of an extrapolation ``result``."""
    b, last = result["power_law"]["b"], result["steps_logged"]
    slope = result["bd_rate_line"]["slope_per_log_l1"]
    intercept = result["bd_rate_line"]["intercept"]
    lines = [
        "# What more training would give (an extrapolation, not a measurement)", "",
        f"Validation L1 after the last iteration ~ steps^{b:.3f} (least squares over steps "
        f"{last * 0.5:.0f}-{last:.0f} of `{result['log']}`); Kodak BD-rate on MS-SSIM (dB) "
        f"against JPEG 4:2:0 = {intercept:.1f} + {slope:.1f} ln(L1) through the evaluated "
        "checkpoints (L1 averaged over the 5 epochs ending at each):", "",
        "| steps | model | validation L1 | BD-rate vs JPEG |", "|---|---|---|---|"]
    for p in points:
        bd = "-" if p["bd_rate_vs_jpeg"] is None else f"{p['bd_rate_vs_jpeg']:+.1f} %"
        lines.append(f"| {p['steps']} | {p['model_id']} | {p['val_l1_last']:.5f} | {bd} |")
    lines += ["", "| steps (x last) | predicted validation L1 | predicted BD-rate vs JPEG |",
              "|---|---|---|"]
    for r, factor in zip(rows, (1, 2, 4, 10, 100)):
        lines.append(f"| {r['steps']:.0f} (x{factor}) | {r['val_l1_last']:.5f} | "
                     f"{r['bd_rate_vs_jpeg']:+.1f} % |")
    if needed:
        lines += ["", f"The line reaches {target:+.0f} % at validation L1 "
                  f"{needed['val_l1_last']:.5f}, i.e. after about {needed['steps']:.3g} steps "
                  "if the power law held (it flattens in practice, so this is a lower bound)."]
    else:
        lines += ["", "The fits do not predict the target being reached."]
    return lines


def main(argv=None):
    args = _parser().parse_args(argv)

    steps, l1 = read_log(args.log, args.steps_per_epoch)
    a, b = fit_power_law(steps, l1)
    anchor = schema.load_result(args.jpeg)
    points = []
    for item in args.point:
        at, _, path = item.partition("=")
        result = schema.load_result(path)
        points.append({"steps": int(at), "result": os.path.relpath(path),
                       "model_id": result.get("codec", {}).get("model_id"),
                       "val_l1_last": smoothed(steps, l1, int(at)),
                       "bd_rate_vs_jpeg": rd.bd_rate(result, anchor)})
    usable = [p for p in points if p["bd_rate_vs_jpeg"] is not None]
    if len(usable) < 2:
        print("extrapolate: need two points with a BD-rate", file=sys.stderr)
        return 2
    slope, intercept = np.polyfit([math.log(p["val_l1_last"]) for p in usable],
                                  [p["bd_rate_vs_jpeg"] for p in usable], 1)
    last = float(steps[-1])
    rows = []
    for factor in (1, 2, 4, 10, 100):
        at = last * factor
        predicted_l1 = math.exp(a + b * math.log(at))
        rows.append({"steps": at, "val_l1_last": predicted_l1,
                     "bd_rate_vs_jpeg": float(intercept + slope * math.log(predicted_l1))})
    needed = None
    if slope > 0 and b < 0:  # lower L1 lowers the BD-rate, and L1 falls with steps
        l1_needed = math.exp((args.target - intercept) / slope)
        needed = {"val_l1_last": l1_needed,
                  "steps": math.exp((math.log(l1_needed) - a) / b)}
    result = {"log": os.path.relpath(args.log), "steps_logged": last,
              "power_law": {"a": a, "b": b, "fit_from_steps": last * 0.5},
              "bd_rate_line": {"slope_per_log_l1": float(slope), "intercept": float(intercept)},
              "points": points, "extrapolated": rows, "target": args.target,
              "steps_for_target": needed}
    lines = _report_lines(result, points, rows, args.target, needed)
    os.makedirs(args.out, exist_ok=True)
    for name, text in (("extrapolation.json", json.dumps(result, indent=2)),
                       ("extrapolation.md", "\n".join(lines) + "\n")):
        atomic_write_bytes(os.path.join(args.out, name), text.encode())
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
