"""Turn a shipped integer BinaryRNN back into a float training run, to continue training it.

    python tools/training/dequantize_binaryrnn.py --model gru-w25 --out runs/binaryrnn-shipped
    python tools/training/dequantize_binaryrnn.py --bin PATH/binaryrnn.bin --out RUN_DIR
    python tools/training/train_entropy.py --init runs/binaryrnn-shipped --train ... \\
        --validation ... --out runs/binaryrnn-tuned

The float weights of a shipped net are its integers times their scales
(:func:`tfrnncomp.entropy.training.quantize.dequantize`).  Writes ``<out>/config.json``,
``<out>/float.weights.h5``, ``<out>/log.csv`` (the header only: the continuation starts at
pass 0 with no best validation loss to beat) and ``<out>/source.json`` (the entropy model id
and codec model id it came from): a run that ``train_entropy.py --init`` accepts.
"""

import argparse
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LOG_HEADER = "epoch,loss,val_loss\n"
RUN_FILES = ("config.json", "float.weights.h5", "log.csv", "source.json")


def load_net(path):
    """The :class:`IntegerNet` in ``path``; ValueError (one line) if it is none."""
    from tfrnncomp.atomic import open_regular
    from tfrnncomp.entropy.coding.integer_net import FORMAT, IntegerNet
    from tfrnncomp.errors import TfrnncompError

    try:
        with open_regular(path) as handle:
            net = IntegerNet.from_bytes(handle.read())
    except OSError as error:
        raise ValueError(f"cannot read {path}: {error.strerror or error}") from None
    except (TfrnncompError, ValueError, KeyError, IndexError, TypeError, struct.error) as error:
        raise ValueError(f"{path}: not a BinaryRNN integer model ({error})") from None
    if net.meta.get("format") != FORMAT or "calibration" not in net.meta:
        raise ValueError(f"{path}: not a BinaryRNN integer model (no {FORMAT} calibration)")
    return net


def write_run(net, out):
    """Write the float run of ``net`` into the folder ``out``."""
    from tfrnncomp.atomic import atomic_path, atomic_write_bytes
    from tfrnncomp.entropy.training.quantize import dequantize

    model = dequantize(net)
    os.makedirs(out, exist_ok=True)
    atomic_write_bytes(os.path.join(out, "config.json"), (model.config_.to_json() + "\n").encode())
    with atomic_path(os.path.join(out, "float.weights.h5"), suffix=".weights.h5") as tmp:
        model.save_weights(tmp)
    atomic_write_bytes(os.path.join(out, "log.csv"), LOG_HEADER.encode())
    source = {"entropy_id": net.entropy_id, "codec_model_id": net.codec_model_id,
              "calibration": net.meta["calibration"]}
    atomic_write_bytes(os.path.join(out, "source.json"),
                       (json.dumps(source, indent=2, sort_keys=True) + "\n").encode())
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default="gru-w25",
                        help="the zoo model (or model folder) whose binaryrnn.bin to read")
    source.add_argument("--bin", help="an integer BinaryRNN file instead")
    parser.add_argument("--out", required=True, help="the run folder to write")
    parser.add_argument("--force", action="store_true", help="replace a run already in --out")
    args = parser.parse_args(argv)
    try:
        path = args.bin or _zoo_bin(args.model)
        if not args.force and any(os.path.exists(os.path.join(args.out, name))
                                  for name in RUN_FILES):
            raise ValueError(f"{args.out} already holds a run; pass --force to replace it")
        net = load_net(path)
    except ValueError as error:
        print(f"dequantize_binaryrnn: {error}", file=sys.stderr)
        return 2
    model = write_run(net, args.out)
    shapes = ", ".join(f"{w.path} {tuple(w.shape)}" for w in model.weights)
    print(f"{args.out}: float run of {net.entropy_id} (codec {net.codec_model_id}): {shapes}")
    return 0


def _zoo_bin(model):
    from tfrnncomp.errors import TfrnncompError
    from tfrnncomp.model import zoo

    try:
        path = zoo.entropy_model_path(model)
    except TfrnncompError as error:
        raise ValueError(str(error)) from None
    if path is None:
        raise ValueError(f"model {model!r} has no {zoo.ENTROPY_FILE}")
    return path


if __name__ == "__main__":
    sys.exit(main())
