"""Speed and memory benchmark: our codec vs Pillow codecs on the same images.

    python tools/bench/bench_speed.py [--kodak DIR] [--images 24] [--iterations 2 8 16]
        [--backends tf tf-xla litert litert-float16 litert-dynamic-int8]
        [--paper-size [--paper-cells gru lstm]] [--sizes] [--large] [--seams 256]
        [--threads 2] --out results/speed

Writes OUT/speed.json and OUT/speed.md.  Times are per image (median over the
images, after a 1-iteration warm-up on the first image that traces the graph
or converts the LiteRT step models: that first-use cost is its own column),
wall-clock and process CPU seconds.  Every backend of ``tfrnncomp.Codec`` runs
in its own fresh subprocess with ``--threads`` threads (TF intra-op threads and
LiteRT interpreter threads); peak memory is that process's maximum resident
set (ru_maxrss).  ``--paper-size`` times the paper's Figure-1 configuration
(width 1.0, untrained weights: timing only; GRU and LSTM cells) on one Kodak
image and compares it with the public PyTorch implementation of the same
architecture with LSTM cells, as timed here by tools/bench/bench_pytorch_reference.py
(``--pytorch-reference``; else the quoted 42 s / 29 s); ``--sizes`` times smaller untrained models, to say what size would
meet the targets.  Ratios to JPEG survive a noisy machine better than seconds.
"""

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)  # this checkout's tfrnncomp
sys.path.insert(0, HERE)  # speed_report
import speed_report  # noqa: E402
DEFAULT_KODAK = os.path.join(ROOT, "..", "shared", "data", "kodak")
BACKENDS = ("tf", "tf-xla", "litert", "litert-float16", "litert-dynamic-int8")
#: the same-machine timing of the public PyTorch implementation
#: (tools/bench/bench_pytorch_reference.py)
PYTORCH_REFERENCE = os.path.join(ROOT, "results", "speed", "pytorch_reference.json")
#: untrained configurations timed by --sizes (name -> changes to the default model's config)
SIZES = {
    "width 0.125": {"width": 0.125},
    "width 0.25, decoder hidden kernels 1x1": {"decoder_hidden_kernels": [1, 1, 1, 1]},
    "width 0.125, decoder hidden kernels 1x1": {"width": 0.125,
                                                "decoder_hidden_kernels": [1, 1, 1, 1]},
    "width 0.0625": {"width": 0.0625},
}


def _images(folder, count):
    from PIL import Image

    names = sorted(n for n in os.listdir(folder) if n.endswith(".png"))[:count]
    return [(n, np.asarray(Image.open(os.path.join(folder, n)).convert("RGB"))) for n in names]


def _median_times(images, encode, decode, warm_up=True):
    """Median wall and CPU seconds of encode and decode over ``images``."""
    if warm_up:  # the same shape as the timed images: traces, converts, allocates
        decode(encode(images[0][1]))
    times = {"encode_s": [], "decode_s": [], "encode_cpu_s": [], "decode_cpu_s": []}
    for _, image in images:
        start, cpu = time.perf_counter(), time.process_time()
        data = encode(image)
        middle, cpu_middle = time.perf_counter(), time.process_time()
        decode(data)
        times["encode_s"].append(middle - start)
        times["decode_s"].append(time.perf_counter() - middle)
        times["encode_cpu_s"].append(cpu_middle - cpu)
        times["decode_cpu_s"].append(time.process_time() - cpu_middle)
    return {key: statistics.median(values) for key, values in times.items()}


def _set_threads(threads):
    """TF intra-op threads (before TF's runtime starts); LiteRT takes them per interpreter."""
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def bench_ours(images, iterations_list, model=None, tile="auto", backend="tf", threads=None,
               label=None):
    import tfrnncomp

    codec = tfrnncomp.Codec(model, tile=tile, backend=backend, threads=threads)
    start = time.perf_counter()
    codec.decompress(codec.compress(images[0][1], iterations=1))
    first_use = time.perf_counter() - start
    rows = []
    for iterations in iterations_list:
        row = _median_times(images, lambda im: codec.compress(im, iterations=iterations),
                            codec.decompress, warm_up=False)
        row.update(codec=label or f"tfrnncomp {codec.model_id}", backend=backend,
                   setting=f"{iterations} it", iterations=iterations,
                   first_use_s=first_use)
        rows.append(row)
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

        rows.append(dict(_median_times(images, encode, decode), codec=name, setting=""))
    return rows


