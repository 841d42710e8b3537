"""The ``tfrnncomp`` command line: a thin layer over :mod:`tfrnncomp.codec` and friends.

Every error the codec raises on purpose is printed as one line
(``tfrnncomp: error: ...``) with exit status 2; outputs are written
atomically and an input is never overwritten.
"""

import argparse
import contextlib
import json
import os
import sys
import warnings

from tfrnncomp import __version__
from tfrnncomp.errors import (InputImageWarning, TargetNotMetError, TfrnncompError, printable,
                              shown_path)


_SINGLE_FILE_PROGRESS = ("single file: show a progress bar on stderr by stage, also when "
                         "stderr is not a terminal (on a terminal it is shown for images "
                         "above 1 Mpx)")


def _add_verbose(parser, default):
    parser.add_argument("--verbose", action="store_true", default=default,
                        help="show TensorFlow's log messages (hidden by default)")


def _add_model(parser):
    parser.add_argument("--model", default=None,
                        help="zoo name or model directory (default: the shipped default model)")


def _max_pixels(text):
    """``--max-pixels``: a positive pixel count, or ``none`` for no limit."""
    if text.lower() == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"not a pixel count: {text!r} (a positive integer or "
                                         "'none')")
    return value


def _add_max_pixels(parser):
    from tfrnncomp.format.container import DEFAULT_MAX_PIXELS

    parser.add_argument("--max-pixels", type=_max_pixels, default=DEFAULT_MAX_PIXELS,
                        help="largest image, in pixels, to code or decode: files claiming more "
                        "are refused before any work (default %(default)s; 'none': no limit)")


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
    _add_verbose(parser, False)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compress", help="image (or folder of images) -> .trc; - is stdin or "
                       "stdout")
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
    p.add_argument("--best-effort", action="store_true",
                   help="when a budget or quality target cannot be met, write the nearest file "
                   "(one iteration, or all of them) instead of failing")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("-q", "--quiet", action="store_true",
                       help="single file: print nothing on success")
    shown.add_argument("--json", action="store_true",
                       help="single file: print the summary (bytes, bpp, iterations, target "
                       "met) as one JSON object (on stderr when the output is -)")
    p.add_argument("--drop-alpha", action="store_true", help="code RGBA images without alpha")
    p.add_argument("--progress", action="store_true",
                   help=_SINGLE_FILE_PROGRESS + "; never with --quiet or --json")
    p.add_argument("--jobs", type=int, default=1,
                   help="folder mode: parallel readers and compression workers (default 1)")
    p.add_argument("--force", action="store_true",
                   help="overwrite existing outputs (regular files only, never a device or FIFO)")
    _add_model(p)
    _add_backend(p)
    _add_max_pixels(p)

    p = sub.add_parser("decompress", help=".trc (or folder of them) -> image; - is stdin or "
                       "stdout (PNG)")
    p.add_argument("input"), p.add_argument("output")
    p.add_argument("--iterations", type=int, default=None,
                   help="decode only the first K iterations (default: all in the file)")
    p.add_argument("--format", default="png", help="image extension in folder mode (png)")
    p.add_argument("--progress", action="store_true", help=_SINGLE_FILE_PROGRESS)
    p.add_argument("--force", action="store_true",
                   help="overwrite existing outputs (regular files only, never a device or FIFO)")
    _add_model(p)
    _add_backend(p)
    _add_max_pixels(p)

    p = sub.add_parser("info", help="show a .trc file's header and per-iteration sizes")
    p.add_argument("file")
    p.add_argument("--compare", metavar="ORIGINAL", default=None,
                   help="decode every prefix and print bpp, PSNR and MS-SSIM against ORIGINAL")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--progress", action="store_true",
                   help="with --compare: show a progress bar on stderr, one step per iteration "
                   "decoded, also when stderr is not a terminal (never with --json)")
    _add_model(p)
    _add_max_pixels(p)

    p = sub.add_parser("train", help="train a model with model.fit (resumable)",
                       formatter_class=_DefaultsFormatter)
    p.add_argument("--data", required=True, help="image folder or tfds:NAME[:SPLIT]")
    p.add_argument("--config", required=True, help="model config JSON file")
    p.add_argument("--out", required=True, help="run directory (rerun to resume)")
    p.add_argument("--patch-size", type=int, default=64,
                   help="side of the square training crops, in pixels")
    p.add_argument("--batch-size", type=int, default=8,
                   help="crops per step (the global batch); 8 x 64x64 = 32 x 32x32 pixels")
    p.add_argument("--steps-per-epoch", type=int, default=100, help="training steps per epoch")
    p.add_argument("--epochs", type=int, default=100,
                   help="epochs in all: a rerun resumes until this many are done")
    p.add_argument("--learning-rate", type=float, default=5e-4, help="Adam's initial step size")
    p.add_argument("--decay-steps", type=int, default=20000,
                   help="steps over which the learning rate halves")
    p.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32",
                   help="arithmetic of the training step (variables stay float32; bf16 is fast "
                   "only on CPUs with AVX512-BF16 or AMX, and on GPUs)")
    p.add_argument("--jit-compile", action="store_true",
                   help="compile the training step with XLA (slower on the CPUs measured)")
    p.add_argument("--hard-patches", action="store_true",
                   help="train on the paper's high-entropy tiles (worst PNG ratio per image)")
    p.add_argument("--validation-steps", type=int, default=0,
                   help="batches of patch L1 to log as val_loss (0: none)")
    p.add_argument("--validation-images", type=int, default=8,
                   help="whole-image validation: centre crops of this many images of the "
                   "validation split, coded after every epoch (0: none)")
    p.add_argument("--validation-crop", type=int, default=256,
                   help="side of the whole-image validation crops")
    p.add_argument("--validation-fraction", type=float, default=0.05,
                   help="share of the --data images held out for validation, by a stable hash "
                   "of their paths")
    p.add_argument("--validation-data", default=None, metavar="FOLDER",
                   help="a folder of validation images, for --validation-steps and "
                   "--validation-images; then all of --data trains")
    p.add_argument("--seed", type=int, default=None, help="seed of the data order and crops "
                   "(random when not given)")
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

    from tfrnncomp import eval_command

    eval_command.add_parser(sub)
    for command in sub.choices.values():  # --verbose also after the command's name
        _add_verbose(command, argparse.SUPPRESS)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if not args.verbose:
        _quiet_libraries()
    try:
        with _one_line_warnings():
            return _COMMANDS[args.command](args) or 0
    except TfrnncompError as error:
        message = printable(error).replace("pass max_pixels= to raise it",
                                           "pass --max-pixels to raise it")
        print(f"tfrnncomp: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfrnncomp: interrupted", file=sys.stderr)
        return 130


