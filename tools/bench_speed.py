"""Speed and memory benchmark: our codec vs Pillow codecs on the same images.

    python tools/bench_speed.py [--kodak DIR] [--images 24] [--iterations 2 8 16]
                                [--paper-size] [--large] [--seams 256] --out results/speed

Writes OUT/speed.json and OUT/speed.md.  Times are per image (median over the
images, after one warm-up image), from a single process with TensorFlow's
default thread settings.  Peak memory is the process's maximum resident set
(ru_maxrss), measured in a fresh subprocess per configuration so runs don't
mix.  Ratios to JPEG survive a noisy machine better than absolute seconds.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_KODAK = os.path.join(HERE, "..", "..", "shared", "data", "kodak")


def _images(folder, count):
    import numpy as np
    from PIL import Image

    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))[:count]
    return [(n, np.asarray(Image.open(os.path.join(folder, n)).convert("RGB"))) for n in names]


def _median_times(images, encode, decode):
    enc, dec = [], []
    for i, (_, image) in enumerate(images):
        start = time.perf_counter()
        data = encode(image)
        middle = time.perf_counter()
        decode(data)
        end = time.perf_counter()
        if i or len(images) == 1:  # the first image warms up (traces, caches)
            enc.append(middle - start)
            dec.append(end - middle)
    return statistics.median(enc), statistics.median(dec)


def bench_ours(images, iterations_list, model=None, tile="auto"):
    import tfrnncomp

    codec = tfrnncomp.Codec(model, tile=tile)
    rows = []
    for iterations in iterations_list:
        enc, dec = _median_times(images, lambda im: codec.compress(im, iterations=iterations),
                                 codec.decompress)
        rows.append({"codec": f"tfrnncomp {codec.model_id}", "setting": f"{iterations} it",
                     "encode_s": enc, "decode_s": dec})
    return rows


def bench_pillow(images):
    from PIL import Image, features

    settings = [("JPEG 4:2:0 q75", "JPEG", {"quality": 75, "subsampling": 2}),
                ("WebP q75 m4", "WEBP", {"quality": 75, "method": 4})]
    if features.check("avif"):
        settings.append(("AVIF q60 s6", "AVIF", {"quality": 60, "speed": 6}))

    rows = []
    for name, fmt, options in settings:
        def encode(image, fmt=fmt, options=options):
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format=fmt, **options)
            return buffer.getvalue()

        def decode(data):
            Image.open(io.BytesIO(data)).load()

        enc, dec = _median_times(images, encode, decode)
        rows.append({"codec": name, "setting": "", "encode_s": enc, "decode_s": dec})
    return rows


def _child(args):
    """Run one configuration in a subprocess and return its JSON result (with peak RSS)."""
    command = [sys.executable, os.path.abspath(__file__), "--child"] + args
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def child_main(argv):
    import resource

    import numpy as np

    parser = argparse.ArgumentParser()
    parser.add_argument("kind")
    parser.add_argument("--kodak")
    parser.add_argument("--images", type=int)
    parser.add_argument("--iterations", type=int, nargs="+")
    parser.add_argument("--tile", default="auto")
    args = parser.parse_args(argv)
    tile = None if args.tile == "none" else ("auto" if args.tile == "auto" else int(args.tile))
    if args.kind == "ours":
        rows = bench_ours(_images(args.kodak, args.images), args.iterations, tile=tile)
    elif args.kind == "paper":
        from tfrnncomp.codec import Codec
        from tfrnncomp.config import REFERENCE
        from tfrnncomp.model import RNNCompressionModel

        codec = Codec(RNNCompressionModel(REFERENCE.to_dict()))  # untrained: timing only
        image = _images(args.kodak, 1)[0][1]
        codec.compress(image[:64, :64], iterations=1)  # warm-up
        start = time.perf_counter()
        data = codec.compress(image, iterations=args.iterations[0])
        middle = time.perf_counter()
        codec.decompress(data)
        rows = [{"codec": "paper-size model (width 1.0, untrained)",
                 "setting": f"{args.iterations[0]} it", "encode_s": middle - start,
                 "decode_s": time.perf_counter() - middle}]
    elif args.kind == "large":
        import tfrnncomp

        rng = np.random.default_rng(0)
        base = _images(args.kodak, 1)[0][1]
        image = np.tile(base, (6, 6, 1))[:3000, :4000]
        image = np.clip(image + rng.normal(0, 2, image.shape), 0, 255).astype(np.uint8)
        codec = tfrnncomp.Codec(tile=tile)
        start = time.perf_counter()
        data = codec.compress(image, iterations=args.iterations[0])
        middle = time.perf_counter()
        codec.decompress(data)
        rows = [{"codec": "tfrnncomp 4000x3000", "setting": f"{args.iterations[0]} it, tile "
                 f"{args.tile}", "encode_s": middle - start,
                 "decode_s": time.perf_counter() - middle, "megapixels": 12.0}]
    else:
        rows = bench_pillow(_images(args.kodak, args.images))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    for row in rows:
        row["peak_rss_mb"] = peak
    print(json.dumps(rows))


def seams(kodak, count, tile, iterations):
    """PSNR/MS-SSIM of tiled vs untiled coding on Kodak (seam check)."""
    import tfrnncomp
    from tfrnncomp import metrics

    untiled, tiled = tfrnncomp.Codec(tile=None), tfrnncomp.Codec(tile=tile)
    rows = []
    for name, image in _images(kodak, count):
        a = untiled.decompress(untiled.compress(image, iterations=iterations))
        b = tiled.decompress(tiled.compress(image, iterations=iterations))
        rows.append({"image": name, "psnr_untiled": metrics.psnr(image, a),
                     "psnr_tiled": metrics.psnr(image, b),
                     "ms_ssim_untiled": metrics.ms_ssim(image, a),
                     "ms_ssim_tiled": metrics.ms_ssim(image, b)})
    return rows


def _markdown(result):
    lines = ["| codec | setting | encode s | decode s | encode MP/s | peak RSS MB | "
             "encode / JPEG |", "|---|---|---|---|---|---|---|"]
    jpeg = next((r for r in result["rows"] if r["codec"].startswith("JPEG")), None)
    mp = result["megapixels"]
    for r in result["rows"]:
        ratio = f"{r['encode_s'] / jpeg['encode_s']:.0f}x" if jpeg else ""
        lines.append(f"| {r['codec']} | {r['setting']} | {r['encode_s']:.3f} | "
                     f"{r['decode_s']:.3f} | {r.get('megapixels', mp) / r['encode_s']:.2f} | "
                     f"{r['peak_rss_mb']:.0f} | {ratio} |")
    if result.get("seams"):
        s = result["seams"]
        d_psnr = statistics.mean(r["psnr_tiled"] - r["psnr_untiled"] for r in s)
        d_ssim = statistics.mean(r["ms_ssim_tiled"] - r["ms_ssim_untiled"] for r in s)
        lines += ["", f"Seams (tile {result['seam_tile']}, {len(s)} images, "
                  f"{result['seam_iterations']} iterations): mean PSNR difference tiled - "
                  f"untiled {d_psnr:+.3f} dB, MS-SSIM {d_ssim:+.5f}."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", default=DEFAULT_KODAK)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--iterations", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--paper-size", action="store_true", help="also time the width-1.0 model")
    parser.add_argument("--large", action="store_true", help="also a 4000x3000 image, tiled")
    parser.add_argument("--seams", type=int, default=0, metavar="TILE",
                        help="also compare tiled (this tile size) with untiled coding")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if not os.path.isdir(args.kodak):
        print(f"bench_speed: no Kodak folder at {args.kodak}; pass --kodak", file=sys.stderr)
        return 2
    common = ["--kodak", args.kodak, "--images", str(args.images)]
    its = [str(i) for i in args.iterations]
    rows = _child(["pillow"] + common) + _child(["ours"] + common + ["--iterations"] + its)
    if args.paper_size:
        rows += _child(["paper"] + common + ["--iterations", "8"])
    if args.large:
        rows += _child(["large"] + common + ["--iterations", "8"])
    result = {"megapixels": 768 * 512 / 1e6, "images": args.images, "rows": rows,
              "cpu_count": os.cpu_count()}
    if args.seams:
        result.update(seams=seams(args.kodak, args.images, args.seams, 8),
                      seam_tile=args.seams, seam_iterations=8)
    from tfrnncomp.image_io import atomic_write_bytes

    os.makedirs(args.out, exist_ok=True)
    outputs = {"speed.json": json.dumps(result, indent=2), "speed.md": _markdown(result)}
    for name, text in outputs.items():
        atomic_write_bytes(os.path.join(args.out, name), text.encode())
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
