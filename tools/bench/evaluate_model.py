#!/usr/bin/env python3
"""Rate-distortion of a tfrnncomp model at 1..16 iterations, in the shared results format.

    python tools/bench/evaluate_model.py [--model gru-w25 | MODEL_DIR] [--data ../shared/data/kodak]
        [--iterations 1-16] [--entropy binaryrnn|context|raw] [--limit N]
        [--out results/kodak] [--metrics-from RESULT.json [--sizes-from RERATED.json]]
        [--name NAME] [--output FILE.json]
        [--search N] [--validation ../shared/data/train [--count 8]] [--no-post-filter]
    python tools/bench/evaluate_model.py --adaptive psnr --settings 20,22,24,26,28,30 \\
        [--block 2] ...

Each image is encoded once at the largest iteration count; every k-iteration file (the header
plus the first k chunks) is decoded and measured like the classic codecs
(tools/bench/bench_codecs.py).
With --adaptive (psnr: per-block PSNR targets; slope: one-pass per-block MSE-gain thresholds;
lagrangian: two-pass equal-slope allocation, the settings are slopes; see tfrnncomp/codec/adaptive.py) each image is encoded once per setting with spatially adaptive bit
allocation, into results/<dir>/tfrnncomp-<model>-adaptive[-slope|-lagrangian].json (same schema).
--search N encodes with N sweeps of code search per iteration (tfrnncomp/runtime/search.py),
into tfrnncomp-<model>-search<N>.json; --validation measures whole images of a training folder's
validation split instead of --data (for choices that must not be tuned on Kodak).
A missing image folder is skipped with a message and exit status 0.  The plain sweep is also
the installed command `tfrnncomp eval FOLDER` (tfrnncomp/apps/eval_command.py).
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfrnncomp.eval import evaluate, schema  # noqa: E402
from tfrnncomp.errors import TfrnncompError  # noqa: E402
from tfrnncomp.apps.eval_command import check_codec_iterations, parse_iterations  # noqa: E402
from tfrnncomp.apps.parser import add_post_filter_flag  # noqa: E402


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None,
                        help="zoo name or model directory (default: the shipped model)")
    parser.add_argument("--data", default=evaluate.DEFAULT_DATASET, help="image folder")
    parser.add_argument("--validation", default=None, metavar="TRAIN_DATA",
                        help="instead of --data: whole images of the validation split of this "
                        "training folder (--count of them), never Kodak")
    parser.add_argument("--count", type=int, default=8,
                        help="images of the --validation split (default 8)")
    parser.add_argument("--iterations", type=parse_iterations, default=None,
                        help="e.g. 1-16 (default: 1..the model's max_iterations)")
    parser.add_argument("--entropy", choices=("binaryrnn", "context", "raw"), default=None,
                        help="entropy mode of the files (default: the codec's default, binaryrnn "
                        "if the model ships a BinaryRNN, else context)")
    parser.add_argument("--adaptive", choices=("psnr", "slope", "lagrangian"), default=None,
                        help="sweep spatially adaptive coding over --settings instead")
    parser.add_argument("--settings", default=None,
                        help="adaptive settings, comma-separated (e.g. 20,22,24,26,28)")
    parser.add_argument("--block", type=int, default=2,
                        help="adaptive block size in code positions (2 = 32x32 pixels)")
    parser.add_argument("--one-pass", action="store_true",
                        help="decode every prefix in one progressive pass (faster; shared "
                        "decode_seconds)")
    parser.add_argument("--search", type=int, default=0, metavar="N",
                        help="sweeps of code search per iteration (0: off; "
                        "tfrnncomp/runtime/search.py)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--images", default=None, help="comma-separated image names")
    parser.add_argument("--name", default=None, help="result name (default tfrnncomp-<model>)")
    parser.add_argument("--description", default=None)
    parser.add_argument("--out", default="results", help="folder for <name>.json (results)")
    parser.add_argument("--output", default=None, help="exact output file")
    parser.add_argument("--metrics-from", default=None, metavar="RESULT.json",
                        help="take the quality of every (image, iterations) point from this "
                        "earlier result of the same model and only re-measure file sizes in "
                        "--entropy (lossless, so the decoded images are the same)")
    parser.add_argument("--sizes-from", default=None, metavar="RERATED.json",
                        help="with --metrics-from: take the file sizes and entropy times from "
                        "this --metrics-from result of the same codec and images instead of "
                        "encoding again (a second curve of the same files)")
    add_post_filter_flag(parser, "measure the decoder's own images, without the model's "
                         "post-filter")
    parser.add_argument("--quiet", action="store_true")
    return parser


def _rerated(args, codec, dataset, log):
    """``--metrics-from``'s quality with file sizes re-measured (or, with ``--sizes-from``,
    taken from that result); a mismatch of model, images or iterations is a one-line error."""
    from tfrnncomp.eval import rerate

    previous = schema.load_result(args.metrics_from)
    sized = schema.load_result(args.sizes_from) if args.sizes_from else None
    mode = sized and sized["codec"].get("entropy_mode")
    if mode and args.entropy and codec.resolve_entropy(args.entropy) != mode:
        raise SystemExit(f"evaluate_model: --sizes-from holds {mode} files, not {args.entropy}")
    try:
        if sized is None:
            return rerate.rerate_model(codec, dataset, previous, args.entropy, name=args.name,
                                       log=log)
        return rerate.sizes_from(codec, dataset, previous, sized, name=args.name)
    except ValueError as error:
        raise SystemExit(f"evaluate_model: {error}") from None


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if args.sizes_from and not args.metrics_from:
        parser.error("--sizes-from needs --metrics-from")

    folder = args.validation or args.data
    if not os.path.isdir(folder):
        print(f"evaluate_model: skipped: image folder {folder} not found", file=sys.stderr)
        return 0
    from tfrnncomp.codec import Codec

    if args.validation:
        dataset = evaluate.validation_dataset(args.validation, args.count)
    else:
        dataset = evaluate.load_dataset(args.data, limit=args.limit,
                                        names=args.images.split(",") if args.images else None)
    codec = Codec(args.model, post_filter=args.post_filter)
    try:
        check_codec_iterations(args.iterations, codec)
    except TfrnncompError as error:
        parser.error(str(error))
    start = time.time()
    log = None if args.quiet else evaluate.log_stderr
    if args.search and (args.metrics_from or args.adaptive):
        parser.error("--search applies to the plain sweep, not to --metrics-from or --adaptive")
    if args.metrics_from:
        result = _rerated(args, codec, dataset, log)
    elif args.adaptive:
        if not args.settings:
            parser.error("--adaptive needs --settings")
        settings = [float(v) for v in args.settings.split(",")]
        from tfrnncomp.eval.evaluate_adaptive import run_adaptive

        result = run_adaptive(codec, dataset, settings, rule=args.adaptive, block=args.block,
                              entropy=args.entropy, name=args.name, log=log)
    else:
        result = evaluate.run_model(codec, dataset, args.iterations, entropy=args.entropy,
                                    name=args.name, description=args.description, log=log,
                                    one_pass=args.one_pass, search=args.search)
    path = args.output or schema.default_output(args.out, result["name"])
    schema.write_and_report(result, path, dataset, start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