def _quiet_libraries():
    """Hide TensorFlow's log messages (CUDA plugin registration, CPU feature notices,
    Python warnings) unless the user chose a level: before TensorFlow is imported."""
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf_logger = logging.getLogger("tensorflow")
    if tf_logger.level == logging.NOTSET:
        tf_logger.setLevel(logging.ERROR)
    try:
        from absl import flags
        from absl import logging as absl_logging
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        return
    if not flags.FLAGS["verbosity"].present:
        absl_logging.set_verbosity(absl_logging.ERROR)


@contextlib.contextmanager
def _one_line_warnings():
    """Show each warning as one ``tfrnncomp: warning: ...`` line on stderr; the codec's
    :class:`InputImageWarning` every time (once per file in folder mode)."""

    def show(message, category, filename, lineno, file=None, line=None):
        print(f"tfrnncomp: warning: {printable(message)}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.simplefilter("always", InputImageWarning)
        warnings.showwarning = show
        yield


def _check_iterations(iterations, model):
    """``--iterations`` within 1..the model's maximum, read from its config (no TensorFlow)."""
    if iterations is None:
        return
    from tfrnncomp import zoo
    from tfrnncomp.config import load_config

    top = load_config(os.path.join(zoo.resolve(model), zoo.CONFIG_FILE)).max_iterations
    if not 1 <= iterations <= top:
        raise TfrnncompError(f"--iterations must be in 1..{top}, got {iterations}")


def _check_compress_flags(args):
    """Refuse what the codec would refuse, in the flags' words and before TensorFlow loads."""
    _check_iterations(args.iterations, args.model)
    if args.slope is not None and not args.adaptive:
        raise TfrnncompError("--slope is a stopping rule of --adaptive; add --adaptive")
    if not args.adaptive:
        return
    if (args.target_psnr is None) == (args.slope is None):
        raise TfrnncompError("--adaptive needs one stopping rule: --target-psnr or --slope")
    refused = [flag for flag, value in (("--bpp", args.bpp), ("--target-size", args.target_size),
                                        ("--target-msssim", args.target_msssim))
               if value is not None]
    if refused:
        raise TfrnncompError("--adaptive takes --target-psnr, or --slope with an optional "
                             f"--iterations cap; not {' and '.join(refused)}")


def _compress(args):
    _check_compress_flags(args)
    from tfrnncomp import batch
    from tfrnncomp.codec import Codec

    batch.check_paths(args.input, args.output, args.force)
    batch.check_output_name(args.input, args.output, compress=True)
    codec = Codec(args.model, backend=args.backend, max_pixels=args.max_pixels)
    kwargs = dict(iterations=args.iterations, bpp=args.bpp, target_size=args.target_size,
                  target_msssim=args.target_msssim, target_psnr=args.target_psnr,
                  drop_alpha=args.drop_alpha, entropy=args.entropy,
                  best_effort=args.best_effort)
    if args.adaptive or args.slope is not None:
        kwargs.update(adaptive=args.adaptive, slope=args.slope, block=args.block)
    if args.input != batch.STDIO and os.path.isdir(args.input):
        return batch.compress_folder(codec, args.input, args.output, force=args.force,
                                     jobs=args.jobs, **kwargs)
    try:
        with _stage_bar(args, "compress", lambda: _image_pixels(args.input),
                        quiet=args.quiet or args.json) as progress:
            summary = batch.compress_file(codec, args.input, args.output, force=args.force,
                                          progress=progress, **kwargs)
    except TargetNotMetError as error:
        raise TargetNotMetError(f"{error}; pass --best-effort to write it") from None
    if not args.quiet:
        stream = sys.stderr if args.output == batch.STDIO else sys.stdout
        summary = {"file": args.output, **summary}
        print(json.dumps(summary) if args.json else _summary_line(summary), file=stream)
    return 0


def _stage_bar(args, command, pixels, quiet=False):
    """A :class:`tfrnncomp.progress.Stages` bar over ``command``'s stages if one is wanted
    (``pixels``: a function giving the image's pixel count), else a context giving None."""
    from tfrnncomp import progress

    if progress.wanted(args.progress, pixels, quiet):
        return progress.Stages(command, progress.STAGES[command])
    return contextlib.nullcontext()


def _image_pixels(path):
    """The pixel count in an image file's header (None for stdin or a file Pillow cannot
    open: opening it for real then says why)."""
    from PIL import Image

    from tfrnncomp.batch import STDIO

    if path == STDIO:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression bomb warns once, when read
            with Image.open(path) as image:
                return image.width * image.height
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _trc_pixels(path):
    """The pixel count in a .trc file's header (None for stdin or a damaged header)."""
    from tfrnncomp import image_io
    from tfrnncomp.format import container as bitstream
    from tfrnncomp.batch import STDIO

    if path == STDIO:
        return None
    try:
        with image_io.open_regular(path) as handle:
            header, _ = bitstream.decode_header(handle.read(1 << 20), max_pixels=None)
    except (OSError, TfrnncompError):
        return None
    return header.height * header.width


def _summary_line(summary):
    """``out.trc: 11936 bytes, 0.7421 bpp, 1 iteration``, the quality reached for a quality
    target, and a missed goal (written with --best-effort)."""
    from tfrnncomp.batch import STDIO
    from tfrnncomp.rate import shown_quality

    count = summary["iterations"]
    name = "stdout" if summary["file"] == STDIO else shown_path(summary["file"])
    line = (f"{name}: {summary['bytes']} bytes, {summary['bpp']:.4f} bpp, {count} "
            f"iteration{'' if count == 1 else 's'}")
    for metric in ("psnr", "ms_ssim"):
        if metric in summary:
            line += ", " + shown_quality(metric, summary[metric])
    if summary.get("met") is False:
        value = summary["target_value"]
        value = f"{value:g}" if isinstance(value, float) else value
        line += (f"; --{summary['target'].replace('_', '-')} {value} not met, the nearest file "
                 "written (--best-effort)")
    return line


def _decompress(args):
    _check_iterations(args.iterations, args.model)
    from tfrnncomp import batch
    from tfrnncomp.codec import Codec

    batch.check_paths(args.input, args.output, args.force)
    batch.check_output_name(args.input, args.output, compress=False, fmt=args.format)
    codec = Codec(args.model, backend=args.backend, max_pixels=args.max_pixels)
    if args.input != batch.STDIO and os.path.isdir(args.input):
        return batch.decompress_folder(codec, args.input, args.output, fmt=args.format,
                                       iterations=args.iterations, force=args.force)
    with _stage_bar(args, "decompress", lambda: _trc_pixels(args.input)) as progress:
        batch.decompress_file(codec, args.input, args.output, iterations=args.iterations,
                              force=args.force, progress=progress)
    if args.output != batch.STDIO:
        print(f"{shown_path(args.output)}: written")
    return 0


def _info(args):
    from tfrnncomp import batch, progress

    bar = None
    if args.compare is not None and progress.wanted(args.progress, quiet=args.json):
        bar = progress.iterations("compare")
    report = batch.info(args.file, compare=args.compare, model=args.model,
                        max_pixels=args.max_pixels, progress=bar)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(batch.format_info(report))
    return 0


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, where it has one (not None, not a switch)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.required:
            return action.help
        return super()._get_help_string(action)


def _train(args):
    from tfrnncomp import distribute

    distribute.check_strategy(args.strategy)  # before TensorFlow is imported
    if args.cpu_devices is not None:
        distribute.configure_cpu_devices(args.cpu_devices)  # before TF initialises devices
    from tfrnncomp.train import TrainingConfig, train

    training = TrainingConfig(
        data=args.data, batch_size=args.batch_size, patch_size=args.patch_size,
        steps_per_epoch=args.steps_per_epoch, validation_images=args.validation_images,
        validation_crop=args.validation_crop, epochs=args.epochs,
        learning_rate=args.learning_rate, decay_steps=args.decay_steps,
        hard_patches=args.hard_patches, validation_steps=args.validation_steps, seed=args.seed,
        strategy=args.strategy, validation_fraction=args.validation_fraction,
        validation_data=args.validation_data or "", precision=args.precision,
        jit_compile=args.jit_compile)
    train(args.config, training, args.out, verbose="auto" if sys.stdout.isatty() else 2)
    return 0


def _export_weights(args):
    from tfrnncomp.train import export_run

    print(export_run(args.run_dir, args.output))
    return 0


def _entropy_id(path):
    """The BinaryRNN id of a model directory's ``binaryrnn.json`` ("none" without one)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get("entropy_id", "unknown")
    except OSError:
        return "none (context coding)"


def _models(args):
    from tfrnncomp import zoo
    from tfrnncomp.config import load_config

    for name in zoo.available_models():
        path = zoo.resolve(name)
        config = load_config(os.path.join(path, zoo.CONFIG_FILE))
        entropy = _entropy_id(os.path.join(path, "binaryrnn.json"))
        size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
        print(f"{name}{' (default)' if name == zoo.DEFAULT_MODEL else ''}: "
              f"{zoo.model_id(zoo.load_model(name))}, {config.cell}, width {config.width}, "
              f"{config.max_iterations} iterations (useful "
              f"{config.useful_iterations or config.max_iterations}, default "
              f"{config.default_iterations}), entropy model {entropy}, {size / 1e6:.1f} MB")
    return 0


def _eval(args):
    from tfrnncomp import eval_command

    return eval_command.main(args)


_COMMANDS = {"compress": _compress, "decompress": _decompress, "info": _info, "train": _train,
             "export-weights": _export_weights, "models": _models, "eval": _eval}


if __name__ == "__main__":
    sys.exit(main())
