"""Write a training record (TRAINING.md + curve PNG) for a run directory.

    python tools/training/record.py RUN_DIR --out tfrnncomp/model/zoo/gru-w25 [--stdout RUN_DIR/*.out]
                                    [--last-epoch N] [--average] [--latest]

It reads RUN_DIR/config.json, training.json, log.csv, phases.log and times.csv; epochs that
ran before times.csv existed get their seconds from Keras' stdout lines ("100/100 - 57s - ...")
when those logs are given with --stdout.  ``--average``: the shipped weights are the moving
average of the run's weights (its best-average.weights.h5), so its whole-image validation line
is the best of RUN_DIR/validation-average.csv instead of validation.csv.  ``--latest``: the
shipped weights are those after ``--last-epoch`` (such as the moving average written by
``tools/training/export_average.py``), not the best, so the line is that epoch's.
"""

import argparse
import csv
import glob
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.atomic import atomic_path, atomic_write_bytes  # noqa: E402


def _epoch_seconds(run_dir, stdout_files):
    seconds = {}
    pattern = re.compile(r"^Epoch (\d+)/\d+\s*$|^\d+/\d+ - (\d+)s - ")
    for path in stdout_files:
        epoch = None
        with open(path, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                match = pattern.match(line.strip())
                if match and match.group(1):
                    epoch = int(match.group(1)) - 1
                elif match and match.group(2) and epoch is not None:
                    seconds[epoch] = float(match.group(2))
    times = os.path.join(run_dir, "times.csv")
    if os.path.exists(times):
        with open(times, encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                seconds[int(row["epoch"])] = float(row["seconds"])
    return seconds


def _scores_file(average):
    return "validation-average.csv" if average else "validation.csv"


def _whole_image_row(run_dir, last_epoch, average=False, latest=False):
    """The best row of RUN_DIR/validation.csv (``average``: validation-average.csv) up to
    ``last_epoch`` (``latest``: the row of ``last_epoch`` itself; None if there is none)."""
    path = os.path.join(run_dir, _scores_file(average))
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle)
                if last_epoch is None or int(r["epoch"]) <= last_epoch]
    if latest:
        rows = [r for r in rows if int(r["epoch"]) == last_epoch]
    return max(rows, key=lambda r: float(r["score"])) if rows else None


def _whole_image_line(row, average=False, latest=False):
    if row is None:
        return "- whole-image validation: not recorded"
    iterations = [k for k in (1, 2, 4, 8, 16) if f"psnr_{k}" in row]
    weights = "the moving average of the weights, " if average else ""
    return (f"- whole-image validation ({weights}centre crops of the validation split, "
            f"`RUN_DIR/{_scores_file(average)}`): {'score' if latest else 'best score'} "
            f"{float(row['score']):.3f} at epoch "
            f"{row['epoch']}; PSNR " + " / ".join(f"{float(row[f'psnr_{k}']):.2f}" for k in iterations)
            + " dB, MS-SSIM " + " / ".join(f"{float(row[f'ms_ssim_{k}']):.4f}" for k in iterations)
            + " after iterations " + ", ".join(map(str, iterations)))


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--out", required=True, help="folder for TRAINING.md and curve.png")
    parser.add_argument("--stdout", nargs="*", default=[], help="Keras stdout logs of the run")
    parser.add_argument("--last-epoch", type=int, default=None,
                        help="record only epochs <= this one (the epoch of the shipped weights), with "
                        "the settings it trained with (dated phases.log changes after it undone)")
    parser.add_argument("--average", action="store_true",
                        help="the shipped weights are the run's moving average (best-average)")
    parser.add_argument("--latest", action="store_true",
                        help="the shipped weights are those after --last-epoch (such as "
                        "export_average.py's), not the best: record that epoch's validation")
    return parser


def _read_settings(run_dir):
    """``(config, training, phases)`` of a run directory, the data path made repository-relative."""
    config = json.load(open(os.path.join(run_dir, "config.json"), encoding="utf-8"))
    training = json.load(open(os.path.join(run_dir, "training.json"), encoding="utf-8"))
    if training.get("data") and os.path.isabs(training["data"]):
        # no machine paths in the record: the data folder relative to the repository
        repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        training["data"] = os.path.relpath(os.path.normpath(training["data"]), repo)
    phases_path = os.path.join(run_dir, "phases.log")
    phases = open(phases_path).read().strip().splitlines() if os.path.exists(phases_path) else []
    return config, training, phases


