#!/usr/bin/env python3
"""The shipped model's Kodak curve beside the published curves of the paper it implements.

    python tools/research/published_curves.py [--published results/published/kodak]
        [--results results/kodak] [--model tfrnncomp-gru-w25-binaryrnn]
        [--entropy results/entropy/kodak.json] [--out results/published]

Reads the published aggregate curves (tensorflow/compression's ``results/image_compression``
files, copied into ``--published`` with their headers: Toderici et al. 2017 before entropy
coding, Johnston et al. 2018, JPEG 4:2:0 and WebP) and this repository's Kodak results, and
writes ``kodak-comparison.md`` and ``.json`` to ``--out``: BD-rates over 0.125-1 bpp
(:mod:`tfrnncomp.eval.rd`)

* within each harness: the published codecs against the published JPEG 4:2:0 and WebP, the
  model against this repository's;
* across the two: the two JPEG curves against each other (how far the harnesses disagree),
  the published Toderici 2017 and Johnston 2018 curves against this repository's JPEG and the
  model against the published Toderici 2017 curve;
  the saving on every rate the published Toderici 2017 curve would need to reach 0 % against
  this repository's JPEG; and that curve's BD-rate with each iteration's rate cut by the
  cumulative saving the shipped BinaryRNN measures on the shipped model's codes
  (``saved_cumulative_pct`` of ``--entropy``).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.atomic import atomic_write_bytes  # noqa: E402
from tfrnncomp.eval import published, rd, schema  # noqa: E402

PUBLISHED = (("toderici-2017-cvpr", "Toderici 2017 (published, before entropy coding)"),
             ("johnston-2017-cvpr", "Johnston 2018 (published)"),
             ("webp", "WebP (published)"))
METRICS = (("psnr", "PSNR_sRGB_RGB", "PSNR"), ("ms_ssim_db", "MS-SSIM_sRGB_RGB", "MS-SSIM"))


def load_published(folder, name):
    """``{metric: result}`` of the published files named ``name`` in ``folder``."""
    out = {}
    for metric, subfolder, _ in METRICS:
        path = os.path.join(folder, subfolder, name + ".txt")
        base = "ms_ssim" if metric == "ms_ssim_db" else metric
        out[metric] = published.load_curve(path, base, name)
    return out


def bd(test, anchor, metric):
    value = rd.bd_rate(test[metric], anchor[metric], metric, bpp_range=rd.BD_RANGE)
    # four decimals: the tables print one, as rd_summary.py prints the unrounded value (two here
    # would round twice and could print 23.1 where rd_summary.py prints 23.2)
    return None if value is None else round(value, 4)


def across_row(curve, anchor_label, test, anchor):
    return {"curve": curve, "anchor": anchor_label, **{m: bd(test, anchor, m) for m, _, _ in METRICS}}


def measured(path):
    result = schema.load_result(path)
    return {metric: result for metric, _, _ in METRICS}


def compare(args):
    pub = {name: load_published(args.published, name)
           for name in ("toderici-2017-cvpr", "johnston-2017-cvpr", "jpeg420", "webp")}
    ours = {name: measured(os.path.join(args.results, name + ".json"))
            for name in (args.model, "jpeg420", "webp")}
    within = [{"curve": label, "harness": "published",
               **{f"{m}_vs_{a}": bd(pub[name], pub[a], m) for m, _, _ in METRICS
                  for a in ("jpeg420", "webp")}} for name, label in PUBLISHED]
    within += [{"curve": name, "harness": "this repository",
                **{f"{m}_vs_{a}": bd(ours[name], ours[a], m) for m, _, _ in METRICS
                   for a in ("jpeg420", "webp")}} for name in (args.model, "webp")]
    toderici = pub["toderici-2017-cvpr"]
    mine = "jpeg420 (this repository)"
    across = [across_row("JPEG 4:2:0 (published)", mine, pub["jpeg420"], ours["jpeg420"]),
              across_row(PUBLISHED[0][1], mine, toderici, ours["jpeg420"]),
              across_row(PUBLISHED[1][1], mine, pub["johnston-2017-cvpr"], ours["jpeg420"]),
              across_row(args.model, PUBLISHED[0][1], ours[args.model], toderici)]
    with open(args.entropy, encoding="utf-8") as handle:
        entropy = json.load(handle)
    saved = entropy["summary"]["binaryrnn"]["saved_cumulative_pct"]
    factors = [1.0 - pct / 100.0 for pct in saved]
    coded = {m: published.scale_rates(toderici[m], factors) for m, _, _ in METRICS}
    across.append(across_row(PUBLISHED[0][1] + ", rates cut by this BinaryRNN's savings", mine,
                             coded, ours["jpeg420"]))
    needed = {m: published.saving_to_match(toderici[m], ours["jpeg420"][m], m)
              for m, _, _ in METRICS}
    return {"bpp_range": list(rd.BD_RANGE), "within_harness": within, "across_harnesses": across,
            "saving_needed_by_toderici_2017": {m: None if v is None else round(100 * v, 2)
                                               for m, v in needed.items()},
            "binaryrnn": {"entropy_id": entropy["entropy_id"], "model_id": entropy["model_id"],
                          "saved_cumulative_pct": saved}}


def _pct(value):
    return "-" if value is None else f"{value:+.1f} %"


def markdown(report):
    low, high = report["bpp_range"]
    lines = [f"BD-rate over {low}-{high} bpp on Kodak (negative: fewer bits for the same quality); "
             "`python tools/research/published_curves.py`.", "",
             "Within each harness:", "",
             "| curve | harness | PSNR vs JPEG 4:2:0 | PSNR vs WebP | MS-SSIM vs JPEG 4:2:0 "
             "| MS-SSIM vs WebP |", "|---|---|---|---|---|---|"]
    for row in report["within_harness"]:
        cells = [_pct(row[f"{m}_vs_{a}"]) for m, _, _ in METRICS for a in ("jpeg420", "webp")]
        lines.append(f"| {row['curve']} | {row['harness']} | " + " | ".join(cells) + " |")
    lines += ["", "Across harnesses (the first row shows how far they disagree):", "",
              "| curve | anchor | PSNR | MS-SSIM |", "|---|---|---|---|"]
    for row in report["across_harnesses"]:
        lines.append(f"| {row['curve']} | {row['anchor']} | {_pct(row['psnr'])} | "
                     f"{_pct(row['ms_ssim_db'])} |")
    needed = report["saving_needed_by_toderici_2017"]
    saved = report["binaryrnn"]["saved_cumulative_pct"]
    lines += ["", "Saving on every rate the published Toderici 2017 curve would need to reach 0 % "
              f"against this repository's JPEG 4:2:0: PSNR {needed['psnr']} %, MS-SSIM "
              f"{needed['ms_ssim_db']} % (negative: it could spend that much more). The BinaryRNN `{report['binaryrnn']['entropy_id']}` "
              f"saves {saved[0]} / {saved[1]} / {saved[3]} / {saved[7]} / {saved[15]} % of a "
              f"file of 1 / 2 / 4 / 8 / 16 iterations of `{report['binaryrnn']['model_id']}` "
              "(`results/entropy/kodak.json`).", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--published", default=os.path.join("results", "published", "kodak"),
                        help="folder of the published files (PSNR_sRGB_RGB/, MS-SSIM_sRGB_RGB/)")
    parser.add_argument("--results", default=os.path.join("results", "kodak"),
                        help="this repository's Kodak results (MODEL, jpeg420 and webp .json)")
    parser.add_argument("--model", default="tfrnncomp-gru-w25-binaryrnn",
                        help="name of the model's result in --results")
    parser.add_argument("--entropy", default=os.path.join("results", "entropy", "kodak.json"),
                        help="bench_entropy.py's JSON (the BinaryRNN's savings per iteration)")
    parser.add_argument("--out", default=os.path.join("results", "published"),
                        help="folder for kodak-comparison.md and .json")
    args = parser.parse_args(argv)
    try:
        report = compare(args)
    except (OSError, KeyError, ValueError) as error:
        print(f"published_curves: {error}", file=sys.stderr)
        return 2
    text = markdown(report)
    os.makedirs(args.out, exist_ok=True)
    atomic_write_bytes(os.path.join(args.out, "kodak-comparison.md"), text.encode("utf-8"))
    atomic_write_bytes(os.path.join(args.out, "kodak-comparison.json"),
                       (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
