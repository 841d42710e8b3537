"""The ``tfrnncomp`` command line: a thin layer over :mod:`tfrnncomp.codec` and friends.

Every error the codec raises on purpose is printed as one line
(``tfrnncomp: error: ...``) with exit status 2; outputs are written
atomically and an input is never overwritten.
"""

import argparse
import json
import os
import sys

from tfrnncomp import __version__
from tfrnncomp.errors import TfrnncompError

EXTENSION = ".trc"


def _add_model(parser):
    parser.add_argument("--model", default=None,
                        help="zoo name or model directory (default: the shipped default model)")


def _add_backend(parser):
    from tfrnncomp.litert import BACKENDS

    parser.add_argument("--backend", choices=sorted(BACKENDS), default="tf",
                        help="runtime of the model: tf (TensorFlow graph, default) or a LiteRT "
                             "variant (needs ai-edge-litert); files are the same format")


_UNITS = {"": 1, "B": 1, "KB": 1000, "K": 1000, "KIB": 1024, "MB": 1000 ** 2, "M": 1000 ** 2,
          "MIB": 1024 ** 2}


def _size(text):
    """``40KB`` -> 40000 bytes (KB/MB are decimal, KiB/MiB binary)."""
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 40000, 40KB, 1.5MB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _parser():
    parser = argparse.ArgumentParser(
        prog="tfrnncomp", description="Image compression with recurrent networks "
        "(Toderici et al. 2017).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compress", help="image (or folder of images) -> .trc")
    p.add_argument("input"), p.add_argument("output")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--iterations", type=int, default=None,
                      help="iterations, 0.125 bpp each before entropy coding (default: 8, "
                      "or the model's useful iterations if fewer; `tfrnncomp models`)")
    rate.add_argument("--bpp", "--target-bpp", dest="bpp", type=float, default=None,
                      help="budget in bits per pixel for the whole file")
    rate.add_argument("--target-size", type=_size, default=None, metavar="SIZE",
                      help="budget for the whole file: bytes, or with a unit (40KB, 1.5MB)")
    rate.add_argument("--target-msssim", type=float, default=None,
                      help="fewest iterations reaching this MS-SSIM (e.g. 0.95)")
    rate.add_argument("--target-psnr", type=float, default=None,
                      help="fewest iterations reaching this PSNR in dB (e.g. 32)")
    p.add_argument("--entropy", choices=("auto", "binaryrnn", "context", "raw"), default="auto",
                   help="entropy coding of the bits: binaryrnn (the BinaryRNN), context "
                   "(adaptive context model) or raw; auto (default): binaryrnn if the model "
                   "ships one, else context")
    p.add_argument("--adaptive", action="store_true",
                   help="spatially adaptive: each 32x32 block stops once it reaches "
                   "--target-psnr (or --slope)")
    p.add_argument("--slope", type=float, default=None,
                   help="with --adaptive: stop a block once an iteration lowers its MSE by at "
                   "most this (equal-slope allocation; --iterations caps the count)")
    p.add_argument("--block", type=int, default=2,
                   help="with --adaptive: block size in 16x16 code positions (default 2)")
    p.add_argument("--drop-alpha", action="store_true", help="code RGBA images without alpha")
    p.add_argument("--jobs", type=int, default=1,
                   help="folder mode: parallel readers and compression workers (default 1)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    _add_model(p)
    _add_backend(p)

    p = sub.add_parser("decompress", help=".trc (or folder of them) -> image")
    p.add_argument("input"), p.add_argument("output")
    p.add_argument("--iterations", type=int, default=None,
                   help="decode only the first K iterations (default: all in the file)")
    p.add_argument("--format", default="png", help="image extension in folder mode (png)")
    p.add_argument("--force", action="store_true", help="overwrite existing outputs")
    _add_model(p)
    _add_backend(p)

    p = sub.add_parser("info", help="show a .trc file's header and per-iteration sizes")
    p.add_argument("file")
    p.add_argument("--compare", metavar="ORIGINAL", default=None,
                   help="decode every prefix and print bpp, PSNR and MS-SSIM against ORIGINAL")
    p.add_argument("--json", action="store_true", help="print JSON")
    _add_model(p)

    p = sub.add_parser("train", help="train a model with model.fit (resumable)")
    p.add_argument("--data", required=True, help="image folder or tfds:NAME[:SPLIT]")
    p.add_argument("--config", required=True, help="model config JSON file")
    p.add_argument("--out", required=True, help="run directory (rerun to resume)")
    p.add_argument("--patch-size", type=int, default=64,
                   help="side of the square training crops, in pixels")
    p.add_argument("--batch-size", type=int, default=8,
                   help="crops per step (the global batch); 8 x 64x64 = 32 x 32x32 pixels")
    p.add_argument("--steps-per-epoch", type=int, default=100)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--learning-rate", type=float, default=5e-4)
    p.add_argument("--decay-steps", type=int, default=20000)
    p.add_argument("--hard-patches", action="store_true",
                   help="train on the paper's high-entropy tiles (worst PNG ratio per image)")
    p.add_argument("--validation-steps", type=int, default=0,
                   help="batches of patch L1 to log as val_loss (0: none)")
    p.add_argument("--validation-images", type=int, default=8,
                   help="whole-image validation: centre crops of this many images of the "
                   "validation split, coded after every epoch (0: none)")
    p.add_argument("--validation-crop", type=int, default=256,
                   help="side of the whole-image validation crops")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--strategy", default="default", metavar="{default,mirrored,multi_worker}",
                   help="tf.distribute strategy: default (one device), mirrored (all local GPUs, "
                   "or the logical CPUs of --cpu-devices), multi_worker (hosts of TF_CONFIG); "
                   "--batch-size is the global batch")
    p.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                   help="split the CPU into N logical devices (to try --strategy mirrored "
                   "without GPUs)")

    p = sub.add_parser("export-weights", help="copy a run's weights into a model directory")
    p.add_argument("run_dir"), p.add_argument("output")

    sub.add_parser("models", help="list the shipped models")
    return parser


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ log quiet
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args) or 0
    except TfrnncompError as error:
        print(f"tfrnncomp: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfrnncomp: interrupted", file=sys.stderr)
        return 130


