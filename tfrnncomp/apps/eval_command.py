"""``tfrnncomp eval``: rate-distortion of a model over a folder of images, optionally against
classic codecs, in the results format of :mod:`tfrnncomp.eval.evaluate`.

The parsing helpers, the classic-codec loop and the table are shared with the scripts of
``tools/bench/`` (evaluate_model.py, bench_codecs.py), so the command and the scripts measure the
same way.  Nothing here imports TensorFlow until a model is loaded.
"""

import argparse
import os
import sys

from tfrnncomp.codec.options import check_iterations
from tfrnncomp.errors import TfrnncompError, shown_path

#: short names accepted by ``--compare`` besides the names of :data:`tfrnncomp.eval.classic.CODECS`
ALIASES = {"jpeg": "jpeg420", "jxl": "jpegxl", "j2k": "jpeg2000", "jp2": "jpeg2000",
           "h265": "hevc", "x265": "hevc"}

DESCRIPTION = """\
Rate-distortion of a model over every image of FOLDER (.png, .ppm, .bmp, .tif): each image is
encoded once at the largest iteration count, and each k-iteration file (the header plus the
first k chunks, exactly what `compress --iterations k` writes) is decoded and measured.
stdout gets one table per codec: bpp, PSNR and MS-SSIM averaged over the images (MS-SSIM is
'-' for images under 161 pixels a side).

--json OUT.json writes one file per codec, each one result of the schema of
results/kodak/*.json (tfrnncomp/eval/schema.py): the model's result in OUT.json, each --compare
codec's in OUT-<codec>.json beside it (e.g. OUT-jpeg420.json), so every file works with
tools/bench/rd_summary.py and tools/bench/plot_rd.py.  --plot draws PSNR and MS-SSIM (dB) against
bpp, every codec in one PNG (needs matplotlib: pip install tfrnncomp[eval])."""


def check_codec_iterations(iterations, codec):
    """``--iterations`` (a list from :func:`parse_iterations`, or None) within the codec's
    1..max_iterations, else :class:`~tfrnncomp.errors.TfrnncompError`."""
    if iterations:
        check_iterations(iterations[-1], codec.max_iterations, "--iterations")


def parse_iterations(text):
    """``"1-16"``, ``"1,2,4,8"`` or ``"1-4,8,16"`` -> sorted list of ints."""
    out = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(v) for v in part.split("-", 1))
                out.update(range(low, high + 1))
            elif part:
                out.add(int(part))
    except ValueError:
        out = set()
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"bad iteration list {text!r} (e.g. 1-16 or 1,2,4,8)")
    return sorted(out)


def parse_codecs(text):
    """``"jpeg,webp"`` -> classic codec names (``jpeg`` is ``jpeg420``), in order, once each."""
    from tfrnncomp.eval import classic

    names = []
    for name in (n.strip().lower() for n in text.split(",")):
        name = ALIASES.get(name, name)
        if name and name not in classic.CODECS:
            raise argparse.ArgumentTypeError(
                f"unknown codec {name!r}; known: {', '.join([*classic.CODECS, *ALIASES])}")
        if name and name not in names:
            names.append(name)
    return names


def run_classics(names, dataset, settings=None, log=None, program="tfrnncomp eval"):
    """Yield ``(name, result, start_time)`` for each classic codec of ``names`` that runs here;
    one that cannot (no imagecodecs, no AVIF in Pillow, ...) gets one line on stderr instead."""
    import time

    from tfrnncomp.eval import classic, evaluate

    for name in names:
        codec = classic.get(name)
        reason = codec.unavailable()
        if reason:
            print(f"{program}: {name} skipped: {reason}", file=sys.stderr)
            continue
        start = time.time()
        yield name, evaluate.run_classic(codec, dataset, settings, log=log), start


