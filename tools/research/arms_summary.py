#!/usr/bin/env python3
"""Every equal-CPU-time comparison of the training run in one table, each arm beside its control.

    python tools/research/arms_summary.py [--results results/training]
        [--out results/training/arms-summary.md]

Reads the folders ``arms-epochN`` and ``arms-epochN-TAG`` under ``--results`` (each written by
``tools/research/training_arms.py`` from the default run's checkpoint that resumes at epoch N:
``control.json`` and one JSON per arm) and prints one row per arm other than the control: its
CPU minutes and steps against the control's, and its whole-image validation score (the mean of
PSNR and MS-SSIM in dB after iterations 1, 2, 4, 8 and 16) against the control's. ``--out``
also writes the table to that file.  A folder without ``control.json``, or an arm file without
the fields ``training_arms.py`` writes, is refused with its path and exit status 2.
"""

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.atomic import atomic_write_bytes  # noqa: E402

FOLDER = re.compile(r"^arms-epoch(\d+)(?:-([a-z0-9-]+))?$")
FIELDS = ("arm", "what", "steps", "cpu_minutes", "score")
HEADER = ("| from epoch | folder | arm | what | CPU min | steps (control) | score | control "
          "| difference |")


class ArmsError(ValueError):
    """An arms folder or arm file that is not what ``training_arms.py`` writes."""


def load_arm(path):
    """The arm result at ``path``, or ``None`` for a JSON file that is not an arm's result."""
    try:
        with open(path, encoding="utf-8") as handle:
            result = json.load(handle)
    except (OSError, ValueError) as error:
        raise ArmsError(f"{path}: cannot be read as JSON ({error})") from error
    if not isinstance(result, dict) or "arm" not in result:
        return None
    missing = [field for field in FIELDS if field not in result]
    if missing:
        raise ArmsError(f"{path}: an arm result without {', '.join(missing)}")
    return result


def comparisons(results):
    """``[(epoch, folder, control, [arm, ...])]`` for the arms folders under ``results``, by
    epoch and name; the arms in file-name order."""
    found = []
    for name in sorted(os.listdir(results)):
        match = FOLDER.match(name)
        folder = os.path.join(results, name)
        if not match or not os.path.isdir(folder):
            continue
        control_path = os.path.join(folder, "control.json")
        if not os.path.exists(control_path):
            raise ArmsError(f"{folder}: no control.json")
        control = load_arm(control_path)
        if control is None:
            raise ArmsError(f"{control_path}: not an arm result")
        arms = [load_arm(os.path.join(folder, file)) for file in sorted(os.listdir(folder))
                if file.endswith(".json") and file != "control.json"]
        found.append((int(match.group(1)), name, control, [arm for arm in arms if arm]))
    return sorted(found, key=lambda item: (item[0], item[1]))


def table(found):
    lines = [HEADER, "|---|---|---|---|---|---|---|---|---|"]
    for epoch, name, control, arms in found:
        for arm in arms:
            lines.append(
                f"| {epoch} | {name} | {arm['arm']} | {arm['what']} | {arm['cpu_minutes']:.1f} | "
                f"{arm['steps']} ({control['steps']}) | {arm['score']:.3f} | "
                f"{control['score']:.3f} | {arm['score'] - control['score']:+.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default=os.path.join("results", "training"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    try:
        if not os.path.isdir(args.results):
            raise ArmsError(f"{args.results}: no such folder")
        found = comparisons(args.results)
    except ArmsError as error:
        print(f"arms_summary: {error}", file=sys.stderr)
        return 2
    if not found:
        print(f"arms_summary: no arms-epochN folders under {args.results}", file=sys.stderr)
        return 2
    text = table(found)
    print(text, end="")
    if args.out:
        atomic_write_bytes(args.out, text.encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
