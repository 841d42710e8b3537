"""Training patches without TensorFlow: a ``keras.utils.PyDataset`` of random crops (NumPy, Pillow).

The batches of :func:`tfrnncomp.training.data.patch_dataset`'s random mode for Keras backends other
than TensorFlow: each decoded image gives ``patches_per_image`` random ``patch_size`` crops,
each flipped left-right with probability 1/2, images smaller than the patch mirror-padded;
the crops of a batch come from ``ceil(batch_size / patches_per_image)`` images, shuffled, as
float32 ``[B, P, P, 3]`` in [-0.5, 0.5].  Files and the train/validation split are those of
:mod:`tfrnncomp.training.image_files`.  The stream is endless and, with a ``seed``, the same on every
run: batch ``i`` of epoch ``e`` depends only on ``(seed, e, i)``.
"""

from __future__ import annotations

import math
import threading

import keras
import numpy as np

from tfrnncomp.errors import ConfigError, InputImageError
from tfrnncomp.training.image_files import _pil_decode, source_files


def to_model_range(images) -> np.ndarray:
    """uint8 pixels -> float32 in [-0.5, 0.5]."""
    return np.asarray(images, np.float32) / 255.0 - 0.5


def mirror_pad(image: np.ndarray, size: int) -> np.ndarray:
    """Grow H and W to at least ``size`` by symmetric reflection (repeated as needed)."""
    def indices(n):
        i = np.arange(max(n, size)) % (2 * n)
        return np.where(i < n, i, 2 * n - 1 - i)

    if min(image.shape[:2]) >= size:
        return image
    return image[indices(image.shape[0])][:, indices(image.shape[1])]


def random_crops(image: np.ndarray, rng: np.random.Generator, size: int,
                 count: int) -> np.ndarray:
    """``count`` random crops with random left-right flips -> uint8 ``[count, P, P, 3]``."""
    image = mirror_pad(image, size)
    oy = rng.integers(0, image.shape[0] - size + 1, count)
    ox = rng.integers(0, image.shape[1] - size + 1, count)
    flip = rng.random(count) < 0.5
    crops = np.stack([image[y:y + size, x:x + size] for y, x in zip(oy, ox)])
    crops[flip] = crops[flip, :, ::-1]
    return crops


class PatchBatches(keras.utils.PyDataset):
    """Endless random-crop batches of an image folder's ``split`` (see the module's text).

    ``cache_images`` keeps every decoded image in memory (for small folders, such as the
    pre-cropped photos of an accelerator run).  ``workers``, ``use_multiprocessing`` and
    ``max_queue_size`` are ``PyDataset``'s.
    """

    def __init__(self, source, *, patch_size=32, batch_size=32, patches_per_image=16,
                 seed=None, split="train", validation_fraction=0.05, cache_images=False,
                 **kwargs):
        super().__init__(**kwargs)
        for name, value in (("patch_size", patch_size), ("batch_size", batch_size),
                            ("patches_per_image", patches_per_image)):
            if int(value) != value or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        self.files = source_files(source, split, validation_fraction)
        self.patch_size, self.batch_size = int(patch_size), int(batch_size)
        self.patches_per_image = int(patches_per_image)
        self.seed = np.random.SeedSequence(seed).entropy if seed is None else int(seed)
        self.epoch = 0
        self._cache = {} if cache_images else None
        self._lock = threading.Lock()

    @property
    def num_batches(self):
        return None  # endless: ``fit`` takes ``steps_per_epoch`` batches an epoch

    def on_epoch_end(self):
        self.epoch += 1

    def _image(self, index):
        if self._cache is not None and index in self._cache:
            return self._cache[index]
        try:
            image = _pil_decode(self.files[index])
        except OSError as error:
            raise InputImageError(f"cannot decode image {self.files[index]!r}: {error}") from None
        if self._cache is not None:
            with self._lock:
                self._cache[index] = image
        return image

    def _images_of(self, index):
        """The file indices batch ``index`` crops: consecutive places of seeded passes."""
        per_batch = math.ceil(self.batch_size / self.patches_per_image)
        count = len(self.files)
        out = []
        for place in range(index * per_batch, (index + 1) * per_batch):
            order = np.random.default_rng([self.seed, self.epoch, place // count, 1])
            out.append(int(order.permutation(count)[place % count]))
        return out

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index, 0])
        crops = np.concatenate([
            random_crops(self._image(i), rng, self.patch_size, self.patches_per_image)
            for i in self._images_of(index)])
        return to_model_range(crops[rng.permutation(len(crops))[:self.batch_size]])
