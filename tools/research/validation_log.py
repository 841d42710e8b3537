#!/usr/bin/env python3
"""Summarise a training run's whole-image validation log over ranges of epochs.

    python tools/research/validation_log.py RUN_DIR [--ranges 245-258,259-280,281-]
        [--paired-from EPOCH] [--upto 8] [--out FILE.md]

Reads ``RUN_DIR/validation.csv`` (the raw weights) and, when present,
``RUN_DIR/validation-average.csv`` (the moving average of the weights, ``--average-momentum``),
both written by :class:`tfrnncomp.training.validation.WholeImageValidation`.  For each range of
epochs (``A-B``, ``A-`` for A to the end) and each log it prints the number of epochs, the mean,
lowest and highest score, the mean PSNR and MS-SSIM after the first and last logged
iteration, and the mean over the logged iterations up to ``--upto`` (8: the 0.125-1 bpp range of
the quality targets) of PSNR and of MS-SSIM in dB.  The score weighs PSNR and MS-SSIM alike, so
it can stay level while one of them climbs and the other falls; the last two columns show it.  Then it pairs the two logs epoch by epoch (from ``--paired-from`` to the end of
the last range): the mean and standard deviation of ``average - raw`` and how often the average
scored higher.  Where the run has ``RUN_DIR/times.csv``
(:class:`tfrnncomp.training.train.EpochTimer`) a last table gives, per range, the mean seconds
of an epoch's training (its steps and patch validation) and of the wall time between two
consecutive epoch ends of one process (pairs across a restart, more than a minute longer than
the epoch's training, are left out): the difference is the time the whole-image validations and
the other end-of-epoch work took.  The table (markdown)
goes to stdout and, with ``--out``, to a file.
"""

import argparse
import csv
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.training.validation import averaged_path, read_rows  # noqa: E402


def read_logs(run_dir):
    """``{"raw": rows, "average": rows}`` of a run (:func:`read_rows`; empty where absent)."""
    path = os.path.join(run_dir, "validation.csv")
    return {"raw": read_rows(path), "average": read_rows(averaged_path(path))}


def parse_ranges(text, last_epoch):
    """``"245-258,281-"`` -> ``[(245, 258), (281, last_epoch)]``."""
    ranges = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        start, _, end = part.partition("-")
        try:
            ranges.append((int(start), int(end) if end else last_epoch))
        except ValueError:
            raise SystemExit(f"validation_log: a range is A-B or A-, got {part!r}") from None
    return ranges


def _iteration_columns(rows):
    fields = next(iter(rows.values())).keys()
    psnr = [f for f in fields if f.startswith("psnr_")]
    ms_ssim = [f for f in fields if f.startswith("ms_ssim_")]
    return psnr[0], psnr[-1], ms_ssim[0], ms_ssim[-1]


def early_means(row, upto):
    """``(PSNR, MS-SSIM dB)``: the means over the row's logged iterations ``<= upto``."""
    from tfrnncomp.eval.metrics import ms_ssim_db

    chosen = [int(f[len("psnr_"):]) for f in row if f.startswith("psnr_")
              and int(f[len("psnr_"):]) <= upto]
    return (statistics.fmean(row[f"psnr_{k}"] for k in chosen),
            statistics.fmean(ms_ssim_db(row[f"ms_ssim_{k}"]) for k in chosen))


def range_table(logs, ranges, upto=8):
    """Markdown rows: one per range and log."""
    any_rows = next(rows for rows in logs.values() if rows)
    columns = _iteration_columns(any_rows)
    lines = ["| epochs | weights | n | mean score | lowest | highest | "
             + " | ".join(f"mean {c}" for c in columns)
             + f" | mean PSNR, iterations <= {upto} | mean MS-SSIM dB, iterations <= {upto} |",
             "|---|---|---|---|---|---|" + "---|" * (len(columns) + 2)]
    for start, end in ranges:
        for name, rows in logs.items():
            chosen = [rows[e] for e in sorted(rows) if start <= e <= end]
            if not chosen:
                continue
            scores = [r["score"] for r in chosen]
            means = [statistics.fmean(r[c] for r in chosen) for c in columns]
            early = [statistics.fmean(early_means(r, upto)[i] for r in chosen) for i in (0, 1)]
            lines.append(f"| {start}-{end} | {name} | {len(chosen)} | {statistics.fmean(scores):.3f}"
                         f" | {min(scores):.3f} | {max(scores):.3f} | "
                         + " | ".join(f"{m:.4f}" if c.startswith("ms_ssim") else f"{m:.2f}"
                                    for c, m in zip(columns, means))
                         + f" | {early[0]:.3f} | {early[1]:.4f} |")
    return lines


