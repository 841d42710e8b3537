"""Tests of tfrnncomp.training.data (patch pipelines for Toderici et al. 2017 training)."""

import os
import random

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfrnncomp.training import data
from tfrnncomp.errors import ConfigError, InputImageError, TfrnncompError

TRAIN_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "train")


def _write(path, array, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(array, mode).save(path)
    return path


def _rgb_folder(root, n=4, size=(48, 64), seed=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        sub = "a" if i % 2 else "b/c"
        ext = "png" if i % 3 else "jpg"
        _write(os.path.join(root, sub, f"img{i}.{ext}"),
               rng.integers(0, 256, size + (3,), dtype=np.uint8))
    return str(root)


def _first(ds):
    return next(iter(ds)).numpy()


def test_model_range_helpers_round_trip_uint8():
    x = tf.constant(np.arange(256, dtype=np.uint8).reshape(16, 16))
    y = data.to_model_range(x)
    assert y.dtype == tf.float32
    assert float(tf.reduce_min(y)) == -0.5 and float(tf.reduce_max(y)) == 0.5
    np.testing.assert_array_equal(data.from_model_range(y).numpy(), x.numpy())
    assert data.from_model_range(tf.constant([-3.0, 3.0])).numpy().tolist() == [0, 255]


def test_list_images_is_recursive_sorted_and_filters_extensions(tmp_path):
    root = _rgb_folder(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    files = data.list_images(root)
    assert len(files) == 4 and files == sorted(files)
    assert all(f.lower().endswith(data.IMAGE_EXTENSIONS) for f in files)


def test_missing_or_empty_folder_raises_a_clear_error(tmp_path):
    with pytest.raises(InputImageError, match="not found"):
        data.list_images(tmp_path / "nope")
    with pytest.raises(TfrnncompError, match="no images"):
        data.list_images(tmp_path)
    with pytest.raises(InputImageError, match="nope"):
        data.patch_dataset(str(tmp_path / "nope"))


def test_random_batches_have_the_right_shape_dtype_and_range(tmp_path):
    root = _rgb_folder(tmp_path)
    ds = data.patch_dataset(root, batch_size=5, patches_per_image=3, seed=1,
                            split="all", shuffle_buffer=16)
    assert ds.element_spec.shape.as_list() == [5, 32, 32, 3]
    for batch in ds.take(3):
        b = batch.numpy()
        assert b.dtype == np.float32 and b.shape == (5, 32, 32, 3)
        assert b.min() >= -0.5 and b.max() <= 0.5


def test_random_crops_are_actual_image_content(tmp_path):
    img = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    root = tmp_path / "one"
    _write(str(root / "x.png"), img)
    ds = data.patch_dataset(str(root), patch_size=8, batch_size=4, patches_per_image=4,
                            split="all", shuffle=False, repeat=False, seed=0)
    patches = np.concatenate([data.from_model_range(b).numpy() for b in ds])
    assert patches.shape == (4, 8, 8, 3)
    views = np.lib.stride_tricks.sliding_window_view(img, (8, 8, 3)).reshape(-1, 8, 8, 3)
    views = np.concatenate([views, views[:, :, ::-1]])  # horizontal flips
    for p in patches:
        assert (views == p).all(axis=(1, 2, 3)).any()


def test_greyscale_rgba_small_and_pil_only_files_are_handled(tmp_path):
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, (40, 36), dtype=np.uint8)
    rgba = rng.integers(0, 256, (36, 40, 4), dtype=np.uint8)
    paths = {
        "grey": _write(str(tmp_path / "grey.png"), grey),
        "rgba": _write(str(tmp_path / "rgba.png"), rgba),
        "la": _write(str(tmp_path / "la.png"), np.stack([grey, grey], -1), "LA"),
        "small": _write(str(tmp_path / "small.png"), rgba[:10, :12, :3]),
        "ppm": _write(str(tmp_path / "p.ppm"), rgba[..., :3]),
        "tif": _write(str(tmp_path / "t.tif"), rgba[..., :3]),
        "webp": _write(str(tmp_path / "w.webp"), rgba[..., :3]),
    }
    g = data.load_image(paths["grey"])
    assert g.shape == (40, 36, 3) and (g == grey[..., None]).all()
    np.testing.assert_array_equal(data.load_image(paths["rgba"]), rgba[..., :3])
    assert data.load_image(paths["la"]).shape == (40, 36, 3)
    np.testing.assert_array_equal(data.load_image(paths["ppm"]), rgba[..., :3])
    np.testing.assert_array_equal(data.load_image(paths["tif"]), rgba[..., :3])
    assert data.load_image(paths["webp"]).shape == (36, 40, 3)
    ds = data.patch_dataset(str(tmp_path), batch_size=4, patches_per_image=2, split="all",
                            repeat=False, drop_remainder=False, seed=3)
    batches = [b.numpy() for b in ds]
    assert sum(len(b) for b in batches) == 2 * len(paths)
    assert all(b.shape[1:] == (32, 32, 3) for b in batches)


def test_small_images_are_mirror_padded_up_to_the_patch_size():
    img = tf.reshape(tf.range(6, dtype=tf.int32), [2, 3, 1])
    out = data._mirror_pad(img, 5).numpy()[..., 0]
    assert out.shape == (5, 5)
    np.testing.assert_array_equal(out[0], [0, 1, 2, 2, 1])
    np.testing.assert_array_equal(out[:, 0], [0, 3, 3, 0, 0])


def test_same_seed_gives_identical_batches_and_another_seed_differs(tmp_path):
    root = _rgb_folder(tmp_path, n=6)
    kw = dict(batch_size=8, patches_per_image=4, shuffle=True, shuffle_buffer=32, split="all")
    a = _first(data.patch_dataset(root, seed=7, **kw))
    b = _first(data.patch_dataset(root, seed=7, **kw))
    c = _first(data.patch_dataset(root, seed=8, **kw))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_split_is_stable_disjoint_and_independent_of_location_and_order():
    rel = [f"set{i % 3}/img{i:04d}.png" for i in range(2000)]
    files = [os.path.join("/data/x", r) for r in rel]
    train = data.split_files(files, "train", 0.05, root="/data/x")
    val = data.split_files(files, "validation", 0.05, root="/data/x")
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(files)
    assert 0.02 < len(val) / len(files) < 0.08
    moved = [os.path.join("/elsewhere", r) for r in rel]
    random.Random(0).shuffle(moved)
    val2 = data.split_files(moved, "validation", 0.05, root="/elsewhere")
    assert sorted(os.path.relpath(f, "/elsewhere") for f in val2) == \
        sorted(os.path.relpath(f, "/data/x") for f in val)
    assert data.split_files(files, "all") == files
    with pytest.raises(ConfigError):
        data.split_files(files, "test")
    with pytest.raises(ConfigError, match="empty"):
        data.split_files(files[:3], "validation", 0.0)


def test_smallest_fraction_is_the_first_hundredth_to_hold_out_images_and_leave_some_to_train():
    files = [f"/data/x/photo{i}.png" for i in range(10)]
    shares = sorted(data.hash_share(f, "/data/x") for f in files)
    fraction = data.smallest_fraction(files, root="/data/x")
    assert shares[0] < fraction <= shares[0] + 0.01
    assert fraction * 100 == pytest.approx(round(fraction * 100))
    assert data.split_files(files, "validation", fraction, root="/data/x")
    assert data.split_files(files, "train", fraction, root="/data/x")
    with pytest.raises(ConfigError, match="empty"):
        data.split_files(files, "validation", fraction - 0.01, root="/data/x")
    three = data.smallest_fraction(files, 3, root="/data/x")
    assert len(data.split_files(files, "validation", three, root="/data/x")) >= 3
    assert data.smallest_fraction(files, 10, root="/data/x") is None  # none would train
    assert data.smallest_fraction(files[:1], root="/data/x") is None


def test_hard_patch_mining_picks_noisy_tiles_over_flat_ones(tmp_path):
    rng = np.random.default_rng(0)
    img = np.full((64, 128, 3), 120, np.uint8)
    img[:, 64:] = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    img[:, :64] += (np.arange(64, dtype=np.uint8) // 8)[None, :, None]  # gentle ramp
    path = _write(str(tmp_path / "half.png"), img)
    tiles = data.mine_hard_patches([path], patch_size=16, per_image=10)
    assert tiles.shape == (10, 16, 16, 3) and tiles.dtype == np.uint8
    noise_tiles = [img[y:y + 16, x:x + 16] for y in range(0, 64, 16) for x in range(64, 128, 16)]
    for t in tiles:
        assert any(np.array_equal(t, n) for n in noise_tiles)
    assert len({t.tobytes() for t in tiles}) == 10
    # arrays work too, per_image caps at the grid size, too-small images are skipped
    assert data.mine_hard_patches([img, img[:8, :8]], 16, 100).shape == (32, 16, 16, 3)


def test_hard_patch_cache_file_is_written_once_and_reused(tmp_path, monkeypatch):
    root = _rgb_folder(tmp_path / "imgs", n=3, size=(64, 64))
    cache = tmp_path / "cache"
    kw = dict(hard_patches=True, hard_per_image=2, batch_size=3, split="all",
              cache_dir=str(cache), seed=0)
    first = _first(data.patch_dataset(root, **kw))
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].endswith(".npy")
    assert np.load(cache / files[0]).shape == (6, 32, 32, 3)

    def boom(*a, **k):
        raise AssertionError("mined again despite the cache")

    monkeypatch.setattr(data, "mine_hard_patches", boom)
    again = _first(data.patch_dataset(root, **kw))
    np.testing.assert_array_equal(first, again)
    assert first.shape == (3, 32, 32, 3) and first.min() >= -0.5 and first.max() <= 0.5
    with pytest.raises(AssertionError, match="mined again"):
        data.patch_dataset(root, **dict(kw, hard_per_image=3))  # other params, other key
    assert os.listdir(cache) == files


def test_tfds_source_uses_the_image_feature_of_a_mocked_dataset():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=6):  # mnist: 28x28x1, smaller than 32
        ds = data.patch_dataset("tfds:mnist", batch_size=4, patches_per_image=2, seed=0)
        b = _first(ds)
        imgs = list(data.image_dataset("tfds:mnist:train").take(2))
    assert b.shape == (4, 32, 32, 3) and b.dtype == np.float32
    assert imgs[0].shape == (28, 28, 3) and imgs[0].dtype == tf.uint8


def test_tfds_source_passes_the_split_and_feature_to_tfds_load(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    calls = []

    def fake_load(name, split, **kw):
        calls.append((name, split))
        imgs = np.random.default_rng(0).integers(0, 256, (3, 40, 40, 4), dtype=np.uint8)
        return tf.data.Dataset.from_tensor_slices({"hr": imgs, "label": np.arange(3)})

    monkeypatch.setattr(tfds, "load", fake_load)
    b = _first(data.patch_dataset("tfds:fake:validation[:10]", batch_size=2, seed=0))
    assert b.shape == (2, 32, 32, 3)
    tiles = _first(data.patch_dataset("tfds:fake::hr", split="validation", hard_patches=True,
                                      hard_per_image=1, batch_size=3, cache_dir=str(tmp_path)))
    assert tiles.shape == (3, 32, 32, 3)
    assert calls[0] == ("fake", "validation[:10]") and calls[1] == ("fake", "validation")
    with pytest.raises(ConfigError, match="tfds:"):
        data.patch_dataset("tfds:")
    monkeypatch.setattr(tfds, "load", lambda name, split, **kw: tf.data.Dataset.from_tensor_slices(
        {"lr": np.zeros((1, 8, 8, 3), np.uint8), "hr": np.zeros((1, 16, 16, 3), np.uint8)}))
    with pytest.raises(ConfigError, match="FEATURE"):
        data.image_dataset("tfds:two_images")
    assert next(iter(data.image_dataset("tfds:two_images:train:lr"))).shape == (8, 8, 3)


def test_bad_arguments_raise_config_errors(tmp_path):
    root = _rgb_folder(tmp_path, n=2)
    with pytest.raises(ConfigError):
        data.patch_dataset(root, patch_size=0)
    with pytest.raises(ConfigError):
        data.patch_dataset(root, split="test")
    with pytest.raises(ConfigError):
        data.patch_dataset(root, validation_fraction=1.5)


@pytest.mark.skipif(not os.path.isdir(TRAIN_DIR), reason=f"training photos absent: {TRAIN_DIR}")
def test_shared_training_folder_lists_and_yields_a_batch():
    files = data.list_images(TRAIN_DIR)
    assert len(files) >= 600 and not any("kodak" in f.lower() for f in files)
    val = data.split_files(files, "validation", 0.05, root=TRAIN_DIR)
    assert 0 < len(val) < 0.15 * len(files)
    b = _first(data.patch_dataset(TRAIN_DIR, batch_size=8, shuffle_buffer=8, seed=0))
    assert b.shape == (8, 32, 32, 3)
