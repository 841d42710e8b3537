#!/usr/bin/env python3
"""Quality, size and LiteRT latency of the TFLite variants of a model, against the TF model.

    python tools/bench/bench_tflite.py --model gru-w25 --tflite-dir exported/tflite \\
        --out results/tflite/gru-w25.json [--images 4] [--budget-minutes 30] \\
        [--variants float32,int8]

For each variant (and the TF model as reference): file size of the step models (encoder,
decoder, and the post-filter when the model has one); mean Kodak MS-SSIM and PSNR after 4, 8 and 16 iterations and their
difference to the TF model; the share of code bits equal to TF's; and per-image encode
and decode latency (every iteration up to the largest) with LiteRT (XNNPACK, --threads).
Each variant codes the image with its own encoder, and the quality is that of its own
decoder on those codes (what a LiteRT sender and receiver get).  Latency is measured after
one warm-up iteration per image (so the resize of fixed-size models to portrait images is
not counted).  The TF reference is the package's tf.functions on the same CPU.

``--tflite-dir`` is reused when its tflite.json holds the variants, else they are exported
there (``tfrnncomp.export.tflite``, --height/--width, int8 calibrated on training patches when
found).
Images are taken in order, each through TF and every variant, and OUT (JSON) and OUT
with ``.md`` (a markdown table) are rewritten after each, so ``--budget-minutes`` (no new
image is started after it) or an interruption leaves the means over the images done.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from tfrnncomp.atomic import atomic_write_bytes  # noqa: E402
from tfrnncomp.export import tflite  # noqa: E402
from tfrnncomp.export.litert_backend import LiteRTSteps  # noqa: E402
from tfrnncomp.eval import metrics  # noqa: E402
from tfrnncomp.eval import evaluate, schema
from tfrnncomp.runtime.steps import presented  # noqa: E402


def quality(original, decoded):
    return {"ms_ssim": float(metrics.ms_ssim(original, decoded)),
            "psnr": float(metrics.psnr(original, decoded))}


def bench_tf(codec, name, image, checkpoints, log):
    """The TF reference row of one image (its codes are what the variants are compared to)."""
    top = max(checkpoints)
    height, width = image.shape[:2]
    warm = codec.encode_codes(image[:32, :32], 1)[0]  # warm-up: function instantiation
    codec.decode_codes(warm, 32, 32)
    codec.functions.decode_all(warm, np.int32(32), np.int32(32))
    start = time.perf_counter()
    codes, _ = codec.encode_codes(image, top)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    codec.decode_codes(codes, height, width)
    decode = time.perf_counter() - start
    every = codec.functions.decode_all(codes, np.int32(height), np.int32(width)).numpy()
    per = {k: quality(image, every[k - 1]) for k in checkpoints}
    log(f"tf {name}: encode {encode:.2f} s, decode {decode:.2f} s, " + ", ".join(
        f"{k}: {q['ms_ssim']:.4f}/{q['psnr']:.2f} dB" for k, q in per.items()))
    return {"image": name, "codes": codes, "encode_seconds": encode, "decode_seconds": decode,
            "quality": per}


def bench_variant(backend, name, image, checkpoints, ref, log):
    """One variant's row of one image: its own encoder's codes, decoded by its own decoder."""
    top = max(checkpoints)
    height, width = image.shape[:2]
    backend.encode(image, 1)  # warm-up: allocation, XNNPACK packing, resize
    backend.decode(ref["codes"][:1], height, width)
    recons = {}

    def keep(t, bits, reconstruction):
        if t + 1 in checkpoints:  # what its decoder shows: through its post-filter step
            recons[t + 1] = presented(reconstruction, t + 1, height, width, backend.present)

    start = time.perf_counter()
    codes, _ = backend.encode(image, top, callback=keep)
    encode = time.perf_counter() - start
    start = time.perf_counter()
    decoded = backend.decode(codes, height, width)
    decode = time.perf_counter() - start
    assert np.array_equal(decoded, recons[top])  # its decoder rebuilds its encoder's image
    per = {k: quality(image, recons[k]) for k in checkpoints}
    agree = float((codes == ref["codes"]).mean())
    same = [bool(np.array_equal(c, r)) for c, r in zip(codes, ref["codes"])]
    log(f"{backend.variant} {name}: encode {encode:.2f} s, decode {decode:.2f} s, "
        f"bits equal to TF {agree:.4f}, " + ", ".join(
            f"{k}: {q['ms_ssim']:.4f}/{q['psnr']:.2f} dB" for k, q in per.items()))
    return {"image": name, "encode_seconds": encode, "decode_seconds": decode,
            "bit_agreement": agree, "iterations_equal_to_tf": same.index(False)
            if False in same else len(same), "quality": per}


def summarize(rows, checkpoints, reference=None):
    out = {"encode_seconds": float(np.mean([r["encode_seconds"] for r in rows])),
           "decode_seconds": float(np.mean([r["decode_seconds"] for r in rows])),
           "quality": {}}
    if "bit_agreement" in rows[0]:
        out["bit_agreement"] = float(np.mean([r["bit_agreement"] for r in rows]))
    for k in checkpoints:
        q = {m: float(np.mean([r["quality"][k][m] for r in rows])) for m in ("ms_ssim", "psnr")}
        if reference is not None:
            q["ms_ssim_delta"] = q["ms_ssim"] - reference["quality"][k]["ms_ssim"]
            q["psnr_delta"] = q["psnr"] - reference["quality"][k]["psnr"]
        out["quality"][k] = q
    return out


def markdown(result):
    ks = result["iterations"]
    head = ("| variant | step files | bits = TF | " + " | ".join(
        f"MS-SSIM @{k} (Δ) | PSNR @{k} (Δ dB)" for k in ks) + " | encode s | decode s |")
    lines = [head, "|" + "---|" * (5 + 2 * len(ks))]
    for name, s in result["summary"].items():
        size = s.get("bytes")
        cells = [name, f"{size / 1e6:.2f} MB" if size else "–",
                 f"{s['bit_agreement']:.4f}" if "bit_agreement" in s else "1 (ref)"]
        for k in ks:
            q = s["quality"][str(k)] if str(k) in s["quality"] else s["quality"][k]
            if "ms_ssim_delta" in q:
                cells += [f"{q['ms_ssim']:.4f} ({q['ms_ssim_delta']:+.4f})",
                          f"{q['psnr']:.2f} ({q['psnr_delta']:+.2f})"]
            else:
                cells += [f"{q['ms_ssim']:.4f}", f"{q['psnr']:.2f}"]
        cells += [f"{s['encode_seconds']:.2f}", f"{s['decode_seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    top = max(ks)
    lines += ["", f"{len(result['images'])} Kodak images ({', '.join(result['images'])}); "
              f"model {result['model_id']}, post-filter {result.get('post_filter_id')}; LiteRT {result['threads']} threads (XNNPACK), "
              f"encode/decode = mean seconds per image for {top} iterations (encode runs the "
              f"decoder too); TF row = package tf.functions on the same CPU. Δ = variant − TF."]
    return "\n".join(lines) + "\n"


def export_info(manifest):
    """Input size and int8 calibration of the export, naming no machine's paths."""
    info = {k: manifest.get(k) for k in ("height", "width", "calibration")}
    source = (info["calibration"] or {}).get("source")
    if source and os.path.isabs(source):  # relative to the working directory, as evaluate does
        info["calibration"] = dict(info["calibration"], source=os.path.relpath(source))
    return info