def _cell(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(result):
    """The points of a result as a text table: setting, bpp, PSNR, MS-SSIM (image means)."""
    setting = result["codec"].get("setting_name", "setting")
    images = len(result["dataset"]["images"])
    lines = [f"{result['name']}: {result['description']} ({images} image"
             f"{'' if images == 1 else 's'})",
             f"{setting:>17} {'bpp':>8} {'PSNR (dB)':>10} {'MS-SSIM':>8}"]
    for point in result["points"]:
        lines.append(f"{point['setting']:>17} {_cell(point['bpp'], 4):>8} "
                     f"{_cell(point['psnr'], 2):>10} {_cell(point['ms_ssim'], 4):>8}")
    return "\n".join(lines)


def compared_path(json_path, name):
    """Where ``--json OUT.json`` puts a compared codec's result: ``OUT-<name>.json``."""
    stem, ext = os.path.splitext(json_path)
    return f"{stem}-{name}{ext or '.json'}"


def add_parser(sub, **kwargs):
    """The ``eval`` sub-command of the ``tfrnncomp`` parser."""
    p = sub.add_parser("eval", help="rate-distortion of a model over a folder of images "
                       "(tables, JSON results, plots)", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    p.add_argument("folder", help="folder of images (not searched recursively)")
    p.add_argument("--model", default=None,
                   help="zoo name or model directory (default: the shipped default model)")
    p.add_argument("--iterations", type=parse_iterations, default=None,
                   help="a range or a list, e.g. 1-16 or 1,2,4,8 (default: 1 to the model's "
                   "max_iterations)")
    p.add_argument("--entropy", choices=("auto", "binaryrnn", "context", "raw"), default="auto",
                   help="entropy coding of the files measured (auto, the default: binaryrnn if "
                   "the model ships one, else context)")
    p.add_argument("--search", type=int, default=0, metavar="N",
                   help="encode with N sweeps (0-8) of code search per iteration, as "
                   "`tfrnncomp compress --search N` (default 0: off)")
    p.add_argument("--json", metavar="OUT.json", default=None,
                   help="write the results: the model's to OUT.json, each --compare codec's to "
                   "OUT-<codec>.json")
    p.add_argument("--plot", metavar="OUT.png", default=None,
                   help="draw PSNR and MS-SSIM (dB) against bpp of every codec into one PNG")
    p.add_argument("--compare", type=parse_codecs, default=[], metavar="CODECS",
                   help="comma-separated classic codecs swept over their default settings: "
                   "jpeg (4:2:0), jpeg444, webp, jpeg2000, avif, jpegxl, hevc; one that cannot "
                   "run here is skipped with a note")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines on stderr (the tables are still printed)")
    return p


def _check(args):
    """Refuse a missing or empty folder and an impossible --plot before any work."""
    from tfrnncomp.codec import image_io
    from tfrnncomp.eval import evaluate, rdplot
    from tfrnncomp.runtime.search import check_search

    check_search(args.search, "--search")
    if not os.path.isdir(args.folder):
        raise TfrnncompError(f"image folder {shown_path(args.folder)} not found")
    if args.plot:
        reason = rdplot.matplotlib_unavailable()
        if reason:
            raise TfrnncompError(f"--plot needs matplotlib: {rdplot.INSTALL_HINT}")
    try:
        dataset = evaluate.load_dataset(args.folder)
    except FileNotFoundError:
        raise TfrnncompError(f"no images in {shown_path(args.folder)} (looked for "
                             f"{', '.join(image_io.LOSSLESS_EXTENSIONS)})") from None
    if args.plot and os.path.abspath(args.plot) in {
            os.path.join(dataset.path, name) for name in dataset.names}:
        raise TfrnncompError(f"--plot {shown_path(args.plot)} would overwrite an input image")
    return dataset


def evaluate_folder(args, log=None):
    """The results of the model and of each runnable ``--compare`` codec on the folder's images,
    the model's first; the dataset with them."""
    from tfrnncomp.eval import evaluate
    from tfrnncomp.codec import Codec

    dataset = _check(args)
    codec = Codec(args.model)
    check_codec_iterations(args.iterations, codec)
    results = [evaluate.run_model(codec, dataset, args.iterations, entropy=args.entropy,
                                  log=log, search=args.search)]
    results += [result for _, result, _ in run_classics(args.compare, dataset, log=log)]
    return dataset, results


def main(args):
    """Run ``tfrnncomp eval`` for parsed arguments; returns the exit status."""
    from tfrnncomp.eval import evaluate, rdplot, schema

    log = None if args.quiet else evaluate.log_stderr
    dataset, results = evaluate_folder(args, log=log)
    print("\n\n".join(format_table(result) for result in results))
    written = []
    if args.json:
        written.append(schema.write_result(args.json, results[0]))
        written += [schema.write_result(compared_path(args.json, r["name"]), r)
                    for r in results[1:]]
    if args.plot:
        rdplot.plot_panels(results, args.plot, title=os.path.basename(dataset.path))
        written.append(args.plot)
    for path in written:
        print(f"{shown_path(path)}: written")
    return 0
