"""The commands of ``tfrnncomp``: each takes the parsed arguments and returns the exit
status; TensorFlow is imported only once a command needs the codec."""

import contextlib
import json
import os
import sys
import warnings

from tfrnncomp.errors import TargetNotMetError, TfrnncompError, shown_path


def check_iterations(iterations, model, flag="--iterations"):
    """``flag``'s ``iterations`` within 1..the model's maximum, read from its config (no
    TensorFlow)."""
    if iterations is None:
        return
    from tfrnncomp.codec.options import check_iterations as check_count
    from tfrnncomp.model import zoo
    from tfrnncomp.model.config import load_config

    top = load_config(os.path.join(zoo.resolve(model), zoo.CONFIG_FILE)).max_iterations
    check_count(iterations, top, flag)


def _check_compress_flags(args):
    """Refuse what the codec would refuse, in the flags' words and before TensorFlow loads."""
    from tfrnncomp.runtime.search import check_search

    check_iterations(args.iterations, args.model)
    check_search(args.search, "--search")
    if args.adaptive and args.search:
        raise TfrnncompError("--search does not combine with --adaptive")
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


def _compress_options(args):
    """The :class:`~tfrnncomp.codec.options.CompressOptions` of the compress flags."""
    from tfrnncomp.codec.options import CompressOptions

    return CompressOptions(
        iterations=args.iterations, bpp=args.bpp, target_size=args.target_size,
        target_msssim=args.target_msssim, target_psnr=args.target_psnr,
        drop_alpha=args.drop_alpha, entropy=args.entropy, adaptive=args.adaptive,
        slope=args.slope, block=args.block, best_effort=args.best_effort, search=args.search)


def _compress(args):
    _check_compress_flags(args)
    from tfrnncomp.apps import files, folders
    from tfrnncomp.codec import Codec

    files.check_paths(args.input, args.output, args.force)
    files.check_output_name(args.input, args.output, compress=True)
    codec = Codec(args.model, backend=args.backend, max_pixels=args.max_pixels,
                  post_filter=args.post_filter)
    options = _compress_options(args)
    if args.input != files.STDIO and os.path.isdir(args.input):
        return folders.compress_folder(codec, args.input, args.output, options,
                                       force=args.force, jobs=args.jobs)
    try:
        with _stage_bar(args, "compress", lambda: _image_pixels(args.input),
                        quiet=args.quiet or args.json) as progress:
            summary = files.compress_file(codec, args.input, args.output, options,
                                          force=args.force, progress=progress)
    except TargetNotMetError as error:
        raise TargetNotMetError(f"{error}; pass --best-effort to write it") from None
    if not args.quiet:
        stream = sys.stderr if args.output == files.STDIO else sys.stdout
        summary = {"file": args.output, **summary}
        print(json.dumps(summary) if args.json else _summary_line(summary), file=stream)
    return 0


def _stage_bar(args, command, pixels, quiet=False):
    """A :class:`tfrnncomp.apps.progress.Stages` bar over ``command``'s stages if one is wanted
    (``pixels``: a function giving the image's pixel count), else a context giving None."""
    from tfrnncomp.apps import progress

    if progress.wanted(args.progress, pixels, quiet):
        return progress.Stages(command, progress.STAGES[command])
    return contextlib.nullcontext()


