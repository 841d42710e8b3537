#!/usr/bin/env python3
"""Crops of the original, tfrnncomp, JPEG 4:2:0 and WebP at matched file size.

    python tools/research/visual_compare.py kodim05.png kodim14.png kodim23.png [--bpp 0.25 0.5]
        [--data ../shared/data/kodak] [--model gru-w25]
        [--crop 256] [--scale 1] [--at X,Y] [--out results/kodak/visual]

For each image and target rate, tfrnncomp uses the iteration count whose whole file (header
included, context entropy coding) is closest to the target; JPEG 4:2:0 and WebP (method 6) use the
largest quality whose file is at most that size (every quality is tried: size is not monotone
in quality everywhere).  Labels give bpp, PSNR and MS-SSIM of the *whole* image (the harness's
metrics, ``tfrnncomp.eval.evaluate.Measurer``); the crop (default: the most detailed 256x256 window,
by luma gradient energy) is shown at 1:1 (``--scale 2``: 2x, nearest neighbour).  Writes
OUT/<image>.png (one figure per image, rows = rates) and OUT/visual.json + OUT/visual.md with
every number.  A missing image folder is skipped with exit status 0.
"""

import argparse
import dataclasses
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfrnncomp.atomic import atomic_path  # noqa: E402
from tfrnncomp.codec import image_io  # noqa: E402
from tfrnncomp.eval import classic, evaluate, schema

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSIC = (("jpeg420", "JPEG 4:2:0", range(1, 96)), ("webp", "WebP", range(0, 101)))


def detailed_spot(image, size, stride=16):
    """``(x, y)`` of the ``size`` window with the most luma gradient energy (stride-aligned)."""
    luma = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    energy = np.zeros_like(luma)
    energy[:, 1:] += np.abs(np.diff(luma, axis=1))
    energy[1:, :] += np.abs(np.diff(luma, axis=0))
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = luma.shape
    best, spot = -1.0, (0, 0)
    for y in range(0, max(height - size, 0) + 1, stride):
        for x in range(0, max(width - size, 0) + 1, stride):
            y1, x1 = min(y + size, height), min(x + size, width)
            total = integral[y1, x1] - integral[y, x1] - integral[y1, x] + integral[y, x]
            if total > best:
                best, spot = total, (x, y)
    return spot


def ours_by_iterations(codec, image, entropy):
    """``{k: file bytes}`` for every k: one encode, each prefix file is the header + k chunks."""
    from tfrnncomp.format import container as bitstream

    data = codec.compress(image, iterations=codec.max_iterations, entropy=entropy)
    container = codec.read(data, strict=True)
    return {k: bitstream.write(dataclasses.replace(container.header, iterations=k),
                               container.chunks[:k])
            for k in range(1, len(container.chunks) + 1)}


def classic_sizes(name, image, qualities):
    """``{quality: bytes}`` of one classic codec over every quality."""
    codec = classic.get(name)
    return {q: codec.encode(image, q) for q in qualities}


def largest_fitting(files, budget):
    """The largest setting whose file is at most ``budget`` bytes, or None."""
    fitting = [q for q, data in files.items() if len(data) <= budget]
    return max(fitting) if fitting else None


def compare_image(codec, name, image, targets, entropy, measurer, log):
    """One row per target: ``[(label, setting, decoded, metrics row)]`` for each codec."""
    height, width = image.shape[:2]
    pixels = height * width
    ours = ours_by_iterations(codec, image, entropy)
    sweeps = {key: classic_sizes(key, image, qualities) for key, _, qualities in CLASSIC}
    rows = []
    for target in targets:
        k = min(ours, key=lambda i: (abs(len(ours[i]) * 8 / pixels - target), i))
        decoded = codec.decompress(ours[k])
        panels = [("original", None, image, None),
                  (f"tfrnncomp {k} it.", k, decoded,
                   measurer.row(name, image, decoded, len(ours[k]), 0.0, 0.0))]
        for key, label, _ in CLASSIC:
            quality = largest_fitting(sweeps[key], len(ours[k]))
            if quality is None:
                log(f"{name} @{target:g}: no {label} quality fits {len(ours[k])} bytes")
                panels.append((f"{label}: none fits", None, None, None))
                continue
            data = sweeps[key][quality]
            decoded = classic.get(key).decode(data, height, width)
            panels.append((f"{label} q{quality}", quality, decoded,
                           measurer.row(name, image, decoded, len(data), 0.0, 0.0)))
        rows.append((target, panels))
    return rows


def _label(title, metrics):
    if metrics is None:
        return title
    ms = "-" if metrics["ms_ssim"] is None else f"{metrics['ms_ssim']:.4f}"
    return (f"{title}\n{metrics['bpp']:.3f} bpp ({metrics['bytes']} B)\n"
            f"PSNR {metrics['psnr']:.2f} dB  MS-SSIM {ms}")


