"""``tfrnncomp export savedmodel|tflite OUT_DIR``: the deployment exports of
:mod:`tfrnncomp.export` (a SavedModel for TF Serving, TFLite step models for LiteRT).

The flags, the model and the outputs are checked before TensorFlow is imported; an existing
output is replaced only with ``--force``, and every output is written atomically.
"""

import argparse
import importlib.util
import os
import sys

from tfrnncomp.errors import TfrnncompError, shown_path

DESCRIPTION = """\
savedmodel: OUT_DIR/VERSION/, a SavedModel with the signatures compress (image uint8[H,W,3],
iterations -> codes, reconstruction), decompress (codes, height, width -> image) and
serving_default (= compress), for TensorFlow Serving (OUT_DIR is its model base path).
tflite: OUT_DIR/{encoder,decoder}_step.VARIANT.tflite and OUT_DIR/tflite.json, one iteration's
encoder and decoder as TFLite models, run by tfrnncomp.export.litert_backend."""


def _positive(text):
    """A positive integer flag value."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a positive integer: {text!r}")
    return value


def add_parser(sub, each_parser=lambda parser: None):
    """The ``export`` sub-command of the ``tfrnncomp`` parser; ``each_parser`` is applied
    to the parser of each export kind (the flags every command takes)."""
    p = sub.add_parser("export", help="deployment exports: a SavedModel for TF Serving, or "
                       "TFLite step models", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = p.add_subparsers(dest="export_kind", required=True, metavar="{savedmodel,tflite}")
    for parser in (_add_savedmodel(kinds), _add_tflite(kinds)):
        parser.add_argument("--model", default=None, help="zoo name or model directory "
                            "(default: the shipped default model)")
        parser.add_argument("--force", action="store_true", help="replace existing outputs")
        each_parser(parser)
    return p


def _add_savedmodel(kinds):
    p = kinds.add_parser("savedmodel", help="OUT_DIR/VERSION/: a SavedModel with compress and "
                         "decompress signatures")
    p.add_argument("out_dir", metavar="OUT_DIR", help="model base path (versions go below it)")
    p.add_argument("--version", type=_positive, default=1, help="version folder (default 1)")
    p.add_argument("--with-range-coder", action="store_true",
                   help="add compress_trc/decompress_trc, range-coded .trc chunks in the graph "
                   "(needs the tensorflow-compression ops when loaded)")
    return p


def _add_tflite(kinds):
    from tfrnncomp.runtime.litert import VARIANTS

    p = kinds.add_parser("tflite", help="OUT_DIR/*.tflite: the encoder and decoder steps as "
                         "TFLite models")
    p.add_argument("out_dir", metavar="OUT_DIR", help="folder of the .tflite files and "
                   "tflite.json (other variants already there are kept)")
    p.add_argument("--height", type=_positive, default=512, metavar="H",
                   help="input height, rounded up to a multiple of 32 (default 512)")
    p.add_argument("--width", type=_positive, default=768, metavar="W",
                   help="input width, rounded up to a multiple of 32 (default 768)")
    p.add_argument("--dynamic", action="store_true", help="unknown H and W in the models")
    p.add_argument("--quantize", default=",".join(VARIANTS), metavar="VARIANTS",
                   help=f"comma-separated variants out of {','.join(VARIANTS)} (default: all)")
    p.add_argument("--calibration-data", default=None, metavar="FOLDER",
                   help="images for the int8 calibration (default: the training data if found, "
                   "else synthetic images)")
    p.add_argument("--calibration-images", type=_positive, default=4, metavar="N",
                   help="mosaics of 128x128 patches used for int8 calibration (default 4)")
    p.add_argument("--calibration-iterations", type=_positive, default=None, metavar="N",
                   help="iterations per calibration image (default: the model's maximum)")
    return p


def _check_savedmodel(args):
    """The version folder, refused if it exists (without --force) or cannot be one."""
    from tfrnncomp.model import zoo

    zoo.resolve(args.model)
    if args.with_range_coder and importlib.util.find_spec("tensorflow_compression_ops") is None:
        raise TfrnncompError("--with-range-coder needs the tensorflow-compression-ops package")
    if os.path.lexists(args.out_dir) and not os.path.isdir(args.out_dir):
        raise TfrnncompError(f"{shown_path(args.out_dir)}: is not a folder")
    target = os.path.join(args.out_dir, str(args.version))
    if os.path.lexists(target) and not (args.force and os.path.isdir(target)):
        reason = "exists; pass --force to overwrite it" if os.path.isdir(target) else \
            "is not a folder; refusing to replace it"
        raise TfrnncompError(f"{shown_path(target)}: {reason}")


def _savedmodel(args):
    _check_savedmodel(args)
    from tfrnncomp.export import savedmodel

    path = savedmodel.export(args.model, args.out_dir, args.version, args.force,
                             args.with_range_coder)
    print(f"{shown_path(path)}: written")
    return 0


def _check_tflite(args):
    """The variants of --quantize, after checking the flags and the outputs."""
    from tfrnncomp.apps.commands import check_iterations
    from tfrnncomp.export import tflite
    from tfrnncomp.model import zoo

    try:
        variants = tflite.check_variants(v.strip() for v in args.quantize.split(",") if v.strip())
    except TfrnncompError as error:
        raise TfrnncompError(f"--quantize: {error}") from None
    zoo.resolve(args.model)
    check_iterations(args.calibration_iterations, args.model, "--calibration-iterations")
    data = args.calibration_data
    if data is not None and not os.path.isdir(data):
        raise TfrnncompError(f"{shown_path(data)}: --calibration-data is not a folder")
    tflite.check_outputs(args.out_dir, variants, args.force)
    return variants


def _tflite(args):
    variants = _check_tflite(args)
    from tfrnncomp.export import tflite

    manifest = tflite.export(
        args.model, args.out_dir, args.height, args.width, variants, args.dynamic,
        args.calibration_data or tflite.default_calibration_dir(), args.calibration_images,
        args.calibration_iterations, force=args.force, log=lambda m: print(m, file=sys.stderr))
    for variant in variants:
        for step, info in manifest["variants"][variant].items():
            path = shown_path(os.path.join(args.out_dir, info["file"]))
            print(f"{variant:13s} {step:13s} {info['bytes']:>10d}  {path}")
    return 0


def main(args):
    """Run ``tfrnncomp export`` for parsed arguments; returns the exit status."""
    command = {"savedmodel": _savedmodel, "tflite": _tflite}[args.export_kind]
    try:
        return command(args)
    except OSError as error:  # e.g. no permission to create OUT_DIR
        where = shown_path(error.filename) if error.filename else args.out_dir
        raise TfrnncompError(f"{where}: {error.strerror or error}") from None
