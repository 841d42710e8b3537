"""File and folder operations behind the CLI: compress, decompress, info.

Outputs are written through a temporary file and a rename, so a killed run
never leaves a partial file; an input is never overwritten; folder mode
mirrors the input tree, skips outputs that already exist (so a rerun
resumes), and records failures per file without stopping.
"""

import os
import sys

from tfrnncomp import bitstream, image_io
from tfrnncomp.errors import InputImageError, TfrnncompError

EXTENSION = ".trc"


def check_paths(source, target, force=False):
    """Refuse a missing input, an output that is the input, or an existing output."""
    if not os.path.exists(source):
        raise TfrnncompError(f"{source}: no such file or directory")
    if os.path.exists(target) and os.path.samefile(source, target):
        raise TfrnncompError(f"{target}: output is the input; refusing to overwrite it")
    if os.path.isdir(source):
        if os.path.exists(target) and not os.path.isdir(target):
            raise TfrnncompError(f"{target}: input is a folder, so the output must be one")
        src, dst = os.path.realpath(source), os.path.realpath(target)
        if dst == src or dst.startswith(src + os.sep):
            raise TfrnncompError(f"{target}: output folder must not be inside the input folder")
    elif os.path.isdir(target):
        raise TfrnncompError(f"{target}: is a folder; give an output file name")
    elif os.path.exists(target) and not force:
        raise TfrnncompError(f"{target}: exists; pass --force to overwrite it")
    parent = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(source) and not os.path.isdir(parent):
        raise TfrnncompError(f"{parent}: output folder does not exist")


def _write(path, data):
    try:
        image_io.atomic_write_bytes(path, data)
    except OSError as error:
        raise TfrnncompError(f"{path}: cannot write ({error.strerror})") from None


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as error:
        raise TfrnncompError(f"{path}: cannot read ({error.strerror})") from None


def compress_file(codec, source, target, **kwargs):
    _write(target, codec.compress(image_io.open_image(source), **kwargs))


def decompress_file(codec, source, target, iterations=None):
    array = codec.decompress(_read(source), iterations)
    try:
        image_io.save_image(array, target)
    except OSError as error:
        raise TfrnncompError(f"{target}: cannot write ({error})") from None


def _progress(items, desc):
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return items
    return tqdm(items, desc=desc, unit="file", disable=not sys.stderr.isatty())


def _walk(root, keep):
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if keep(name):
                yield os.path.join(directory, name)


def _run_folder(pairs, work, desc, force, target_root=None):
    if target_root is not None and os.path.isdir(target_root):
        image_io.remove_stale_temporaries(target_root)  # left by a killed earlier run
    done = skipped = 0
    failures = []
    claimed = {}  # output -> the input that produces it in this run
    for source, target in _progress(list(pairs), desc):
        if target in claimed:  # e.g. a.png and a.jpg both map to a.trc
            failures.append((source, f"{target} is also the output of {claimed[target]}; "
                                     "rename one of them"))
            continue
        claimed[target] = source
        if os.path.exists(target) and not force:
            skipped += 1
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            work(source, target)
            done += 1
        except TfrnncompError as error:
            failures.append((source, str(error)))
    for source, message in failures:
        print(f"tfrnncomp: failed: {source}: {message}", file=sys.stderr)
    print(f"{done} written, {skipped} skipped (existing), {len(failures)} failed")
    return 1 if failures else 0


def compress_folder(codec, source, target, force=False, jobs=1, **kwargs):
    """Compress a folder tree into ``target``, mirroring it (see :mod:`tfrnncomp.folder`)."""
    from tfrnncomp import folder
    from tfrnncomp.data import IMAGE_EXTENSIONS

    def keep(name):
        return name.lower().endswith(tuple(IMAGE_EXTENSIONS)) and not name.startswith(".")

    os.makedirs(target, exist_ok=True)
    image_io.remove_stale_temporaries(target)  # left by a killed earlier run
    pairs = [(path, os.path.join(target, os.path.splitext(os.path.relpath(path, source))[0]
                                 + EXTENSION)) for path in _walk(source, keep)]
    progress = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        def progress(total):
            return tqdm(total=total, desc="compress", unit="image")
    summary = folder.compress_folder(codec, pairs, force=force, jobs=jobs, progress=progress,
                                     **kwargs)
    return folder.report(summary)


