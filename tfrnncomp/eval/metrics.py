"""Image quality metrics: MS-SSIM (matching ``tf.image.ssim_multiscale``), PSNR
and PSNR-HVS-M.

MS-SSIM is computed per channel and averaged over channels, as Toderici et al.
(2017) report it.  The implementation is NumPy/SciPy in float64 with a
separable Gaussian filter; it agrees with TensorFlow's float32 reference to a
few 1e-6 (and to ~1e-14 when TF's pipeline is run in float64).
"""

import math

import numpy as np

# Wang, Simoncelli & Bovik (2004) scale weights, finest scale first.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_FILTER_SIZE = 11
_FILTER_SIGMA = 1.5
_K1 = 0.01
K2 = 0.03  # SSIM's contrast-structure constant, as a fraction of the dynamic range


def _gaussian_taps(size=_FILTER_SIZE, sigma=_FILTER_SIGMA):
    """Normalised 1-D Gaussian; its outer product equals TF's 2-D kernel."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    taps = np.exp(-0.5 * (coords / sigma) ** 2)
    return taps / taps.sum()


_TAPS = _gaussian_taps()


def min_ms_ssim_size(n_scales=len(MS_SSIM_WEIGHTS), filter_size=_FILTER_SIZE):
    """Smallest height/width accepted by MS-SSIM (161 for the defaults).

    Each downsampling halves the size rounding up (odd sizes are padded), and
    the coarsest scale must still be at least ``filter_size`` pixels.
    """
    return (filter_size - 1) * 2 ** (n_scales - 1) + 1


def _as_hwc(img, name):
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"{name} must be HxW or HxWxC, got shape {arr.shape}")
    return arr


def _check_pair(a, b):
    a = _as_hwc(a, "a")
    b = _as_hwc(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    return a, b


def _blur_valid(stack):
    """Separable Gaussian over the last two axes (H, W); keeps VALID region."""
    from scipy.ndimage import correlate1d  # imported here: 0.15 s that compress rarely needs

    r = _FILTER_SIZE // 2
    out = correlate1d(stack, _TAPS, axis=-1, mode="constant")[..., r:-r]
    out = correlate1d(out, _TAPS, axis=-2, mode="constant")[..., r:-r, :]
    return out


def _ssim_and_cs(x, y, c1, c2):
    """Per-channel mean SSIM and contrast-structure for (C, H, W) inputs."""
    mu_x, mu_y, mu_xy, mu_sq = _blur_valid(np.stack([x, y, x * y, x * x + y * y]))
    num0 = 2.0 * mu_x * mu_y
    den0 = mu_x * mu_x + mu_y * mu_y
    luminance = (num0 + c1) / (den0 + c1)
    cs = (2.0 * mu_xy - num0 + c2) / (mu_sq - den0 + c2)
    return (luminance * cs).mean(axis=(-2, -1)), cs.mean(axis=(-2, -1))


def _downsample(x):
    """TF's step: symmetric-pad odd sizes by one row/column, 2x2 mean pool."""
    h, w = x.shape[1:]
    if h % 2 or w % 2:
        x = np.pad(x, ((0, 0), (0, h % 2), (0, w % 2)), mode="symmetric")
    return 0.25 * (x[:, 0::2, 0::2] + x[:, 0::2, 1::2]
                   + x[:, 1::2, 0::2] + x[:, 1::2, 1::2])


