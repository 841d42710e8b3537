#!/usr/bin/env python3
"""Memory growth over many compress and decompress calls in one process.

    python tools/bench/bench_memory.py [--model gru-w25] [--calls 1000] [--crop 128] \\
        [--iterations 2,4,8] [--entropy raw,context] [--every 50] [--warmup 50] \\
        [--image tfrnncomp/samples/kodim23_crop.png] --out results/memory/growth.json

One :class:`tfrnncomp.Codec` serves ``--calls`` calls, alternating ``compress`` of a
``--crop``-pixel crop of the image (cycling through the iteration counts and entropy
modes) and ``decompress`` of the file just written.  Resident memory (VmRSS from
``/proc/self/status``, else the peak ``ru_maxrss``) is sampled every ``--every`` calls, with
the tracing counts of the codec's ``tf.function``s (a retrace per call would grow the
graph cache).  Reported: RSS after the warm-up calls, at the end, the least-squares slope
in MB per 100 calls over the samples after the warm-up, and whether any function traced
after the warm-up.  Writes OUT (JSON) and OUT with ``.md``.
"""

import argparse
import gc
import json
import os
import resource
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

DEFAULT_IMAGE = os.path.join(ROOT, "tfrnncomp", "samples", "kodim23_crop.png")
FUNCTIONS = ("encode", "encode_codes", "decode", "decode_all")


def rss_mb():
    """Current resident set size in MB (VmRSS), or the peak (ru_maxrss) without /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tracing_counts(codec):
    """How often each of the codec's tf.functions has traced so far."""
    return {name: int(getattr(codec.functions, name).experimental_get_tracing_count())
            for name in FUNCTIONS}


def slope_per_100(samples, warmup):
    """Least-squares slope of RSS (MB) per 100 calls over the samples at or after ``warmup``."""
    points = [(s["calls"], s["rss_mb"]) for s in samples if s["calls"] >= warmup]
    if len(points) < 2:
        return None
    calls, rss = np.array(points, np.float64).T
    return float(np.polyfit(calls, rss, 1)[0] * 100)


def run(codec, image, calls, iterations=(2, 4, 8), entropies=("raw", "context"), every=50,
        warmup=50, log=None):
    """Alternate ``calls`` compress/decompress calls; RSS and tracing samples every ``every``."""
    settings = [(k, e) for e in entropies for k in iterations]
    samples, data, started = [], None, time.perf_counter()

    def sample(done):
        gc.collect()
        samples.append({"calls": done, "rss_mb": rss_mb(), "traces": tracing_counts(codec),
                        "seconds": time.perf_counter() - started})
        if log:
            log(f"{done:5d} calls: RSS {samples[-1]['rss_mb']:.1f} MB")

    sample(0)
    for call in range(calls):
        if call % 2 == 0:
            k, entropy = settings[(call // 2) % len(settings)]
            data = codec.compress(image, iterations=k, entropy=entropy)
        else:
            decoded = codec.decompress(data)
            if decoded.shape != image.shape:
                raise AssertionError(f"decoded shape {decoded.shape} != {image.shape}")
        if (call + 1) % every == 0 or call + 1 == calls:
            sample(call + 1)
    after = next((s for s in samples if s["calls"] >= warmup), samples[-1])
    end = samples[-1]
    return {"calls": calls, "warmup_calls": after["calls"], "every": every,
            "iterations": list(iterations), "entropy_modes": list(entropies),
            "rss_after_warmup_mb": after["rss_mb"], "rss_end_mb": end["rss_mb"],
            "growth_after_warmup_mb": end["rss_mb"] - after["rss_mb"],
            "slope_mb_per_100_calls": slope_per_100(samples, after["calls"]),
            "traces_after_warmup": {n: end["traces"][n] - after["traces"][n] for n in FUNCTIONS},
            "traces_total": end["traces"], "seconds": end["seconds"], "samples": samples}


def markdown(result):
    traced = sum(result["traces_after_warmup"].values())
    lines = ["| calls | RSS after warm-up MB | RSS at end MB | growth MB | slope MB / 100 calls "
             "| traces after warm-up |", "|---|---|---|---|---|---|",
             f"| {result['calls']} | {result['rss_after_warmup_mb']:.1f} | "
             f"{result['rss_end_mb']:.1f} | {result['growth_after_warmup_mb']:+.1f} | "
             f"{result['slope_mb_per_100_calls']:+.3f} | {traced} |", "",
             "| calls done | RSS MB |", "|---|---|"]
    lines += [f"| {s['calls']} | {s['rss_mb']:.1f} |" for s in result["samples"]]
    lines += ["", f"Model {result['model_id']}, {result['crop']}x{result['crop']} crop of "
              f"{result['image']}, compress and decompress alternating, iterations "
              f"{result['iterations']} x entropy {result['entropy_modes']}; warm-up = first "
              f"{result['warmup_calls']} calls; slope = least squares after the warm-up; "
              f"{result['seconds']:.0f} s in all."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gru-w25")
    parser.add_argument("--image", default=DEFAULT_IMAGE)
    parser.add_argument("--crop", type=int, default=128, help="square crop from the top left")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--iterations", default="2,4,8")
    parser.add_argument("--entropy", default="raw,context")
    parser.add_argument("--every", type=int, default=50, help="sample RSS every N calls")
    parser.add_argument("--warmup", type=int, default=50, help="calls before the baseline")
    parser.add_argument("--out", required=True, help="JSON path; the table goes to .md beside")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not os.path.isfile(args.image):
        print(f"bench_memory: skipped: image {args.image} not found", file=sys.stderr)
        return 0
    if args.calls < 2 or args.every < 1:
        parser.error("--calls must be >= 2 and --every >= 1")
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.eval import schema
    from tfrnncomp.codec import Codec
    from tfrnncomp.training.data import load_image

    codec = Codec(args.model)
    image = np.ascontiguousarray(load_image(args.image)[:args.crop, :args.crop])
    result = run(codec, image, args.calls, [int(k) for k in args.iterations.split(",")],
                 [e for e in args.entropy.split(",") if e], args.every, args.warmup,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    result.update(model_id=codec.model_id, crop=int(image.shape[0]),
                  image=os.path.relpath(args.image, ROOT), environment=schema.environment())
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    table = markdown(result)
    for target, text in ((args.out, json.dumps(result, indent=2) + "\n"),
                         (os.path.splitext(args.out)[0] + ".md", table)):
        atomic_write_bytes(target, text.encode("utf-8"))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
