"""Training losses over iterations, written in ``keras.ops`` (any Keras 3 backend).

Every loss returns one value per iteration (shape ``[T]``); the model weights them over
iterations (:func:`tfrnncomp.model.config.iteration_weights`).  Images and reconstructions are
in the model's range, [-0.5, 0.5].

- ``l1``: the paper's loss, the mean absolute residual.
- ``ssim_weighted_l1``: the absolute residual weighted per pixel by the local dissimilarity
  ``1 - SSIM`` of that iteration's reconstruction (a constant: no gradient flows through the
  weights), normalised to a mean weight of 1 per image, after the SSIM-weighted L1 of
  Johnston et al. 2018: pixels where structure is lost count more.
- ``l1_ssim``: ``(1 - w) * L1 + w * (1 - SSIM)`` with ``w = config.ssim_weight``, the mixed loss
  of Zhao et al. 2017 with single-scale SSIM (64x64 patches are too small for five scales).
- ``l1_ms_ssim``: the same with the five-scale MS-SSIM of Wang et al. 2003 (the evaluation's
  metric, as ``tf.image.ssim_multiscale``: per channel, negative terms clipped at 0), which needs
  patches of at least ``MS_SSIM_MIN_SIZE`` pixels.

SSIM uses the usual 11x11 Gaussian window (sigma 1.5), data range 1, per RGB channel.
"""

import math

from keras import ops

from tfrnncomp.model.config import LOSSES

_WINDOW = 11
_SIGMA = 1.5
_C1 = 0.01 ** 2
_C2 = 0.03 ** 2
#: MS-SSIM's scale weights (Wang et al. 2003), finest first
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
#: the smallest side MS-SSIM takes: the coarsest scale still holds one window
MS_SSIM_MIN_SIZE = _WINDOW * 2 ** (len(_MS_SSIM_WEIGHTS) - 1)


def _gaussian_taps():
    centre = (_WINDOW - 1) / 2.0
    taps = [math.exp(-((i - centre) ** 2) / (2 * _SIGMA ** 2)) for i in range(_WINDOW)]
    total = sum(taps)
    return [t / total for t in taps]


def _blur(images, padding):
    """Separable Gaussian blur of ``[N, H, W, C]`` images, per channel."""
    channels = int(images.shape[-1])
    taps = ops.convert_to_tensor(_gaussian_taps(), dtype="float32")
    rows = ops.tile(ops.reshape(taps, (_WINDOW, 1, 1, 1)), (1, 1, channels, 1))
    cols = ops.tile(ops.reshape(taps, (1, _WINDOW, 1, 1)), (1, 1, channels, 1))
    blurred = ops.depthwise_conv(images, rows, padding=padding)
    return ops.depthwise_conv(blurred, cols, padding=padding)


def _ssim_terms(x, y, padding):
    """Per-pixel luminance and contrast-structure terms of two ``[N, H, W, C]`` batches in [0, 1]."""
    mu_x, mu_y = _blur(x, padding), _blur(y, padding)
    var_x = _blur(x * x, padding) - mu_x * mu_x
    var_y = _blur(y * y, padding) - mu_y * mu_y
    cov = _blur(x * y, padding) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + _C1) / (mu_x * mu_x + mu_y * mu_y + _C1)
    structure = (2 * cov + _C2) / (var_x + var_y + _C2)
    return luminance, structure


def ssim_map(images, reconstructions, padding="valid"):
    """Per-pixel, per-channel SSIM of two ``[N, H, W, C]`` batches in [-0.5, 0.5]."""
    luminance, structure = _ssim_terms(ops.cast(images, "float32") + 0.5,
                                       ops.cast(reconstructions, "float32") + 0.5, padding)
    return luminance * structure


def ms_ssim(images, reconstructions):
    """Mean MS-SSIM of two ``[N, H, W, C]`` batches in [-0.5, 0.5] (per channel, then averaged)."""
    if min(int(images.shape[1]), int(images.shape[2])) < MS_SSIM_MIN_SIZE:
        raise ValueError(f"MS-SSIM needs patches of at least {MS_SSIM_MIN_SIZE} pixels, got "
                         f"{tuple(images.shape[1:3])}")
    x = ops.cast(images, "float32") + 0.5
    y = ops.cast(reconstructions, "float32") + 0.5
    value = 1.0
    for scale, weight in enumerate(_MS_SSIM_WEIGHTS):
        if scale:
            x = ops.average_pool(x, 2, 2, padding="valid")
            y = ops.average_pool(y, 2, 2, padding="valid")
        luminance, structure = _ssim_terms(x, y, "valid")
        term = structure if scale < len(_MS_SSIM_WEIGHTS) - 1 else luminance * structure
        value = value * _clipped_power(ops.mean(term, axis=(1, 2)), weight)
    return ops.mean(value)


def _clipped_power(values, weight):
    """``max(values, 0) ** weight`` whose gradient is 0, not NaN, where ``values <= 0``
    (``relu(v) ** w`` differentiates to ``0 * inf`` there)."""
    positive = values > 0
    safe = ops.where(positive, values, ops.ones_like(values))
    return ops.where(positive, ops.power(safe, weight), ops.zeros_like(values))


def _per_iteration(function, images, reconstructions):
    """``function(images, reconstruction)`` -> scalar, for each of the ``[T, ...]`` iterations."""
    iterations = int(reconstructions.shape[0])
    return ops.stack([function(images, reconstructions[t]) for t in range(iterations)])


def _ssim_weighted_l1(images, reconstruction):
    dissimilarity = 1.0 - ssim_map(images, reconstruction, padding="same")
    weights = ops.stop_gradient(ops.maximum(dissimilarity, 0.0) + 1e-3)
    weights = weights / ops.mean(weights, axis=(1, 2, 3), keepdims=True)
    return ops.mean(weights * ops.abs(images - reconstruction))


def l1_losses(images, reconstructions):
    """The mean absolute residual after each iteration, shape ``[T]``, as float32."""
    images = ops.cast(images, "float32")
    return ops.mean(ops.abs(images[None] - ops.cast(reconstructions, "float32")),
                    axis=(1, 2, 3, 4))


def iteration_losses(images, reconstructions, loss="l1", ssim_weight=0.0, l1=None):
    """The loss of each iteration, shape ``[T]`` (``reconstructions`` is ``model(images)``,
    ``[T, N, H, W, C]``), as float32; ``l1`` is :func:`l1_losses` where the caller has it."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss in ("l1", "l1_ssim", "l1_ms_ssim") and l1 is None:
        l1 = l1_losses(images, reconstructions)
    if loss == "l1":
        return l1
    images = ops.cast(images, "float32")
    reconstructions = ops.cast(reconstructions, "float32")
    if loss == "ssim_weighted_l1":
        return _per_iteration(_ssim_weighted_l1, images, reconstructions)
    similarity = ms_ssim if loss == "l1_ms_ssim" else (lambda x, y: ops.mean(ssim_map(x, y)))
    dissimilarity = _per_iteration(lambda x, y: 1.0 - similarity(x, y), images, reconstructions)
    return (1.0 - ssim_weight) * l1 + ssim_weight * dissimilarity
