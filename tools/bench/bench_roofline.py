"""How fast could this CPU run the codec at all?  A lower bound from its convolutions.

    python tools/bench/bench_roofline.py [--threads 2] [--repeats 3] [--iterations 8] [--sizes]
                                         [--pytorch-reference results/speed/pytorch_reference.json]
                                         [--speed results/speed/speed.json] --out results/speed

Counts the multiply-accumulates (MACs) of every convolution of one iteration
(:mod:`tfrnncomp.eval.flops`, Toderici et al. 2017 Figure 1) for a Kodak-size image
(768x512), then times each distinct convolution alone, fp32, random weights,
with TensorFlow's own kernels and with XLA, and keeps the faster.  The floor of
a workload is the sum of its convolutions' MACs, each divided by the best rate
this machine reached on that convolution: the time encoding or decoding would
take if the gates, depth-to-space, I/O and entropy coding were free.  A target
below its floor cannot be met with fp32 direct convolutions on this CPU.

Workloads: the shipped model against the speed targets (encode 1 s, decode
0.5 s), and the paper-size LSTM against half the measured time of the public
PyTorch implementation (``tools/bench/bench_pytorch_reference.py``), the "2x faster
at equal architecture" target.  A large square matmul is timed too, as the
machine's plain fp32 rate.  Writes OUT/roofline.json and OUT/roofline.md.
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)  # this checkout's tfrnncomp
sys.path.insert(0, HERE)  # bench_speed's cpu_description
RESULTS = os.path.join(ROOT, "results", "speed")
#: the speed targets for the default model, Kodak, 8 iterations
TARGETS = {"encode_s": 1.0, "decode_s": 0.5}


def _best_seconds(fn, repeats):
    fn()  # trace / compile / allocate
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def time_matmul(size, repeats):
    """GFLOP/s of one ``size x size`` fp32 matmul (2 FLOPs per MAC)."""
    import tensorflow as tf

    a = tf.random.normal([size, size])
    b = tf.random.normal([size, size])
    matmul = tf.function(lambda: tf.linalg.matmul(a, b))
    seconds = _best_seconds(lambda: matmul().numpy(), repeats)
    return 2 * size ** 3 / seconds / 1e9


def time_conv(conv, repeats, modes=("tf", "xla")):
    """``{mode: seconds}`` of one :class:`tfrnncomp.eval.flops.Conv` at batch 1."""
    import tensorflow as tf

    x = tf.random.normal([1, conv.height * conv.stride, conv.width * conv.stride, conv.c_in])
    kernel = tf.random.normal([conv.kernel, conv.kernel, conv.c_in, conv.c_out]) * 0.05
    seconds = {}
    for mode in modes:
        fn = tf.function(lambda: tf.nn.conv2d(x, kernel, conv.stride, "SAME"),
                         jit_compile=mode == "xla")
        # eager execution on the CPU is synchronous: no .numpy(), whose copy to the host
        # would be timed too
        seconds[mode] = _best_seconds(fn, repeats)
    return seconds


def _geometry(conv):
    return (conv.height, conv.width, conv.kernel, conv.stride, conv.c_in, conv.c_out)


def floors(convs, seconds, iterations):
    """Encode and decode floors (s) from one iteration's convolutions and their best times.

    ``convs``: ``{"encoder": [Conv], "decoder": [Conv]}``; ``seconds``: geometry -> s.
    Encoding runs the encoder ``iterations`` times and the decoder once less.
    """
    encoder = sum(seconds[_geometry(c)] for c in convs["encoder"])
    decoder = sum(seconds[_geometry(c)] for c in convs["decoder"])
    return {"encode_s": iterations * encoder + (iterations - 1) * decoder,
            "decode_s": iterations * decoder}


def workload(name, config, height, width, iterations, seconds_by_geometry, target, target_note):
    from tfrnncomp.eval import flops

    convs = flops.convolutions(config, height, width)
    encode_macs, decode_macs = flops.codec_macs(config, height, width, iterations)
    floor = floors(convs, seconds_by_geometry, iterations)
    row = {"workload": name, "config": config, "iterations": iterations,
           "encode_gmac": encode_macs / 1e9, "decode_gmac": decode_macs / 1e9,
           "floor_encode_s": floor["encode_s"], "floor_decode_s": floor["decode_s"],
           "target_note": target_note}
    if target:
        row.update(target_encode_s=target["encode_s"], target_decode_s=target["decode_s"],
                   required_encode_gflops=2 * encode_macs / target["encode_s"] / 1e9,
                   required_decode_gflops=2 * decode_macs / target["decode_s"] / 1e9,
                   encode_feasible=floor["encode_s"] <= target["encode_s"],
                   decode_feasible=floor["decode_s"] <= target["decode_s"])
    return row


def _load(path):
    if path and os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    return None


def _workload_of(row):
    """The workload a bench_speed row (8 iterations) measures, or None."""
    codec = row["codec"]
    if codec.startswith("tfrnncomp "):
        return "shipped model" if row.get("iterations") == 8 else None
    if codec.startswith("paper-size"):
        return "paper-size LSTM" if "LSTM" in codec else None
    return codec[len("untrained, "):] if codec.startswith("untrained, ") else None


def measured_times(speed, pytorch):
    """Best wall seconds (and backend) measured by bench_speed / bench_pytorch_reference."""
    out = {}
    for row in (speed or {}).get("rows", []):
        name = _workload_of(row)
        if name is None:
            continue
        best = out.setdefault(name, {})
        for key in ("encode_s", "decode_s"):
            if row[key] < best.get(key, (float("inf"),))[0]:
                best[key] = (row[key], row.get("backend", ""))
    if pytorch:
        out["PyTorch reference"] = {"encode_s": (pytorch["encode_wall_s"], "torch"),
                                    "decode_s": (pytorch["decode_wall_s"], "torch")}
    return out


def markdown(result):
    lines = [f"Convolution floor, fp32, {result['threads']} threads, {result['height']}x"
             f"{result['width']} (Kodak), {result['cpu']}.",
             "",
             f"Square {result['matmul_size']} matmul: {result['matmul_gflops']:.0f} GFLOP/s. "
             f"Fastest convolution of these models: {result['best_conv_gflops']:.0f} GFLOP/s.",
             "",
             "| workload | it | encode GMAC | decode GMAC | floor encode s | floor decode s | "
             "target encode s | target decode s | needs GFLOP/s (enc / dec) | meetable |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["workloads"]:
        target = (f"{r['target_encode_s']:.2f} | {r['target_decode_s']:.2f} | "
                  f"{r['required_encode_gflops']:.0f} / {r['required_decode_gflops']:.0f} | "
                  f"{'yes' if r['encode_feasible'] else 'no'} / "
                  f"{'yes' if r['decode_feasible'] else 'no'}") if "target_encode_s" in r \
            else " | | | "
        lines.append(f"| {r['workload']} | {r['iterations']} | {r['encode_gmac']:.0f} | "
                     f"{r['decode_gmac']:.0f} | {r['floor_encode_s']:.2f} | "
                     f"{r['floor_decode_s']:.2f} | {target} |")
    lines += ["", "Targets: " + "; ".join(f"{r['workload']}: {r['target_note']}"
                                          for r in result["workloads"] if r["target_note"])]
    measured = result.get("measured") or {}
    if measured:
        lines += ["", "Measured wall seconds (best backend) against the floor (an int8 backend is "
                  "not bound by this fp32 floor):", "",
                  "| workload | encode s | decode s | encode / floor | decode / floor |",
                  "|---|---|---|---|---|"]
        by_name = {r["workload"]: r for r in result["workloads"]}
        for name, times in measured.items():
            floor = by_name.get(name if name != "PyTorch reference" else "paper-size LSTM")
            enc, dec = times["encode_s"], times["decode_s"]
            lines.append(f"| {name} | {enc[0]:.2f} ({enc[1]}) | {dec[0]:.2f} ({dec[1]}) | "
                         f"{enc[0] / floor['floor_encode_s']:.2f}x | "
                         f"{dec[0] / floor['floor_decode_s']:.2f}x |" if floor else
                         f"| {name} | {enc[0]:.2f} | {dec[0]:.2f} | | |")
    lines += ["", "Per convolution (best of TF and XLA):", "",
              "| model | stage | output | GMAC | TF s | XLA s | GFLOP/s |", "|---|---|---|---|---|---|---|"]
    for c in result["convolutions"]:
        lines.append(f"| {c['model']} | {c['stage']} | {c['height']}x{c['width']}x{c['c_out']} | "
                     f"{c['gmac']:.2f} | {c['tf_s']:.4f} | {c['xla_s']:.4f} | "
                     f"{c['gflops']:.0f} |")
    lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=8)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--model", default=None, help="the shipped model (zoo name or directory)")
    parser.add_argument("--pytorch-reference",
                        default=os.path.join(RESULTS, "pytorch_reference.json"))
    parser.add_argument("--speed", default=os.path.join(RESULTS, "speed.json"),
                        help="bench_speed results to set against the floor (if present)")
    parser.add_argument("--sizes", action="store_true",
                        help="also the smaller models of bench_speed --sizes, against the targets")
    parser.add_argument("--out", required=True)
    return parser


def _time_convolutions(models, height, width, repeats):
    """``(seconds, rows)``: the best seconds of each distinct convolution geometry of the
    models, and one table row per geometry (the model and stage that first had it)."""
    from tfrnncomp.eval import flops

    seconds, rows = {}, []
    for name, config in models.items():
        for part in flops.convolutions(config, height, width).values():
            for conv in part:
                key = _geometry(conv)
                if key not in seconds:
                    timing = time_conv(conv, repeats)
                    seconds[key] = min(timing.values())
                    rows.append({"model": name, "stage": conv.stage, "height": conv.height,
                                 "width": conv.width, "c_out": conv.c_out,
                                 "gmac": conv.macs / 1e9, "tf_s": timing["tf"],
                                 "xla_s": timing["xla"],
                                 "gflops": 2 * conv.macs / seconds[key] / 1e9})
                    print(f"bench_roofline: {name} {conv.stage} {rows[-1]['gflops']:.0f} GFLOP/s",
                          file=sys.stderr, flush=True)
    return seconds, rows


def _write(result, out):
    """OUT/roofline.json and OUT/roofline.md (printed too)."""
    from tfrnncomp.atomic import atomic_write_bytes

    os.makedirs(out, exist_ok=True)
    atomic_write_bytes(os.path.join(out, "roofline.json"),
                       json.dumps(result, indent=2).encode())
    text = markdown(result)
    atomic_write_bytes(os.path.join(out, "roofline.md"), text.encode())
    print(text)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.height % 32 or args.width % 32 or args.iterations < 1:
        print("bench_roofline: --height/--width must be multiples of 32, --iterations >= 1",
              file=sys.stderr)
        return 2
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TF already started (called in-process): its threads stay
        print("bench_roofline: TF already initialised; thread settings unchanged",
              file=sys.stderr)
    from bench_speed import SIZES, cpu_description

    from tfrnncomp.model import zoo
    from tfrnncomp.model.config import REFERENCE

    pytorch = _load(args.pytorch_reference)
    shipped = zoo.load_model(args.model).config.to_dict()
    models = {"shipped model": shipped, "paper-size LSTM": dict(REFERENCE.to_dict(), cell="lstm")}
    if args.sizes:  # the smaller models bench_speed times untrained
        models.update({name: dict(shipped, **changes) for name, changes in SIZES.items()})
    seconds, rows = _time_convolutions(models, args.height, args.width, args.repeats)
    half = ({"encode_s": pytorch["encode_wall_s"] / 2, "decode_s": pytorch["decode_wall_s"] / 2}
            if pytorch else None)
    workloads = [
        workload("shipped model", shipped, args.height, args.width, args.iterations, seconds,
                 TARGETS, "speed targets, encode 1 s and decode 0.5 s"),
        workload("paper-size LSTM", models["paper-size LSTM"], args.height, args.width,
                 args.iterations, seconds, half,
                 "half the PyTorch reference's measured wall time (2x faster at equal "
                 "architecture)" if half else "")]
    workloads += [workload(name, config, args.height, args.width, args.iterations, seconds,
                           TARGETS, "") for name, config in list(models.items())[2:]]
    result = {"tool": "bench_roofline", "threads": args.threads, "height": args.height,
              "width": args.width, "cpu": cpu_description(), "matmul_size": args.matmul_size,
              "matmul_gflops": time_matmul(args.matmul_size, args.repeats),
              "best_conv_gflops": max(r["gflops"] for r in rows), "workloads": workloads,
              "convolutions": rows, "measured": measured_times(_load(args.speed), pytorch),
              "command": "python tools/bench/bench_roofline.py " + " ".join(argv)}
    _write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
