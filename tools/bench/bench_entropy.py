"""Benchmark the entropy modes on Kodak (Toderici et al. 2017, Section 3).

    python tools/bench/bench_entropy.py --out results/entropy            # all 24 images
    python tools/bench/bench_entropy.py --limit 4 --out /tmp/entropy     # a quick run

For every image the codec's codes of ``--iterations`` iterations (default 16) are coded in
every entropy mode.  Reported per iteration k (a file of k iterations holds the first k
chunks): bits saved vs raw, cumulative and for chunk k alone; the model's cross-entropy (from
the integer probabilities the coder uses) vs the actual coded size (coder overhead); entropy
encode and decode seconds per image (the whole file, entropy coding only, decoded output
checked equal to the input codes).  The Markdown table shows k = 1, 2, 4, 8, 12 and 16 up to
the iterations run, and the last iteration.  Writes ``<out>/kodak.json`` and ``<out>/kodak.md``.
"""

import argparse
import json
import os
import sys
import time

# the entropy models' matrix products are small: one BLAS thread is fastest, and on a
# loaded machine extra BLAS threads only wait for cores (set before NumPy loads)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODES = ("raw", "context", "binaryrnn")


def ideal_bits(codec, mode, codes):
    """The model's cross-entropy per iteration (None for raw)."""
    import numpy as np

    from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder, context
    from tfrnncomp.entropy.coding.context import previous_bits

    if mode == "context":
        bits = (codes > 0).astype(np.uint8)
        return [context.code_length(bits[t], previous_bits(bits, t)) for t in range(len(bits))]
    if mode == "binaryrnn":
        return [float(v) for v in binaryrnn_coder.code_length(codec.entropy_net, codes)]
    return None


def bench_image(codec, codes, modes):
    import numpy as np

    out = {}
    for mode in modes:
        start, cpu = time.perf_counter(), time.process_time()
        chunks = codec.encode_chunks(codes, mode)
        encode_s, encode_cpu = time.perf_counter() - start, time.process_time() - cpu
        block = codec.config.block_size
        header = codec.header_for(codes.shape[1] * block, codes.shape[2] * block, 3, len(codes),
                                  mode)
        start, cpu = time.perf_counter(), time.process_time()
        decoded = codec.decode_chunks(header, chunks)
        decode_s, decode_cpu = time.perf_counter() - start, time.process_time() - cpu
        if not np.array_equal(decoded, codes):
            raise SystemExit(f"bench_entropy: mode {mode} did not round-trip")
        out[mode] = {"chunk_bits": [8 * len(c) for c in chunks], "encode_s": encode_s,
                     "decode_s": decode_s, "encode_cpu_s": encode_cpu, "decode_cpu_s": decode_cpu,
                     "ideal_bits": ideal_bits(codec, mode, codes)}
    return out


def summarize(per_image, modes, iterations):
    import numpy as np

    raw = np.array([[r["raw"]["chunk_bits"][t] for t in range(iterations)] for r in per_image],
                   np.float64)
    summary = {}
    for mode in modes:
        bits = np.array([r[mode]["chunk_bits"] for r in per_image], np.float64)
        entry = {
            "saved_cumulative_pct": [round(100 * (1 - bits[:, :k].sum() / raw[:, :k].sum()), 2)
                                     for k in range(1, iterations + 1)],
            "saved_per_iteration_pct": [round(100 * (1 - bits[:, k].sum() / raw[:, k].sum()), 2)
                                        for k in range(iterations)],
        }
        for key in ("encode_s", "decode_s", "encode_cpu_s", "decode_cpu_s"):
            entry[f"{key}_per_image"] = round(float(np.mean([r[mode][key] for r in per_image])), 3)
        if per_image[0][mode]["ideal_bits"] is not None:
            ideal = np.array([r[mode]["ideal_bits"] for r in per_image], np.float64)
            entry["cross_entropy_bits_per_bit"] = round(float(ideal.sum() / raw.sum()), 5)
            entry["coder_overhead_pct"] = round(100 * (bits.sum() / ideal.sum() - 1), 3)
        summary[mode] = entry
    return summary


def table_iterations(iterations):
    """The k of the Markdown table's columns: 1, 2, 4, 8, 12 and 16 below ``iterations``, and
    ``iterations`` itself (the last iteration run)."""
    return [k for k in (1, 2, 4, 8, 12, 16) if k < iterations] + [iterations]


