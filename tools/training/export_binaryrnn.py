"""Quantize a trained float BinaryRNN to the integer net that entropy mode ``binaryrnn`` codes
with, ship it next to its codec model, and compare entropy models on the validation codes.

    python tools/training/export_binaryrnn.py --run runs/binaryrnn \\
        --calibration codes-train.tfrecord --validation codes-val.tfrecord --model gru-w25

Writes ``tfrnncomp/model/zoo/<model>/binaryrnn.bin`` (the integer net; its SHA-256 is the entropy
model id), ``binaryrnn.json`` (config, ids, training record) and
``results/entropy/validation.json`` + ``.md``: bits per coded bit on the validation split for
raw, the context model, the float BinaryRNN and the integer BinaryRNN.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _codes(paths, limit=None):
    from tfrnncomp.entropy.training.codes_data import codes_dataset

    data = codes_dataset(paths)
    if limit:
        data = data.take(limit)
    return [codes.numpy() for codes in data]


def validation_bits(model, net, tensors):
    """Bits per coded bit of every model on ``tensors`` (each ``[T, h, w, bits]``)."""
    import numpy as np

    from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder, context
    from tfrnncomp.entropy.coding.context import previous_bits
    from tfrnncomp.entropy.training import binaryrnn

    totals = {"raw": 0.0, "context": 0.0, "binaryrnn_float": 0.0, "binaryrnn_integer": 0.0}
    for codes in tensors:
        bits = (codes > 0).astype(np.uint8)
        totals["raw"] += bits.size
        totals["context"] += sum(context.code_length(bits[t], previous_bits(bits, t))
                                 for t in range(len(bits)))
        p1 = binaryrnn.float_probabilities(model, codes)
        totals["binaryrnn_float"] += float(-np.log2(np.where(bits > 0, p1, 1 - p1)).sum())
        totals["binaryrnn_integer"] += float(binaryrnn_coder.code_length(net, codes).sum())
    raw = totals.pop("raw")
    return {"coded_bits": int(raw), "tensors": len(tensors),
            "bits_per_bit": {name: round(value / raw, 5) for name, value in totals.items()}}


def _json_bytes(value):
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, help="train_entropy.py output directory")
    parser.add_argument("--calibration", nargs="+", required=True, help="train-split codes")
    parser.add_argument("--validation", nargs="+", required=True, help="validation codes")
    parser.add_argument("--model", default="gru-w25", help="the codec model the codes are of")
    parser.add_argument("--calibration-tensors", type=int, default=32)
    parser.add_argument("--out", default=None, help="default: the zoo model's binaryrnn.bin")
    parser.add_argument("--results", default=os.path.join(ROOT, "results", "entropy"))
    args = parser.parse_args(argv)
    for path in args.calibration + args.validation:
        if not os.path.isfile(path):
            print(f"export_binaryrnn: no code file {path}", file=sys.stderr)
            return 2
    from tfrnncomp.atomic import atomic_write_bytes
    from tfrnncomp.model import zoo
    from tfrnncomp.entropy.training import binaryrnn
    from tfrnncomp.entropy.training.quantize import quantize
    from tfrnncomp.entropy.coding.integer_net import accumulator_bounds

    with open(os.path.join(args.run, "config.json"), encoding="utf-8") as handle:
        config = binaryrnn.BinaryRNNConfig.from_dict(json.load(handle))
    model = binaryrnn.build_model(config)
    model.load_weights(os.path.join(args.run, "float.weights.h5"))
    codec_id = zoo.model_id(zoo.load_model(args.model))
    net = quantize(model, _codes(args.calibration, args.calibration_tensors), codec_id)
    out = args.out or os.path.join(zoo.resolve(args.model), zoo.ENTROPY_FILE)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    atomic_write_bytes(out, net.to_bytes())
    report = {"entropy_id": net.entropy_id, "codec_model_id": codec_id,
              "config": config.to_dict(), "accumulator_bounds": accumulator_bounds(net),
              "validation": validation_bits(model, net, _codes(args.validation))}
    log = os.path.join(args.run, "log.csv")
    if os.path.isfile(log):
        with open(log, encoding="utf-8") as handle:
            report["training_log"] = handle.read().strip().splitlines()
    atomic_write_bytes(os.path.splitext(out)[0] + ".json", _json_bytes(report))
    os.makedirs(args.results, exist_ok=True)
    atomic_write_bytes(os.path.join(args.results, "validation.json"), _json_bytes(
        {k: report[k] for k in ("entropy_id", "codec_model_id", "validation")}))
    rows = ["| model | bits per coded bit | saved vs raw |", "|---|---|---|"]
    for name, value in report["validation"]["bits_per_bit"].items():
        rows.append(f"| {name} | {value:.4f} | {100 * (1 - value):.1f} % |")
    atomic_write_bytes(os.path.join(args.results, "validation.md"), (
        f"Validation split codes of {codec_id} ({report['validation']['tensors']} crops), "
        f"entropy model {net.entropy_id}\n\n" + "\n".join(rows) + "\n").encode())
    print(f"{out}: {net.entropy_id}\n" + "\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
