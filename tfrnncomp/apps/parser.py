"""The ``tfrnncomp`` command's argument parser: one sub-command per command of
:mod:`tfrnncomp.apps.commands`, with the codec's flags and their help."""

import argparse

from tfrnncomp import __version__

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
    from tfrnncomp.runtime.litert import BACKENDS

    parser.add_argument("--backend", choices=sorted(BACKENDS), default="tf",
                        help="runtime of the model: tf (TensorFlow graph, default) or a LiteRT "
                             "variant (needs ai-edge-litert); files are the same format")


_UNITS = {"": 1, "B": 1, "KB": 1000, "K": 1000, "KIB": 1024, "MB": 1000 ** 2, "M": 1000 ** 2,
          "MIB": 1024 ** 2}


def parse_size(text):
    """``40KB`` -> 40000 bytes (KB/MB are decimal, KiB/MiB binary)."""
    import re

    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 40000, 40KB, 1.5MB)")
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


class _DefaultsFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help that shows each option's default, where it has one (not None, not a switch)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.required:
            return action.help
        return super()._get_help_string(action)


def build_parser():
    """The parser of the ``tfrnncomp`` command (no TensorFlow is imported)."""
    parser = argparse.ArgumentParser(
        prog="tfrnncomp", description="Image compression with recurrent networks "
        "(Toderici et al. 2017).")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_verbose(parser, False)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_compress(sub)
    _add_decompress(sub)
    _add_info(sub)
    _add_train(sub)
    p = sub.add_parser("export-weights", help="copy a run's weights into a model directory")
    p.add_argument("run_dir"), p.add_argument("output")

    sub.add_parser("models", help="list the shipped models")

    from tfrnncomp.apps import eval_command, export_command

    def verbose_after_name(command):  # --verbose also after the command's name
        _add_verbose(command, argparse.SUPPRESS)

    export_command.add_parser(sub, each_parser=verbose_after_name)
    eval_command.add_parser(sub)
    for command in sub.choices.values():
        verbose_after_name(command)
    return parser


def _add_coding_flags(parser):
    """``--force``, ``--model``, ``--backend``, ``--max-pixels`` and ``--no-post-filter`` of
    compress and decompress."""
    parser.add_argument("--force", action="store_true", help="overwrite existing outputs "
                        "(regular files only, never a device or FIFO)")
    _add_model(parser)
    _add_backend(parser)
    _add_max_pixels(parser)
    add_post_filter_flag(parser, "decoded images without the model's post-filter (the decoder's "
                         "own output; files are the same either way)")


def add_post_filter_flag(parser, help):
    """``--no-post-filter``: ``args.post_filter`` is ``"auto"`` (the model directory's filter,
    if it has one) or ``None`` (the decoder's own images); the CLI and the tools share it."""
    parser.add_argument("--no-post-filter", dest="post_filter", action="store_const",
                        const=None, default="auto", help=help)


def _add_compress(sub):
    """Sub-command ``compress``: the rate, entropy and adaptive flags."""
    p = sub.add_parser("compress", help="image (or folder of images) -> .trc; - is stdin or "
                       "stdout")
    p.add_argument("input"), p.add_argument("output")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--iterations", type=int, default=None,
                      help="iterations, 0.125 bpp each before entropy coding (default: 8, "
                      "or the model's useful iterations if fewer; `tfrnncomp models`)")
    rate.add_argument("--bpp", "--target-bpp", dest="bpp", type=float, default=None,
                      help="budget in bits per pixel for the whole file")
    rate.add_argument("--target-size", type=parse_size, default=None, metavar="SIZE",
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
    p.add_argument("--search", type=int, default=0, metavar="N",
                   help="N sweeps (0-8) of code search per iteration: a better image for the "
                   "same bits, encoding several times slower (default 0: off)")
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
    _add_coding_flags(p)


def _add_decompress(sub):
    """Sub-command ``decompress``."""
    p = sub.add_parser("decompress", help=".trc (or folder of them) -> image; - is stdin or "
                       "stdout (PNG)")
    p.add_argument("input"), p.add_argument("output")
    p.add_argument("--iterations", type=int, default=None,
                   help="decode only the first K iterations (default: all in the file)")
    p.add_argument("--format", default="png", help="image extension in folder mode (png)")
    p.add_argument("--progress", action="store_true", help=_SINGLE_FILE_PROGRESS)
    _add_coding_flags(p)


def _add_info(sub):
    """Sub-command ``info``."""
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


def _add_train(sub):
    """Sub-command ``train``: the fields of the training config."""
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
                   help="steps over which the learning rate is multiplied by --decay-rate")
    p.add_argument("--decay-rate", type=float, default=0.5,
                   help="the learning rate's factor every --decay-steps steps (0.5: it halves; "
                   "1: constant), counted from the optimizer's first step")
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
                   "validation split, coded after every epoch (or every --validate-every "
                   "epochs; 0: none)")
    p.add_argument("--validation-crop", type=int, default=256,
                   help="side of the whole-image validation crops")
    p.add_argument("--validate-every", type=int, default=1, metavar="N",
                   help="whole-image validation after every Nth epoch only (counted from the "
                   "run's first epoch, so a resumed run keeps the same epochs)")
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
    p.add_argument("--average-momentum", type=float, default=0.0,
                   help="EMA of the weights, scored by whole-image validation beside the raw "
                   "weights (validation-average.csv, best-average.weights.h5); 0 = off")
    p.add_argument("--average-every", type=int, default=10,
                   help="with --average-momentum: steps between the samples of the average")
    p.add_argument("--cpu-devices", type=int, default=None, metavar="N",
                   help="split the CPU into N logical devices (to try --strategy mirrored "
                   "without GPUs)")