def paired(raw, average, start, end=None):
    """Lines comparing the average with the raw weights on the epochs both logged, from
    ``start`` to ``end`` (the last one if None)."""
    epochs = [e for e in sorted(set(raw) & set(average))
              if e >= start and (end is None or e <= end)]
    if not epochs:
        return []
    diffs = [average[e]["score"] - raw[e]["score"] for e in epochs]
    spread = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
    wins = sum(d > 0 for d in diffs)
    return [f"Paired, epochs {epochs[0]}-{epochs[-1]} ({len(epochs)}): average - raw score "
            f"mean {statistics.fmean(diffs):+.4f}, standard deviation {spread:.4f}; the average "
            f"scored higher in {wins} of {len(epochs)} epochs. Best raw {max(raw[e]['score'] for e in epochs):.4f}, "
            f"best average {max(average[e]['score'] for e in epochs):.4f}."]


def read_times(run_dir):
    """``{epoch: (end_unix_time, training seconds)}`` from ``RUN_DIR/times.csv`` ({} if absent)."""
    path = os.path.join(run_dir, "times.csv")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8", newline="") as handle:
        return {int(r["epoch"]): (float(r["end_unix_time"]), float(r["seconds"]))
                for r in csv.DictReader(handle)}


def time_table(times, ranges, restart_slack=60.0):
    """Markdown rows: per range, the mean training seconds of an epoch and the mean wall seconds
    between its end and the previous epoch's, over the epochs that followed another in the
    same process (wall time within ``restart_slack`` of the training time)."""
    lines = ["| epochs | n | mean training s | mean wall s between epoch ends | difference |",
             "|---|---|---|---|---|"]
    for start, end in ranges:
        pairs = [(times[e][0] - times[e - 1][0], times[e][1]) for e in sorted(times)
                 if start <= e <= end and e - 1 in times]
        pairs = [(wall, train) for wall, train in pairs if 0 < wall - train <= restart_slack]
        if not pairs:
            continue
        wall, train = (statistics.fmean(p[i] for p in pairs) for i in (0, 1))
        lines.append(f"| {start}-{end} | {len(pairs)} | {train:.1f} | {wall:.1f} | "
                     f"{wall - train:.1f} |")
    return lines if len(lines) > 2 else []


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--ranges", default="", help="A-B,A-,... (default: every epoch)")
    parser.add_argument("--paired-from", type=int, default=0)
    parser.add_argument("--upto", type=int, default=8,
                        help="the last iteration of the early-iteration means")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.upto < 1:
        parser.error("--upto must be at least 1")
    logs = read_logs(args.run_dir)
    if not logs["raw"]:
        raise SystemExit(f"validation_log: {args.run_dir} has no validation.csv")
    last = max(max(rows, default=0) for rows in logs.values())
    ranges = parse_ranges(args.ranges, last) or [(min(logs["raw"]), last)]
    end = max(e for _, e in ranges)
    lines = (range_table(logs, ranges, args.upto) + [""]
             + paired(logs["raw"], logs["average"], args.paired_from, end))
    timing = time_table(read_times(args.run_dir), ranges)
    lines += [""] + timing if timing else []
    text = "\n".join(lines).rstrip() + "\n"
    sys.stdout.write(text)
    if args.out:
        from tfrnncomp.atomic import atomic_write_bytes

        atomic_write_bytes(args.out, text.encode("utf-8"))


if __name__ == "__main__":
    main()