def machine_line(result):
    """Where the timings ran: the CPU, its cores and the load average before and after."""
    env, load = result.get("environment"), result.get("load_average")
    if env is None or load is None:  # a result of an older version of this tool
        return "on a shared, loaded 2-core CPU."
    return (f"on {env['cpu']}, {env['cpu_count']} cores, load average {load['start']:.2f} "
            f"before the run and {load['end']:.2f} after it (1 minute).")


def markdown(result):
    s, modes = result["summary"], result["modes"]
    columns = table_iterations(result["iterations"])
    lines = [f"Kodak, {result['images']} images, model {result['model_id']}, entropy model "
             f"{result.get('entropy_id')}; `python tools/bench/bench_entropy.py` "
             + machine_line(result), "",
             "Bits saved vs raw in a file of k iterations (payloads, cumulative):", "",
             "| mode | " + " | ".join(f"k={k}" for k in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for mode in modes:
        values = s[mode]["saved_cumulative_pct"]
        lines.append(f"| {mode} | " + " | ".join(f"{values[k - 1]:.1f} %" for k in columns)
                     + " |")
    lines += ["", f"Seconds per image ({result['iterations']} iterations, entropy coding only): "
              "wall clock, and the process's CPU time in brackets.",
              "",
              "| mode | cross-entropy (bits/bit) | coder overhead | encode s (CPU) | "
              "decode s (CPU) |", "|---|---|---|---|---|"]
    for mode in modes:
        e = s[mode]
        ce = e.get("cross_entropy_bits_per_bit")
        overhead = e.get("coder_overhead_pct")
        lines.append(f"| {mode} | {'-' if ce is None else f'{ce:.4f}'} | "
                     f"{'-' if overhead is None else f'{overhead:+.3f} %'} | "
                     f"{e['encode_s_per_image']:.2f} ({e['encode_cpu_s_per_image']:.2f}) | "
                     f"{e['decode_s_per_image']:.2f} ({e['decode_cpu_s_per_image']:.2f}) |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "kodak"))
    parser.add_argument("--model", default="gru-w25")
    parser.add_argument("--entropy-model", default="auto",
                        help="integer BinaryRNN file (default: the zoo model's)")
    parser.add_argument("--iterations", type=int, default=16)
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--modes", default=",".join(MODES),
                        help="comma-separated; raw, the reference of the savings, is always run")
    parser.add_argument("--out", default=os.path.join(ROOT, "results", "entropy"))
    args = parser.parse_args(argv)
    if not os.path.isdir(args.data):
        print(f"bench_entropy: no Kodak folder at {args.data}; pass --data", file=sys.stderr)
        return 2
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.codec import image_io
    from tfrnncomp.codec import Codec
    from tfrnncomp.eval import schema

    modes = args.modes.split(",")
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        print(f"bench_entropy: unknown mode {', '.join(unknown)}; choose from {', '.join(MODES)}",
              file=sys.stderr)
        return 2
    modes = ["raw"] + [m for m in modes if m != "raw"]
    codec = Codec(args.model, entropy_model=args.entropy_model)
    names = sorted(f for f in os.listdir(args.data) if f.lower().endswith(".png"))
    names = names[:args.limit] if args.limit else names
    load_start, per_image = os.getloadavg()[0], []
    for name in names:
        array, _ = image_io.to_array(image_io.open_image(os.path.join(args.data, name)))
        codes = codec.encode(array, args.iterations, "raw").codes
        per_image.append(bench_image(codec, codes, modes))
        print(f"{name}: " + ", ".join(f"{m} {sum(per_image[-1][m]['chunk_bits']) // 8} B "
                                      f"(dec {per_image[-1][m]['decode_s']:.2f} s)"
                                      for m in modes), flush=True)
    result = {"images": len(names), "model_id": codec.model_id, "modes": modes,
              "iterations": args.iterations,
              "entropy_id": codec.entropy_net.entropy_id if "binaryrnn" in modes else None,
              "summary": summarize(per_image, modes, args.iterations),
              "environment": schema.environment(),
              "load_average": {"start": load_start, "end": os.getloadavg()[0]},
              "per_image": dict(zip(names, per_image))}
    os.makedirs(args.out, exist_ok=True)
    atomic_write_bytes(os.path.join(args.out, "kodak.json"),
                       (json.dumps(result, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    atomic_write_bytes(os.path.join(args.out, "kodak.md"), markdown(result).encode("utf-8"))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
