"""Rate control: budgets and quality targets with one encode (progressive codes).

The codes of Toderici et al. 2017 are progressive (Section 2): the file of k
iterations is exactly the first k chunks of the file of 16 iterations, since
iteration t is coded given iterations < t only.  So a budget (bits per pixel
or bytes) or a quality target (MS-SSIM, PSNR) is met by encoding once at the
most iterations and keeping the right prefix: no search over encodes.
"""

import numpy as np

from tfrnncomp.codec import image_io
from tfrnncomp.eval import metrics
from tfrnncomp.format import container as bitstream
from tfrnncomp.errors import InputImageError, TargetNotMetError, TfrnncompError

#: how each quality metric is shown in messages: name, number format, unit
_SHOWN = {"psnr": ("PSNR", ".2f", " dB"), "ms_ssim": ("MS-SSIM", ".4f", "")}


def _check_positive(name, value):
    if not np.isfinite(value) or value <= 0:
        raise TfrnncompError(f"{name} must be a positive number, got {value}")


def _prefix_sizes(codec, height, width, channels, chunks, entropy, tile):
    """Whole-file size in bytes of every prefix of ``chunks`` (header included)."""
    header_bytes = len(bitstream.encode_header(
        codec.header_for(height, width, channels, 1, entropy, tile)))
    return header_bytes + np.cumsum([len(chunk) + bitstream.CHUNK_OVERHEAD for chunk in chunks])


def _encode_all(codec, array, entropy, progress=None):
    codes, tile = codec.codes_for(array, codec.max_iterations)
    if progress is not None:
        progress("entropy")
    return codes, tile, codec.encode_chunks(codes, entropy)


def shown_quality(metric, value, spec=None):
    """``PSNR 32.10 dB`` or ``MS-SSIM 0.9500``: a quality for a message (a target as given:
    ``spec="g"``)."""
    name, number, unit = _SHOWN[metric]
    return f"{name} {value:{spec or number}}{unit}"


def measure(metric, array, channels, decoded):
    """``metric`` of ``decoded`` (as :meth:`Codec.decompress` returns it) against the input
    ``array`` of :func:`tfrnncomp.codec.image_io.to_array` with ``channels`` channels."""
    original = array[..., :1] if channels == 1 else array
    decoded = decoded[..., None] if channels == 1 else decoded
    return {"psnr": metrics.psnr, "ms_ssim": metrics.ms_ssim}[metric](original, decoded)


def compress_to_budget(codec, array, channels, bpp, entropy, best_effort=True,
                       progress=None):
    """The most iterations whose whole file fits ``bpp`` bits per pixel (at least 1).

    When even one iteration does not fit, ``best_effort=False`` raises
    :class:`TargetNotMetError` naming the smallest file instead of writing it.
    ``progress`` is told the stages, as in :meth:`Codec.compress`.
    """
    _check_positive("bpp", bpp)
    height, width = array.shape[:2]
    codes, tile, chunks = _encode_all(codec, array, entropy, progress)
    sizes = _prefix_sizes(codec, height, width, channels, chunks, entropy, tile)
    fits = np.nonzero(sizes * 8.0 <= bpp * height * width)[0]
    if not len(fits) and not best_effort:
        raise TargetNotMetError(
            f"the smallest file is {sizes[0]} bytes ({sizes[0] * 8.0 / (height * width):.4f} "
            f"bpp, 1 iteration), over the budget of {bpp * height * width / 8:.0f} bytes "
            f"({bpp:.4g} bpp)")
    keep = int(fits[-1]) + 1 if len(fits) else 1
    return codec.write(codes[:keep], height, width, channels, entropy, chunks[:keep], tile)


def compress_to_quality(codec, array, channels, metric, target, entropy, best_effort=True,
                        progress=None):
    """The fewest iterations whose decoded image reaches ``target`` (else all of them).

    ``metric`` is ``"ms_ssim"`` (RGB, channel-averaged) or ``"psnr"`` (dB), measured
    against the input exactly as the decoder will reconstruct it.  When no prefix
    reaches it, ``best_effort=False`` raises :class:`TargetNotMetError` naming the
    quality of all the iterations instead of writing them.  ``progress`` is told the
    stages, as in :meth:`Codec.compress`.
    """
    _check_positive(f"target {metric}", target)
    height, width = array.shape[:2]
    if metric == "ms_ssim":
        if not target < 1:
            raise TfrnncompError(f"target MS-SSIM must be below 1, got {target}")
        if min(height, width) < metrics.min_ms_ssim_size():
            raise InputImageError(f"image {width}x{height} is too small for an MS-SSIM target "
                                  f"(both sides >= {metrics.min_ms_ssim_size()}); use a PSNR target")
    elif metric != "psnr":
        raise TfrnncompError(f"unknown quality metric {metric!r}")
    codes, tile, chunks = _encode_all(codec, array, entropy, progress)
    if progress is not None:
        progress("measure")
    header = codec.header_for(height, width, channels, len(codes), entropy, tile)
    images = codec.images_for(codes, header, every_iteration=True)
    keep = len(codes)
    for k, image in enumerate(images, start=1):
        score = measure(metric, array, channels, image_io.from_array(image, channels))
        if score >= target:
            keep = k
            break
    else:
        if not best_effort:
            raise TargetNotMetError(
                f"the most iterations ({keep}) reach {shown_quality(metric, score)}, below "
                f"the target {shown_quality(metric, target, 'g')}")
    return codec.write(codes[:keep], height, width, channels, entropy, chunks[:keep], tile)