def write_results(path, result):
    """OUT (JSON) and OUT with ``.md``, each written atomically (rewritten after every image)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    table = markdown(json.loads(json.dumps(result, default=float)))
    for target, text in ((path, json.dumps(result, indent=2, default=float) + "\n"),
                         (os.path.splitext(path)[0] + ".md", table)):
        atomic_write_bytes(target, text.encode("utf-8"))
    return table


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="gru-w25")
    parser.add_argument("--tflite-dir", default=None,
                        help="a `tfrnncomp export tflite` folder to reuse or create (default: "
                        "a temp dir)")
    parser.add_argument("--variants", default=",".join(tflite.VARIANTS))
    parser.add_argument("--data", default=evaluate.DEFAULT_DATASET, help="Kodak folder")
    parser.add_argument("--images", type=int, default=24, help="first N Kodak images")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no further image after this many minutes of benchmarking "
                             "(the images done are reported)")
    parser.add_argument("--iterations", default="4,8,16")
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", required=True, help="JSON path; the table goes to .md beside")
    return parser


def _exported(codec, directory, variants, height, width, log):
    """The manifest of the TFLite export in ``directory``, exported first unless it is there
    for this model with all ``variants``."""
    manifest_path = os.path.join(directory, "tflite.json")
    manifest = json.load(open(manifest_path)) if os.path.isfile(manifest_path) else None
    if (manifest is None or manifest["model_id"] != codec.model_id
            or manifest.get("post_filter_id") != codec.post_filter_id
            or not set(variants) <= set(manifest["variants"])):
        start = time.time()
        manifest = tflite.export(codec.model, directory, height, width, variants,
                                 calibration_data=tflite.default_calibration_dir(), force=True,
                                 log=log, post_filter=codec.post_filter)
        log(f"exported {variants} in {time.time() - start:.0f} s")
    return manifest


def _summaries(per_image, checkpoints, variants, manifest):
    """The summary of TF and of each variant over the images done so far."""
    summary = {"tf": summarize(per_image["tf"], checkpoints)}
    summary["tf"]["bytes"] = None
    for variant in variants:
        summary[variant] = summarize(per_image[variant], checkpoints, summary["tf"])
        summary[variant]["bytes"] = sum(
            f["bytes"] for f in manifest["variants"][variant].values())
        summary[variant]["files"] = manifest["variants"][variant]
    return summary


def main(argv=None):
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    variants = [v for v in args.variants.split(",") if v]
    checkpoints = sorted({int(k) for k in args.iterations.split(",")})

    if not os.path.isdir(args.data):
        _log(f"bench_tflite: skipped: image folder {args.data} not found")
        return 0
    from tfrnncomp.codec import Codec

    codec = Codec(args.model)
    dataset = evaluate.load_dataset(args.data, limit=args.images)
    tmp = None
    directory = args.tflite_dir
    if directory is None:
        tmp = tempfile.TemporaryDirectory()
        directory = tmp.name
    manifest = _exported(codec, directory, variants, args.height, args.width, _log)
    backends = {v: LiteRTSteps(directory, v, num_threads=args.threads) for v in variants}
    per_image = {name: [] for name in ["tf"] + variants}
    started, table = time.time(), ""
    for name, image in zip(dataset.names, dataset.images):
        if args.budget_minutes is not None and time.time() - started > 60 * args.budget_minutes:
            _log(f"budget of {args.budget_minutes} min spent: stopping after "
                 f"{len(per_image['tf'])} of {len(dataset.names)} images")
            break
        reference = bench_tf(codec, name, image, checkpoints, _log)
        per_image["tf"].append(reference)
        for variant, backend in backends.items():
            per_image[variant].append(
                bench_variant(backend, name, image, checkpoints, reference, _log))
        reference.pop("codes")
        summary = _summaries(per_image, checkpoints, variants, manifest)
        result = {"model_id": codec.model_id, "images": [r["image"] for r in per_image["tf"]],
                  "post_filter_id": manifest.get("post_filter_id"),
                  "iterations": checkpoints, "threads": args.threads,
                  "export": export_info(manifest),
                  "minutes": (time.time() - started) / 60, "summary": summary,
                  "per_image": per_image, "environment": schema.environment()}
        table = write_results(args.out, result)
    print(table)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