def _child(args, timeout=None):
    """Run one configuration in a subprocess and return its JSON result (with peak RSS)."""
    command = [sys.executable, os.path.abspath(__file__), "--child"] + args
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env,
                         timeout=timeout, cwd=ROOT).stdout
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
    parser.add_argument("--backend", default="tf")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--size", default=None)
    parser.add_argument("--cell", default="gru", help="paper: the RNN cell (lstm: the reference's)")
    args = parser.parse_args(argv)
    if args.kind != "pillow":
        _set_threads(args.threads)
    tile = None if args.tile == "none" else ("auto" if args.tile == "auto" else int(args.tile))
    if args.kind == "ours":
        rows = bench_ours(_images(args.kodak, args.images), args.iterations, tile=tile,
                          backend=args.backend, threads=args.threads)
    elif args.kind in ("paper", "size"):
        from tfrnncomp.model import zoo
        from tfrnncomp.model.config import REFERENCE
        from tfrnncomp.model.network import RNNCompressionModel

        if args.kind == "paper":
            config = dict(REFERENCE.to_dict(), cell=args.cell)
            label = f"paper-size model (width 1.0, {args.cell.upper()}, untrained)"
        else:
            config = dict(zoo.load_model(None).config.to_dict(), **SIZES[args.size])
            config["name"], label = "size-scan", f"untrained, {args.size}"
        model = RNNCompressionModel(config).build_for_inference()  # untrained: timing only
        rows = bench_ours(_images(args.kodak, args.images), args.iterations, model=model,
                          backend=args.backend, threads=args.threads, label=label)
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


def _seam_band(height, width, tile, radius=8):
    """``bool[H, W]``: pixels within ``radius`` of an internal tile border."""
    band = np.zeros((height, width), bool)
    for y in range(tile, height, tile):
        band[max(0, y - radius):y + radius] = True
    for x in range(tile, width, tile):
        band[:, max(0, x - radius):x + radius] = True
    return band


def seams(kodak, count, tile, iterations):
    """PSNR/MS-SSIM of tiled vs untiled coding on Kodak (seam check).

    Besides the whole image, PSNR is also measured on the band of pixels within 8 of an
    internal tile border, where a seam would show, and on the rest of the image.
    """
    import tfrnncomp
    from tfrnncomp.eval import metrics

    untiled, tiled = tfrnncomp.Codec(tile=None), tfrnncomp.Codec(tile=tile)
    rows = []
    for name, image in _images(kodak, count):
        a = untiled.decompress(untiled.compress(image, iterations=iterations))
        b = tiled.decompress(tiled.compress(image, iterations=iterations))
        band = _seam_band(image.shape[0], image.shape[1], tile)
        rows.append({"image": name, "psnr_untiled": metrics.psnr(image, a),
                     "psnr_tiled": metrics.psnr(image, b),
                     "ms_ssim_untiled": metrics.ms_ssim(image, a),
                     "ms_ssim_tiled": metrics.ms_ssim(image, b),
                     "band_psnr_untiled": metrics.psnr(image[band], a[band]),
                     "band_psnr_tiled": metrics.psnr(image[band], b[band]),
                     "inner_psnr_untiled": metrics.psnr(image[~band], a[~band]),
                     "inner_psnr_tiled": metrics.psnr(image[~band], b[~band])})
    return rows