def _image_pixels(path):
    """The pixel count in an image file's header (None for stdin or a file Pillow cannot
    open: opening it for real then says why)."""
    from PIL import Image

    from tfrnncomp.apps.files import STDIO

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
    from tfrnncomp.codec import image_io
    from tfrnncomp.format import container as bitstream
    from tfrnncomp.apps.files import STDIO

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
    from tfrnncomp.apps.files import STDIO
    from tfrnncomp.codec.rate import shown_quality

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
    check_iterations(args.iterations, args.model)
    from tfrnncomp.apps import files, folders
    from tfrnncomp.codec import Codec

    files.check_paths(args.input, args.output, args.force)
    files.check_output_name(args.input, args.output, compress=False, fmt=args.format)
    codec = Codec(args.model, backend=args.backend, max_pixels=args.max_pixels,
                  post_filter=args.post_filter)
    if args.input != files.STDIO and os.path.isdir(args.input):
        return folders.decompress_folder(codec, args.input, args.output, fmt=args.format,
                                       iterations=args.iterations, force=args.force)
    with _stage_bar(args, "decompress", lambda: _trc_pixels(args.input)) as progress:
        files.decompress_file(codec, args.input, args.output, iterations=args.iterations,
                              force=args.force, progress=progress)
    if args.output != files.STDIO:
        print(f"{shown_path(args.output)}: written")
    return 0


def _info(args):
    from tfrnncomp.apps import info, progress

    bar = None
    if args.compare is not None and progress.wanted(args.progress, quiet=args.json):
        bar = progress.iterations("compare")
    report = info.info(args.file, compare=args.compare, model=args.model,
                       max_pixels=args.max_pixels, progress=bar)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(info.format_info(report))
    return 0


def _train(args):
    from tfrnncomp.training import distribute

    distribute.check_strategy(args.strategy)  # before TensorFlow is imported
    if args.cpu_devices is not None:
        distribute.configure_cpu_devices(args.cpu_devices)  # before TF initialises devices
    from tfrnncomp.training.train import TrainingConfig, train

    training = TrainingConfig(
        data=args.data, batch_size=args.batch_size, patch_size=args.patch_size,
        steps_per_epoch=args.steps_per_epoch, validation_images=args.validation_images,
        validation_crop=args.validation_crop, validate_every=args.validate_every,
        epochs=args.epochs,
        learning_rate=args.learning_rate, decay_steps=args.decay_steps,
        decay_rate=args.decay_rate, hard_patches=args.hard_patches,
        validation_steps=args.validation_steps, seed=args.seed,
        strategy=args.strategy, validation_fraction=args.validation_fraction,
        validation_data=args.validation_data or "", precision=args.precision,
        jit_compile=args.jit_compile, average_momentum=args.average_momentum,
        average_every=args.average_every)
    train(args.config, training, args.out, verbose="auto" if sys.stdout.isatty() else 2)
    return 0


def _export_weights(args):
    from tfrnncomp.training.train import export_run

    print(export_run(args.run_dir, args.output))
    return 0


def _record_id(path, key, missing):
    """``key`` of the JSON record ``path`` of a model directory (``missing`` without one)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle).get(key, "unknown")
    except OSError:
        return missing


def _models(args):
    from tfrnncomp.model import postfilter, zoo
    from tfrnncomp.model.config import load_config

    for name in zoo.available_models():
        path = zoo.resolve(name)
        config = load_config(os.path.join(path, zoo.CONFIG_FILE))
        entropy = _record_id(os.path.join(path, "binaryrnn.json"), "entropy_id",
                             "none (context coding)")
        post_filter = _record_id(os.path.join(path, postfilter.CONFIG_FILE), "postfilter_id",
                                 "none")
        size = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
        print(f"{name}{' (default)' if name == zoo.DEFAULT_MODEL else ''}: "
              f"{zoo.model_id(zoo.load_model(name))}, {config.cell}, width {config.width}, "
              f"{config.max_iterations} iterations (useful "
              f"{config.useful_iterations or config.max_iterations}, default "
              f"{config.default_iterations}), entropy model {entropy}, post-filter "
              f"{post_filter}, {size / 1e6:.1f} MB")
    return 0


def _eval(args):
    from tfrnncomp.apps import eval_command

    return eval_command.main(args)


def _export(args):
    from tfrnncomp.apps import export_command

    return export_command.main(args)


COMMANDS = {"compress": _compress, "decompress": _decompress, "info": _info, "train": _train,
            "export-weights": _export_weights, "export": _export, "models": _models,
            "eval": _eval}
