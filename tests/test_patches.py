"""Tests of tfrnncomp.training.patches: random-crop batches without TensorFlow (a Keras PyDataset)."""

import os

import numpy as np
import pytest
from PIL import Image

from tfrnncomp.training import image_files, patches
from tfrnncomp.errors import ConfigError, InputImageError


def _folder(root, n=6, size=(40, 50), seed=0):
    rng = np.random.default_rng(seed)
    images = {}
    for i in range(n):
        path = os.path.join(root, "a" if i % 2 else "b", f"img{i}.{'png' if i % 3 else 'jpg'}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        images[path] = rng.integers(0, 256, size + (3,), dtype=np.uint8)
        Image.fromarray(images[path]).save(path, quality=100)
    return str(root), images


def _views(image, size):
    views = np.lib.stride_tricks.sliding_window_view(image, (size, size, 3)).reshape(
        -1, size, size, 3)
    return np.concatenate([views, views[:, :, ::-1]])  # with left-right flips


def test_batches_have_the_right_shape_dtype_and_range(tmp_path):
    root, _ = _folder(tmp_path)
    batches = patches.PatchBatches(root, patch_size=16, batch_size=5, patches_per_image=3,
                                   seed=1, split="all")
    for index in range(3):
        batch = batches[index]
        assert batch.dtype == np.float32 and batch.shape == (5, 16, 16, 3)
        assert batch.min() >= -0.5 and batch.max() <= 0.5
    assert batches.num_batches is None


def test_crops_are_actual_image_content_with_flips():
    image = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    crops = patches.random_crops(image, np.random.default_rng(1), 8, 64)
    views = _views(image, 8)
    assert all((views == crop).all(axis=(1, 2, 3)).any() for crop in crops)
    flipped = [not (views[:len(views) // 2] == crop).all(axis=(1, 2, 3)).any() for crop in crops]
    assert 10 < sum(flipped) < 54


def test_a_batch_crops_the_folder_s_own_pixels(tmp_path):
    root, images = _folder(tmp_path, n=1)
    (path, image), = images.items()
    decoded = image_files._pil_decode(path)  # the jpg's own decoded pixels
    batch = patches.PatchBatches(root, patch_size=8, batch_size=4, patches_per_image=4,
                                 seed=0, split="all")[0]
    pixels = np.round((batch + 0.5) * 255).astype(np.uint8)
    views = _views(decoded, 8)
    assert all((views == p).all(axis=(1, 2, 3)).any() for p in pixels)


def test_small_images_are_mirror_padded_as_the_tf_pipeline_pads_them():
    image = np.arange(6).reshape(2, 3, 1)
    out = patches.mirror_pad(image, 5)[..., 0]
    np.testing.assert_array_equal(out[0], [0, 1, 2, 2, 1])
    np.testing.assert_array_equal(out[:, 0], [0, 3, 3, 0, 0])
    tf = pytest.importorskip("tensorflow")
    from tfrnncomp.training import data

    for shape in [(2, 3), (7, 1), (5, 9), (12, 12)]:
        image = np.arange(np.prod(shape) * 3).reshape(shape + (3,))
        np.testing.assert_array_equal(patches.mirror_pad(image, 11),
                                      data._mirror_pad(tf.constant(image), 11).numpy())


def test_the_same_seed_gives_the_same_stream_and_epochs_differ(tmp_path):
    root, _ = _folder(tmp_path)
    kwargs = dict(patch_size=16, batch_size=8, patches_per_image=4, split="all")
    a = patches.PatchBatches(root, seed=7, **kwargs)
    b = patches.PatchBatches(root, seed=7, cache_images=True, **kwargs)
    c = patches.PatchBatches(root, seed=8, **kwargs)
    np.testing.assert_array_equal(a[3], b[3])
    np.testing.assert_array_equal(a[3], b[3])  # from the cache
    assert not np.array_equal(a[3], c[3]) and not np.array_equal(a[3], a[4])
    first = a[0]
    a.on_epoch_end()
    assert not np.array_equal(first, a[0])


def test_every_image_of_the_split_is_used_once_per_pass(tmp_path):
    root, _ = _folder(tmp_path, n=5)
    batches = patches.PatchBatches(root, batch_size=4, patches_per_image=2, seed=3, split="all")
    used = [i for index in range(5) for i in batches._images_of(index)]  # 10 places, 2 passes
    assert sorted(used[:5]) == sorted(used[5:]) == list(range(5))


def test_the_split_is_the_tf_pipeline_s_split(tmp_path):
    root, _ = _folder(tmp_path, n=40, size=(8, 8))
    train = patches.PatchBatches(root, split="train", validation_fraction=0.3).files
    held = patches.PatchBatches(root, split="validation", validation_fraction=0.3).files
    assert train == image_files.split_files(image_files.list_images(root), "train", 0.3, root)
    assert not set(train) & set(held) and len(train) + len(held) == 40


def test_bad_arguments_and_folders_raise_clear_errors(tmp_path):
    root, _ = _folder(tmp_path / "ok")
    with pytest.raises(ConfigError, match="batch_size"):
        patches.PatchBatches(root, batch_size=0)
    with pytest.raises(InputImageError, match="not found"):
        patches.PatchBatches(str(tmp_path / "nope"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.png").write_bytes(b"not a png")
    with pytest.raises(InputImageError, match="cannot decode"):
        patches.PatchBatches(str(bad), split="all")[0]
