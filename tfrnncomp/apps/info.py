"""``tfrnncomp info``: a file's header, chunk sizes and extensions, and with ``--compare``
the quality after each iteration."""

from tfrnncomp.apps.files import read_input
from tfrnncomp.errors import InputImageError, shown_id
from tfrnncomp.format import container as bitstream
from tfrnncomp.format.extensions import decoded as decoded_extensions


def info(path, compare=None, model=None, max_pixels=bitstream.DEFAULT_MAX_PIXELS,
         progress=None):
    """Header and per-iteration sizes; with ``compare``, quality after each iteration
    (``progress(steps, total=N)`` wraps the loop over iterations, e.g. a tqdm bar)."""
    data = read_input(path)
    container = bitstream.read(data, max_pixels=max_pixels)
    report = bitstream.info_dict(container)
    report["extensions"] = decoded_extensions(container.header)
    report["file"] = path
    report["raw_chunk_bytes"] = container.header.raw_chunk_bytes
    report["raw_bytes"] = sum(container.header.raw_chunk_bytes_at(i)
                              for i in range(len(container.chunks)))
    if compare is None:
        return report
    from tfrnncomp.codec import image_io
    from tfrnncomp.eval import metrics
    from tfrnncomp.codec import Codec

    original, _ = image_io.to_array(image_io.open_image(compare))
    header = container.header
    if original.shape[:2] != (header.height, header.width):
        raise InputImageError(f"{compare}: size {original.shape[1]}x{original.shape[0]} differs "
                              f"from the file's {header.width}x{header.height}")
    codec = Codec(model, max_pixels=max_pixels)
    rows = []
    pixels = header.height * header.width
    total = len(bitstream.encode_header(header))
    chunks = codec.read(data).chunks
    steps = enumerate(chunks, start=1)
    for k, chunk in steps if progress is None else progress(steps, total=len(chunks)):
        total += len(chunk) + bitstream.CHUNK_OVERHEAD
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
                "iterations_declared", "iterations_present", "entropy_mode", "complete",
                "total_bytes"):
        if key in report:
            lines.append(f"  {key:13s} {report[key]}")
    extensions = report.get("extensions", {})
    if "tile" in extensions:
        lines.append(f"  tile          {extensions['tile']}x{extensions['tile']} pixels")
    if "entropy_model" in extensions:
        lines.append(f"  entropy_model {shown_id(extensions['entropy_model'])}")
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
