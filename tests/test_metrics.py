"""Tests for tfrnncomp.eval.metrics: MS-SSIM against tf.image.ssim_multiscale,
PSNR known values, PSNR-HVS-M wiring."""

import io
import math
import os
import sys
import types

import os

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from tests.helpers import KODAK
from tfrnncomp.eval import metrics

KODIM01 = os.path.join(KODAK, "kodim01.png")
TOL = 1e-5


@pytest.fixture(scope="module")
def tf():
    tf = pytest.importorskip("tensorflow")
    try:  # stay light on CPU; fails harmlessly if TF is already initialised
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    return tf


def tf_ms_ssim(tf, a, b, max_val):
    return float(tf.image.ssim_multiscale(a[None], b[None], max_val)[0])


def smooth_noisy_pair(shape, seed=0):
    """uint8 image of smooth blobs plus texture, and a noisy blurred copy."""
    rng = np.random.default_rng(seed)
    base = gaussian_filter(rng.normal(size=shape), sigma=(6, 6, 0)[: len(shape)])
    base = 128 + 60 * base / base.std() + 10 * rng.normal(size=shape)
    dist = gaussian_filter(base, sigma=(0.8, 0.8, 0)[: len(shape)])
    dist = dist + 6 * rng.normal(size=shape)
    to_u8 = lambda x: np.clip(np.round(x), 0, 255).astype(np.uint8)
    return to_u8(base), to_u8(dist)


def test_ms_ssim_matches_tensorflow_on_a_jpeg_compressed_kodak_crop(tf):
    if not os.path.exists(KODIM01):
        pytest.skip(f"{KODIM01} not found; natural-image case skipped")
    from PIL import Image
    img = np.asarray(Image.open(KODIM01).convert("RGB"))[100:292, 200:456]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=20)
    jpg = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    assert img.shape == jpg.shape == (192, 256, 3)
    ours = metrics.ms_ssim(img, jpg)
    assert 0.5 < ours < 0.999
    assert abs(ours - tf_ms_ssim(tf, img, jpg, 255)) < TOL


def test_ms_ssim_matches_tensorflow_on_odd_sized_smooth_noisy_rgb_images(tf):
    a, b = smooth_noisy_pair((193, 257, 3))
    assert abs(metrics.ms_ssim(a, b) - tf_ms_ssim(tf, a, b, 255)) < TOL


def test_ms_ssim_matches_tensorflow_on_greyscale_images_with_or_without_channel_axis(tf):
    a, b = smooth_noisy_pair((171, 200, 1), seed=1)
    ours = metrics.ms_ssim(a, b)
    assert abs(ours - tf_ms_ssim(tf, a, b, 255)) < TOL
    assert metrics.ms_ssim(a[:, :, 0], b[:, :, 0]) == ours


def test_ms_ssim_matches_tensorflow_for_float_images_with_a_given_max_val(tf):
    a, b = smooth_noisy_pair((165, 181, 3), seed=2)
    a01, b01 = a.astype(np.float32) / 255, b.astype(np.float32) / 255
    assert abs(metrics.ms_ssim(a01, b01, 1.0) - tf_ms_ssim(tf, a01, b01, 1.0)) < TOL
    a255, b255 = a.astype(np.float32), b.astype(np.float32)
    assert abs(metrics.ms_ssim(a255, b255, 255.0) - tf_ms_ssim(tf, a255, b255, 255.0)) < TOL


def test_ms_ssim_clips_negative_contrast_structure_to_zero_like_tensorflow(tf):
    a, _ = smooth_noisy_pair((161, 170, 3), seed=3)
    inverted = 255 - a
    assert metrics.ms_ssim(a, inverted) == 0.0
    assert tf_ms_ssim(tf, a, inverted, 255) == 0.0


def test_ms_ssim_equals_tensorflow_to_rounding_when_tensorflow_runs_in_float64(tf, monkeypatch):
    from tensorflow.python.ops import image_ops_impl

    def to_float64(image, dtype, saturate=False, name=None):
        image = tf.convert_to_tensor(image)
        scale = 255.0 if image.dtype == tf.uint8 else 1.0
        return tf.cast(image, tf.float64) / scale

    monkeypatch.setattr(image_ops_impl, "convert_image_dtype", to_float64)
    a, b = smooth_noisy_pair((177, 163, 2), seed=4)
    assert abs(metrics.ms_ssim(a, b) - tf_ms_ssim(tf, a, b, 255)) < 1e-12


def test_identical_images_give_ms_ssim_of_one_and_infinite_db():
    a, _ = smooth_noisy_pair((161, 161, 3), seed=5)
    value = metrics.ms_ssim(a, a.copy())
    assert value == pytest.approx(1.0, abs=1e-12)
    assert metrics.ms_ssim_db(1.0) == math.inf


def test_ms_ssim_db_is_minus_ten_log10_of_one_minus_value():
    assert metrics.ms_ssim_db(0.9) == pytest.approx(10.0)
    assert metrics.ms_ssim_db(0.99) == pytest.approx(20.0)


def test_images_smaller_than_161_pixels_on_a_side_raise_value_error():
    assert metrics.min_ms_ssim_size() == 161
    ok = np.zeros((161, 300, 3), np.uint8)
    assert metrics.ms_ssim(ok, ok) == pytest.approx(1.0)
    small = np.zeros((300, 160, 3), np.uint8)
    with pytest.raises(ValueError, match="too small"):
        metrics.ms_ssim(small, small)


def test_mismatched_shapes_raise_value_error():
    a = np.zeros((200, 200, 3), np.uint8)
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.ms_ssim(a, a[:, :199])
    with pytest.raises(ValueError, match="shapes differ"):
        metrics.psnr(a, a[:, :, :1])


def test_psnr_of_a_constant_difference_of_one_is_48_13_db():
    a = np.full((10, 12, 3), 100, np.uint8)
    assert metrics.psnr(a, a + 1) == pytest.approx(48.1308, abs=1e-4)
    assert metrics.psnr(a + 1, a) == pytest.approx(20 * math.log10(255))


def test_psnr_uses_max_val_and_is_infinite_for_identical_images():
    a = np.zeros((4, 4), np.float32)
    assert metrics.psnr(a, a + 0.1, max_val=1.0) == pytest.approx(20.0, abs=1e-5)
    assert metrics.psnr(a, a) == math.inf


def test_psnr_hvs_m_raises_import_error_with_install_hint_when_package_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "psnr_hvsm", None)
    a = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ImportError, match="pip install psnr-hvsm"):
        metrics.psnr_hvs_m(a, a)


def test_psnr_hvs_m_scores_bt601_luma_in_unit_range_cropped_to_8x8_blocks(monkeypatch):
    seen = {}

    def fake_psnr_hvs_hvsm(ref, dist):
        seen["ref"], seen["dist"] = ref, dist
        return 40.0, 42.0

    fake = types.ModuleType("psnr_hvsm")
    fake.psnr_hvs_hvsm = fake_psnr_hvs_hvsm
    monkeypatch.setitem(sys.modules, "psnr_hvsm", fake)
    a = np.zeros((21, 30, 3), np.uint8)
    b = np.full((21, 30, 3), 255, np.uint8)
    assert metrics.psnr_hvs_m(a, b) == 42.0
    assert seen["ref"].shape == seen["dist"].shape == (16, 24)
    np.testing.assert_allclose(seen["ref"], 16 / 255)
    np.testing.assert_allclose(seen["dist"], 235 / 255)