def cpu_description():
    """The processor's model name and the vector extensions that decide conv speed."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")
    return f"{model} ({', '.join(f for f in wanted if f in flags) or 'no AVX2'})"


def _runs(args):
    """(child arguments) of every configuration the options ask for, in order."""
    common = ["--kodak", args.kodak, "--images", str(args.images)]
    threads = ["--threads", str(args.threads)] if args.threads else []
    its = ["--iterations"] + [str(i) for i in args.iterations]
    runs = [["pillow"] + common]
    runs += [["ours", "--backend", b] + common + its + threads for b in args.backends]
    one = ["--kodak", args.kodak, "--images", "1", "--iterations", "8"] + threads
    if args.paper_size:
        runs += [["paper", "--cell", cell, "--backend", b] + one
                 for cell in args.paper_cells for b in args.paper_backends]
    if args.sizes:
        few = ["--kodak", args.kodak, "--images", str(min(args.images, 2)),
               "--iterations", "8"] + threads
        runs += [["size", "--size", name, "--backend", b] + few
                 for name in SIZES for b in args.size_backends]
    if args.large:
        runs += [["large"] + common + ["--iterations", "8"] + threads]
    return runs


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", default=DEFAULT_KODAK)
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--iterations", type=int, nargs="+", default=[2, 8, 16])
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS), choices=BACKENDS)
    parser.add_argument("--threads", type=int, default=2,
                        help="TF intra-op and LiteRT threads (0: TF's default)")
    parser.add_argument("--paper-size", action="store_true", help="also time the width-1.0 model")
    parser.add_argument("--paper-backends", nargs="+", default=["tf"], choices=BACKENDS)
    parser.add_argument("--paper-cells", nargs="+", default=["gru", "lstm"],
                        choices=["gru", "lstm"],
                        help="cells of the paper-size model (lstm: equal to the PyTorch reference)")
    parser.add_argument("--pytorch-reference", default=PYTORCH_REFERENCE,
                        help="bench_pytorch_reference.py result to compare the paper size with")
    parser.add_argument("--sizes", action="store_true",
                        help="also time smaller untrained models (what would meet the targets)")
    parser.add_argument("--size-backends", nargs="+", default=["tf", "litert-dynamic-int8"],
                        choices=BACKENDS)
    parser.add_argument("--large", action="store_true", help="also a 4000x3000 image, tiled")
    parser.add_argument("--seams", type=int, default=0, metavar="TILE",
                        help="also compare tiled (this tile size) with untiled coding")
    parser.add_argument("--seams-only", action="store_true",
                        help="with --seams: only the seam check (OUT/seams.json, OUT/seams.md)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds allowed to each configuration's process")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite OUT/speed.md from OUT/speed.json")
    parser.add_argument("--out", required=True)
    return parser


def _render(out):
    """--render: OUT/speed.md from OUT/speed.json; the exit status."""
    from tfrnncomp.atomic import atomic_write_bytes

    if not os.path.isfile(os.path.join(out, "speed.json")):
        print(f"bench_speed: no speed.json in {out} to render", file=sys.stderr)
        return 2
    with open(os.path.join(out, "speed.json"), encoding="utf-8") as handle:
        text = speed_report.markdown(json.load(handle))
    atomic_write_bytes(os.path.join(out, "speed.md"), text.encode())
    print(text)
    return 0


def _run_children(runs, timeout):
    """``(rows, failures)`` of running each configuration in its own process."""
    rows, failures = [], []
    for run in runs:
        print("bench_speed: " + " ".join(run[:4]), file=sys.stderr, flush=True)
        try:
            rows += _child(run, timeout)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            tail = (getattr(error, "stderr", None) or "").strip().splitlines()[-1:]
            failures.append(f"{' '.join(run[:4])}: {type(error).__name__} {' '.join(tail)}")
    return rows, failures


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.render:
        return _render(args.out)
    if not os.path.isdir(args.kodak):
        print(f"bench_speed: no Kodak folder at {args.kodak}; pass --kodak", file=sys.stderr)
        return 2
    if args.seams_only and not args.seams:
        print("bench_speed: --seams-only needs --seams TILE", file=sys.stderr)
        return 2
    rows, failures = _run_children([] if args.seams_only else _runs(args), args.timeout)
    result = {"megapixels": 768 * 512 / 1e6, "images": args.images, "rows": rows,
              "threads": args.threads, "cpu_count": os.cpu_count(), "cpu": cpu_description(),
              "load_average_end": os.getloadavg(), "failures": failures,
              "command": "python tools/bench/bench_speed.py " + " ".join(argv)}
    if args.paper_size and os.path.isfile(args.pytorch_reference):
        with open(args.pytorch_reference, encoding="utf-8") as handle:
            result["pytorch_reference"] = json.load(handle)
    if args.seams:
        result.update(seams=seams(args.kodak, args.images, args.seams, 8),
                      seam_tile=args.seams, seam_iterations=8)
    from tfrnncomp.atomic import atomic_write_bytes

    os.makedirs(args.out, exist_ok=True)
    stem = "seams" if args.seams_only else "speed"
    outputs = {f"{stem}.json": json.dumps(result, indent=2), f"{stem}.md": speed_report.markdown(result)}
    for name, text in outputs.items():
        atomic_write_bytes(os.path.join(args.out, name), text.encode())
    print(speed_report.markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