def _ms_ssim_per_channel(a, b, max_val, weights=MS_SSIM_WEIGHTS):
    """Per-channel MS-SSIM (array of length C) for HxWxC inputs."""
    a, b = _check_pair(a, b)
    if not max_val > 0:
        raise ValueError(f"max_val must be positive, got {max_val}")
    need = min_ms_ssim_size(len(weights))
    if min(a.shape[:2]) < need:
        raise ValueError(
            f"images of shape {a.shape} are too small for {len(weights)}-scale "
            f"MS-SSIM: height and width must be >= {need}")
    # Scale to [0, 1] as TF does (it converts to float and divides by max_val);
    # work channels-first so filtering and means run over contiguous memory.
    x = np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float64) / max_val
    y = np.ascontiguousarray(b.transpose(2, 0, 1), dtype=np.float64) / max_val
    c1, c2 = _K1 ** 2, K2 ** 2
    terms = []
    for k in range(len(weights)):
        if k > 0:
            x, y = _downsample(x), _downsample(y)
        ssim, cs = _ssim_and_cs(x, y, c1, c2)
        terms.append(cs)
    terms[-1] = ssim  # coarsest scale uses full SSIM (luminance * cs)
    terms = np.maximum(np.stack(terms), 0.0)  # ReLU as in TF
    w = np.asarray(weights, dtype=np.float64)[:, None]
    return np.prod(terms ** w, axis=0)


def ms_ssim(a, b, max_val=255.0):
    """MS-SSIM of two HxWxC (or HxW) images, averaged over channels.

    Matches ``tf.image.ssim_multiscale(a, b, max_val)`` (11-tap Gaussian,
    sigma 1.5, k1=0.01, k2=0.03, 5 scales).  ``max_val`` is the dynamic range
    of the pixel values: 255 for uint8, 1.0 for floats in [0, 1].  Raises
    ValueError for mismatched shapes or images smaller than 161 pixels on a
    side.
    """
    return float(np.mean(_ms_ssim_per_channel(a, b, max_val)))


def ms_ssim_db(value):
    """MS-SSIM in decibels: -10*log10(1 - value); inf when value >= 1."""
    value = float(value)
    if value >= 1.0:
        return math.inf
    return -10.0 * math.log10(1.0 - value)


def psnr(a, b, max_val=255.0):
    """PSNR in dB over all pixels and channels; inf for identical images."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"image shapes differ: {a.shape} vs {b.shape}")
    diff = a.astype(np.float64) - b.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(float(max_val) ** 2 / mse)


def _bt601_luma(img):
    """BT.601 digital luma Y in [16, 235] of RGB in 0-255 (MATLAB rgb2ycbcr)."""
    rgb = img.astype(np.float64) / 255.0
    return 16.0 + rgb @ np.array([65.481, 128.553, 24.966])


def psnr_hvs_m(a, b):
    """PSNR-HVS-M (dB) of two RGB uint8 (HxWx3) or greyscale (HxW) images.

    RGB input is converted to BT.601 8-bit luma (Y in 16..235, as MATLAB's
    ``rgb2ycbcr`` used for TID2013), normalised by 255 and cropped to a
    multiple of 8 on each side (the metric works on whole 8x8 DCT blocks),
    then scored with the ``psnr_hvsm`` package's ``psnr_hvs_hvsm``.  Raises
    ImportError if that package is missing (``pip install psnr-hvsm``).
    """
    try:
        from psnr_hvsm import psnr_hvs_hvsm
    except ImportError as exc:
        raise ImportError(
            "psnr_hvs_m needs the psnr-hvsm package: pip install psnr-hvsm"
        ) from exc
    a, b = _check_pair(a, b)
    if a.shape[2] == 3:
        ya, yb = _bt601_luma(a) / 255.0, _bt601_luma(b) / 255.0
    elif a.shape[2] == 1:
        ya = a[:, :, 0].astype(np.float64) / 255.0
        yb = b[:, :, 0].astype(np.float64) / 255.0
    else:
        raise ValueError(f"expected RGB or greyscale images, got {a.shape}")
    h, w = (ya.shape[0] // 8) * 8, (ya.shape[1] // 8) * 8
    if h == 0 or w == 0:
        raise ValueError(f"images of shape {a.shape} are smaller than 8x8")
    _, hvsm = psnr_hvs_hvsm(np.ascontiguousarray(ya[:h, :w]),
                            np.ascontiguousarray(yb[:h, :w]))
    return float(hvsm)