def _compress(args):
    from tfrnncomp import batch
    from tfrnncomp.codec import Codec

    batch.check_paths(args.input, args.output, args.force)
    codec = Codec(args.model, backend=args.backend)
    kwargs = dict(iterations=args.iterations, bpp=args.bpp, target_size=args.target_size,
                  target_msssim=args.target_msssim, target_psnr=args.target_psnr,
                  drop_alpha=args.drop_alpha, entropy=args.entropy)
    if args.adaptive or args.slope is not None:
        kwargs.update(adaptive=args.adaptive, slope=args.slope, block=args.block)
    if os.path.isdir(args.input):
        return batch.compress_folder(codec, args.input, args.output, force=args.force,
                                     jobs=args.jobs, **kwargs)
    batch.compress_file(codec, args.input, args.output, **kwargs)
    size = os.path.getsize(args.output)
    print(f"{args.output}: {size} bytes")
    return 0


def _decompress(args):
    from tfrnncomp import batch
    from tfrnncomp.codec import Codec

    batch.check_paths(args.input, args.output, args.force)
    codec = Codec(args.model, backend=args.backend)
    if os.path.isdir(args.input):
        return batch.decompress_folder(codec, args.input, args.output, fmt=args.format,
                                       iterations=args.iterations, force=args.force)
    batch.decompress_file(codec, args.input, args.output, iterations=args.iterations)
    print(f"{args.output}: written")
    return 0


def _info(args):
    from tfrnncomp import batch

    report = batch.info(args.file, compare=args.compare, model=args.model)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(batch.format_info(report))
    return 0


def _train(args):
    from tfrnncomp import distribute

    distribute.check_strategy(args.strategy)  # before TensorFlow is imported
    if args.cpu_devices is not None:
        distribute.configure_cpu_devices(args.cpu_devices)  # before TF initialises devices
    from tfrnncomp.train import TrainingConfig, train

    training = TrainingConfig(
        data=args.data, batch_size=args.batch_size, patch_size=args.patch_size,
        steps_per_epoch=args.steps_per_epoch, validation_images=args.validation_images,
        validation_crop=args.validation_crop, epochs=args.epochs, learning_rate=args.learning_rate, decay_steps=args.decay_steps,
        hard_patches=args.hard_patches, validation_steps=args.validation_steps, seed=args.seed,
        strategy=args.strategy)
    train(args.config, training, args.out, verbose="auto" if sys.stdout.isatty() else 2)
    return 0


def _export_weights(args):
    from tfrnncomp.train import export_run

    print(export_run(args.run_dir, args.output))
    return 0


def _models(args):
    from tfrnncomp import zoo

    from tfrnncomp.config import load_config

    for name in zoo.available_models():
        config = load_config(os.path.join(zoo.resolve(name), zoo.CONFIG_FILE))
        print(f"{name}{' (default)' if name == zoo.DEFAULT_MODEL else ''}: {config.cell}, width "
              f"{config.width}, {config.max_iterations} iterations (useful "
              f"{config.useful_iterations or config.max_iterations}, default "
              f"{config.default_iterations})")
    return 0


_COMMANDS = {"compress": _compress, "decompress": _decompress, "info": _info, "train": _train,
             "export-weights": _export_weights, "models": _models}


if __name__ == "__main__":
    sys.exit(main())