def decompress_folder(codec, source, target, fmt="png", iterations=None, force=False):
    pairs = ((path, os.path.join(target, os.path.splitext(os.path.relpath(path, source))[0]
                                 + "." + fmt.lstrip(".")))
             for path in _walk(source, lambda name: name.endswith(EXTENSION)))
    return _run_folder(pairs, lambda s, t: decompress_file(codec, s, t, iterations),
                       "decompress", force, target)


def info(path, compare=None, model=None):
    """Header and per-iteration sizes; with ``compare``, quality after each iteration."""
    data = _read(path)
    container = bitstream.read(data)
    report = bitstream.info_dict(container)
    report["file"] = path
    report["raw_chunk_bytes"] = container.header.raw_chunk_bytes
    report["raw_bytes"] = sum(container.header.raw_chunk_bytes_at(i)
                              for i in range(len(container.chunks)))
    if compare is None:
        return report
    from tfrnncomp import metrics
    from tfrnncomp.codec import Codec

    original, _ = image_io.to_array(image_io.open_image(compare))
    header = bitstream.read(data).header
    if original.shape[:2] != (header.height, header.width):
        raise InputImageError(f"{compare}: size {original.shape[1]}x{original.shape[0]} differs "
                              f"from the file's {header.width}x{header.height}")
    codec = Codec(model)
    rows = []
    pixels = header.height * header.width
    total = len(bitstream.encode_header(header))
    for k, chunk in enumerate(codec.read(data).chunks, start=1):
        total += len(chunk) + 8
        decoded = codec.decompress(data, k)
        decoded = decoded if decoded.ndim == 3 else decoded[..., None].repeat(3, -1)
        row = {"iterations": k, "bytes": total, "bpp": total * 8.0 / pixels,
               "psnr": metrics.psnr(original, decoded)}
        if min(header.height, header.width) >= metrics.min_ms_ssim_size():
            row["ms_ssim"] = metrics.ms_ssim(original, decoded)
        rows.append(row)
    report["quality"] = rows
    return report


def format_info(report):
    lines = [f"{report['file']}: tfrnncomp v{report.get('format_version', '?')}"]
    for key in ("model_id", "width", "height", "channels", "pad_width", "pad_height",
                "iterations_declared", "iterations_present", "entropy_mode", "complete", "total_bytes"):
        if key in report:
            lines.append(f"  {key:13s} {report[key]}")
    if "chunk_bytes" in report:
        raw = report.get("raw_chunk_bytes")
        lines.append("  chunk bytes   " + " ".join(str(n) for n in report["chunk_bytes"]))
        total = report.get("raw_bytes", (raw or 0) * len(report["chunk_bytes"]))
        if raw and total:
            saved = 1.0 - sum(report["chunk_bytes"]) / float(total)
            lines.append(f"  raw bytes     {raw} per full chunk; entropy coding saves {saved:.1%}")
    if "iteration_map" in report:
        m = report["iteration_map"]
        lines.append(f"  adaptive      blocks of {m['block']}x{m['block']} codes, {m['rows']}x"
                     f"{m['cols']} map, mean {m['mean_iterations']} iterations; blocks "
                     "stopping after 1.. : " + " ".join(map(str, m["blocks_stopping_after"])))
    for row in report.get("quality", []):
        quality = f"  it {row['iterations']:2d}: {row['bytes']:8d} B  {row['bpp']:.4f} bpp  " \
                  f"PSNR {row['psnr']:.2f} dB"
        if "ms_ssim" in row:
            quality += f"  MS-SSIM {row['ms_ssim']:.4f}"
        lines.append(quality)
    return "\n".join(lines)