def _write_curve(rows, training, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [(int(r["epoch"]) + 1) * training["steps_per_epoch"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4))
    for key, label in (("l1_first", "L1 after iteration 1"), ("l1_last", "L1 after last iteration"),
                       ("val_loss", "validation loss (mean L1 over iterations)")):
        if rows and key in rows[0]:
            ax.plot(epochs, [float(r[key]) for r in rows], label=label)
    ax.set_xlabel("training step (batch %d)" % training["batch_size"])
    ax.set_ylabel("L1 residual, pixels in [-0.5, 0.5]")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(out, exist_ok=True)
    with atomic_path(os.path.join(out, "curve.png"), suffix=".png") as tmp:
        fig.savefig(tmp, dpi=90)


def device_runs(phases):
    """``(resumed_epoch, epoch, device_run)`` of each accelerator run taken up by the run
    (``phases.log`` records of ``tools/training/device_adopt.py``)."""
    runs = []
    for line in phases:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        to = record.get("to") if isinstance(record, dict) else None
        if isinstance(to, dict) and isinstance(to.get("device_run"), dict):
            runs.append((to["device_run"]["resumed_epoch"], to["epoch"], to["device_run"]))
    return runs


def phase_epoch(record):
    """The first epoch a ``phases.log`` record applies to (None where it does not say)."""
    if not isinstance(record, dict):
        return None
    to = record.get("to")
    if isinstance(to, dict) and isinstance(to.get("device_run"), dict):
        return to.get("epoch")
    return record.get("epoch")


def settings_at(config, training, phases, last_epoch):
    """``(config, training, phases)`` as they were for epoch ``last_epoch``: the changes
    ``phases.log`` dates after it are undone (latest first) and left out; None: as they are."""
    if last_epoch is None:
        return config, training, phases
    config, training, kept, later = dict(config), dict(training), [], []
    for line in phases:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        epoch = phase_epoch(record)
        (later if epoch is not None and epoch > last_epoch else kept).append((line, record))
    for _, record in reversed(later):
        for key, value in (record.get("from") or {}).items():
            target = config if key in config else training if key in training else None
            if target is not None:
                target[key] = value
    return config, training, [line for line, _ in kept]


def without_replaced_epochs(rows, runs):
    """The log's rows less the epochs a device run replaced (the CPU branch it left)."""
    return [r for r in rows
            if not any(start <= int(r["epoch"]) < end for start, end, _ in runs)]


def _device_line(runs):
    if not runs:
        return []
    return ["- accelerator runs (not in the epochs above): " + "; ".join(
        f"{d['steps']} steps of {d['batch_size']} patches of {d['patch_size']}x{d['patch_size']} "
        f"from epoch {start} at learning rate {d['learning_rate']} on {d.get('device')}, taken up "
        f"as epoch {end}" for start, end, d in runs)]


def _record_lines(rows, config, training, phases, seconds, whole_line):
    """The lines of TRAINING.md."""
    runs = device_runs(phases)
    steps = len(rows) * training["steps_per_epoch"]
    known = sum(seconds.get(int(r["epoch"]), 0.0) for r in rows)
    missing = [int(r["epoch"]) for r in rows if int(r["epoch"]) not in seconds]
    last = rows[-1] if rows else {}
    return [
        f"# Training record: {config.get('name')}", "",
        "Generated by `tools/training/record.py` from the run directory; re-run it to update.", "",
        "## Model config", "", "```json", json.dumps(config, indent=2, sort_keys=True), "```", "",
        "## Training settings", "", "```json", json.dumps(training, indent=2, sort_keys=True),
        "```", "",
        "## Progress", "",
        f"- epochs: {len(rows)} of {training['steps_per_epoch']} steps = {steps} steps "
        f"(now batches of {training['batch_size']} patches of {training['patch_size']}x"
        f"{training['patch_size']}; earlier phases below)",
        *_device_line(runs),
        f"- wall time: {known / 3600:.2f} h on a 2-core CPU (shared with other work)"
        + (f"; {len(missing)} epochs without a time record" if missing else ""),
        f"- last epoch: loss {float(last.get('loss', 'nan')):.5f}, L1 after first iteration "
        f"{float(last.get('l1_first', 'nan')):.5f}, after last {float(last.get('l1_last', 'nan')):.5f}"
        f", validation loss {float(last.get('val_loss', 'nan')):.5f}",
        "- curriculum phase changes: " + ("; ".join(phases) if phases else "none"),
        whole_line, "",
        "![training curve](curve.png)", "",
        "Data: `../shared/data/train` (BSDS500, Urban100, Sun-Hays 80), train split (95 % of files "
        "by a stable hash; the other 5 % validate). Research-use terms; the weights inherit them.",
    ]


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.latest and args.last_epoch is None:
        parser.error("--latest needs --last-epoch")
    log_path = os.path.join(args.run_dir, "log.csv")
    if not os.path.exists(log_path):
        print(f"record: {log_path} not found", file=sys.stderr)
        return 2
    with open(log_path, encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle)
                if args.last_epoch is None or int(r["epoch"]) <= args.last_epoch]
    config, training, phases = settings_at(*_read_settings(args.run_dir), args.last_epoch)
    rows = without_replaced_epochs(rows, device_runs(phases))
    stdout = [p for pattern in args.stdout for p in glob.glob(pattern)]
    seconds = _epoch_seconds(args.run_dir, stdout)
    _write_curve(rows, training, args.out)
    whole = _whole_image_row(args.run_dir, args.last_epoch, args.average, args.latest)
    lines = _record_lines(rows, config, training, phases, seconds,
                          _whole_image_line(whole, args.average, args.latest))
    atomic_write_bytes(os.path.join(args.out, "TRAINING.md"),
                       ("\n".join(lines) + "\n").encode("utf-8"))
    print(os.path.join(args.out, "TRAINING.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