def draw(path, name, rows, spot, size, scale=1, gap=12, title=54, head=34):
    """One figure: a row per rate, a column per codec; each crop drawn at exactly ``scale`` x."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = spot
    columns, side = len(rows[0][1]), size * scale  # pixels, at dpi 100
    width = columns * side + (columns + 1) * gap
    height = head + len(rows) * (title + side) + gap
    fig = plt.figure(figsize=(width / 100.0, height / 100.0), dpi=100)
    for r, (target, panels) in enumerate(rows):
        bottom = height - head - (r + 1) * (title + side)
        for c, (label, _, decoded, metrics) in enumerate(panels):
            ax = fig.add_axes([(gap + c * (side + gap)) / width, bottom / height,
                               side / width, side / height])
            ax.set_xticks([])
            ax.set_yticks([])
            if decoded is not None:
                ax.imshow(decoded[y:y + size, x:x + size], interpolation="nearest",
                          extent=(0, size, size, 0))
            if c == 0:
                label = f"original (target {target:g} bpp)"
            ax.set_title(_label(label, metrics), fontsize=9)
    fig.suptitle(f"{name}: crop {size}x{size} at x={x}, y={y} (shown {scale}x); "
                 "metrics on the whole image, files matched in size", fontsize=10,
                 y=1 - 8 / height, va="top")
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp)
        plt.close(fig)
        _shrink_png(tmp)


def _shrink_png(path):
    """Rewrite matplotlib's RGBA PNG as an optimized RGB PNG (lossless, about 25 % smaller)."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
    rgb.save(path, format="PNG", optimize=True)


def markdown(records):
    lines = ["| image | target bpp | codec | setting | bytes | bpp | PSNR (dB) | MS-SSIM |",
             "|---|---|---|---|---|---|---|---|"]
    for rec in records:
        for p in rec["panels"]:
            ms = "-" if p["ms_ssim"] is None else f"{p['ms_ssim']:.4f}"
            lines.append(f"| {rec['image']} | {rec['target_bpp']:g} | {p['codec']} | "
                         f"{p['setting']} | {p['bytes']} | {p['bpp']:.3f} | {p['psnr']:.2f} | "
                         f"{ms} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", help="image names in --data (e.g. kodim05.png)")
    parser.add_argument("--data", default=evaluate.DEFAULT_DATASET, help="image folder")
    parser.add_argument("--bpp", type=float, nargs="+", default=[0.25, 0.5], help="target rates")
    parser.add_argument("--model", default=None, help="zoo name or model directory")
    parser.add_argument("--entropy", choices=("context", "raw"), default="context")
    parser.add_argument("--crop", type=int, default=256, help="crop side in pixels")
    parser.add_argument("--scale", type=int, default=1, help="zoom of the crops (nearest)")
    parser.add_argument("--at", default=None, help="crop's top-left X,Y (default: automatic)")
    parser.add_argument("--out", default=os.path.join(REPO, "results", "kodak", "visual"))
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"visual_compare: skipped: image folder {args.data} not found", file=sys.stderr)
        return 0
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("visual_compare: skipped: matplotlib is missing", file=sys.stderr)
        return 0
    for key, label, _ in CLASSIC:
        if classic.unavailable(key):
            parser.error(f"{label}: {classic.unavailable(key)}")
    from tfrnncomp.codec import Codec

    dataset = evaluate.load_dataset(args.data, names=args.images)
    codec = Codec(args.model)
    measurer = evaluate.Measurer()
    os.makedirs(args.out, exist_ok=True)
    records = []
    for name, image in zip(dataset.names, dataset.images):
        start = time.time()
        size = min(args.crop, *image.shape[:2])
        spot = (tuple(int(v) for v in args.at.split(",")) if args.at
                else detailed_spot(image, size))
        rows = compare_image(codec, name, image, args.bpp, args.entropy, measurer,
                             evaluate.log_stderr)
        figure = os.path.join(args.out, os.path.splitext(name)[0] + ".png")
        draw(figure, name, rows, spot, size, args.scale)
        for target, panels in rows:
            records.append({"image": name, "target_bpp": target, "crop": [*spot, size, size],
                            "figure": os.path.basename(figure), "panels": [
                                {"codec": title.split(" q")[0].split(" ")[0] if metrics else title,
                                 "label": title, "setting": setting,
                                 **{k: metrics[k] for k in ("bytes", "bpp", "psnr", "ms_ssim")}}
                                for title, setting, _, metrics in panels if metrics]})
        print(f"{figure}: {len(rows)} rates in {time.time() - start:.0f} s")
    summary = {"model_id": codec.model_id, "entropy_mode": args.entropy,
               "dataset": dataset.info(), "matching": "tfrnncomp: iterations closest to the "
               "target; JPEG 4:2:0 / WebP m6: largest quality whose file <= tfrnncomp's",
               "records": records, "notes": measurer.notes,
               "environment": schema.environment()}
    image_io.atomic_write_bytes(os.path.join(args.out, "visual.json"),
                                (json.dumps(summary, indent=1) + "\n").encode("utf-8"))
    image_io.atomic_write_bytes(os.path.join(args.out, "visual.md"),
                                markdown(records).encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
