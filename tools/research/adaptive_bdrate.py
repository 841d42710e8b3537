#!/usr/bin/env python3
"""BD-rate of spatially adaptive coding against fixed iterations (tfrnncomp/codec/adaptive.py).

    python tools/research/adaptive_bdrate.py --fixed results/kodak6/tfrnncomp-gru-w25.json \
        results/kodak6/tfrnncomp-gru-w25-adaptive*.json --out results/kodak6/adaptive_bdrate

For each adaptive results file (tools/bench/evaluate_model.py --adaptive ...): BD-rate against the
fixed-iteration curve on PSNR and on MS-SSIM (dB), negative = fewer bits for the same quality
(tfrnncomp/eval/rd.py: bjontegaard, pchip, over the quality range both curves reach), the bpp range,
and the iteration map's share of the bytes.  If the fixed file covers more images, its points
are recomputed from its per-image rows on the adaptive file's images, so both curves are on
the same images.  Adaptive files with the same result name (one sweep run in parts, on the
same images) are merged into one curve.  Writes OUT.json and OUT.md.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from tfrnncomp.codec import image_io  # noqa: E402
from tfrnncomp.eval import evaluate, rd, schema


def on_images(result, names):
    """``result`` with every point recomputed on the images ``names`` only."""
    have = result["dataset"]["images"]
    missing = sorted(set(names) - set(have))
    if missing:
        raise SystemExit(f"adaptive_bdrate: {result['name']} lacks images {missing}")
    if list(names) == list(have):
        return result
    points = []
    for point in result["points"]:
        rows = [row for row in point["per_image"] if row["image"] in set(names)]
        points.append(evaluate.make_point(point["setting"], rows))
    return {**result, "points": points,
            "dataset": {**result["dataset"], "images": [n for n in have if n in set(names)]}}


def merged(results):
    """Same-named results (parts of one sweep on the same images) as one result each."""
    by_name = {}
    for result in results:
        first = by_name.setdefault(result["name"], result)
        if first is result:
            continue
        if first["dataset"]["images"] != result["dataset"]["images"]:
            raise SystemExit(f"adaptive_bdrate: parts of {result['name']} differ in images")
        points = sorted(first["points"] + result["points"], key=lambda p: p["bpp"])
        by_name[result["name"]] = {**first, "points": points}
    return list(by_name.values())


def summarise(adaptive, fixed):
    rows = [row for point in adaptive["points"] for row in point["per_image"]]
    map_bytes = sum(row.get("map_bytes", 0) for row in rows)
    bpp = [point["bpp"] for point in adaptive["points"]]
    return {"name": adaptive["name"], "rule": adaptive["codec"].get("adaptive", {}).get("rule"),
            "block": adaptive["codec"].get("adaptive", {}).get("block"),
            "settings": [point["setting"] for point in adaptive["points"]],
            "images": len(adaptive["dataset"]["images"]),
            "bpp_range": [min(bpp), max(bpp)],
            "bd_rate_psnr": rd.bd_rate(adaptive, fixed, "psnr"),
            "bd_rate_ms_ssim_db": rd.bd_rate(adaptive, fixed, "ms_ssim_db"),
            "map_bytes_mean": map_bytes / len(rows),
            "map_share_of_bytes": map_bytes / sum(row["bytes"] for row in rows),
            "mean_iterations_per_block": [
                sum(r.get("mean_iterations", 0) for r in p["per_image"]) / len(p["per_image"])
                for p in adaptive["points"]]}


def markdown(fixed, summaries):
    cell = lambda v: "-" if v is None else f"{v:+.1f} %"  # noqa: E731
    lines = [f"Anchor: `{fixed['name']}` ({fixed['codec'].get('model_id')}, fixed iterations), "
             f"{summaries[0]['images'] if summaries else 0} images.", "",
             "| adaptive | rule | block | bpp range | BD-rate (PSNR) | BD-rate (MS-SSIM dB) "
             "| map bytes / image | map share |", "|---" * 8 + "|"]
    for s in summaries:
        lines.append(f"| {s['name']} | {s['rule']} | {s['block']} | {s['bpp_range'][0]:.3f}-"
                     f"{s['bpp_range'][1]:.3f} | {cell(s['bd_rate_psnr'])} | "
                     f"{cell(s['bd_rate_ms_ssim_db'])} | {s['map_bytes_mean']:.1f} | "
                     f"{100 * s['map_share_of_bytes']:.2f} % |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("adaptive", nargs="+", help="adaptive results JSON files")
    parser.add_argument("--fixed", required=True, help="fixed-iteration results JSON file")
    parser.add_argument("--out", required=True, help="output path without extension")
    args = parser.parse_args(argv)
    import json

    fixed_all = schema.load_result(args.fixed)
    summaries, anchor = [], fixed_all
    for adaptive in merged([schema.load_result(path) for path in args.adaptive]):
        anchor = on_images(fixed_all, adaptive["dataset"]["images"])
        summaries.append(summarise(adaptive, anchor))
    report = {"fixed": {"name": fixed_all["name"], "model_id": fixed_all["codec"].get("model_id"),
                        "file": os.path.relpath(args.fixed)},
              "method": "bjontegaard pchip on log10(bpp), over the overlapping quality range",
              "results": summaries}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    image_io.atomic_write_bytes(args.out + ".json",
                                (json.dumps(report, indent=1) + "\n").encode("utf-8"))
    text = markdown(anchor, summaries)
    image_io.atomic_write_bytes(args.out + ".md", text.encode("utf-8"))
    print(text, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
