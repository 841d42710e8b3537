"""Whole-image validation: quality after every iteration, through the codec's own functions.

A model trained on small patches can score well on patches and badly on whole images, whose
interior the patches never show.  So validation here codes large centre crops of held-out
photographs with the codec's ``encode_codes``/``decode_all`` functions (the path users run;
entropy coding is lossless and is left out) and measures what users see after each iteration:

- ``psnr``: PSNR of the decoded uint8 image (RGB), in dB;
- ``ms_ssim``: MS-SSIM averaged over the RGB channels;
- ``residual``: mean absolute error of the decoded image, in 8-bit units;
- ``cosine``: the cosine between what iteration k changes in the decoded image and the residual
  before it (1: the change points exactly at the remaining error; near 0: it adds noise).

Each figure is the mean over the images.  :class:`WholeImageValidation` writes them after every
epoch to ``RUN_DIR/validation.csv`` and keeps the best weights by :func:`score`; with a weight
average it does the same for the averaged weights (``validation-average.csv``,
``best-average.weights.h5``).
"""

from __future__ import annotations

import csv
import math
import os
import time

import keras
import numpy as np

from tfrnncomp.eval import metrics

#: iterations logged by the training run
LOGGED_ITERATIONS = (1, 2, 4, 8, 16)
FIELDS = ("psnr", "ms_ssim", "residual", "cosine")


def spread(items, count):
    """``count`` items spread evenly over a sorted list (first and last included)."""
    items = list(items)
    if count >= len(items):
        return items
    picks = [items[round(i * (len(items) - 1) / max(count - 1, 1))] for i in range(count)]
    return list(dict.fromkeys(picks))


def centre_crop(image, size):
    """The ``size x size`` centre of ``image``, or None if it is smaller."""
    height, width = image.shape[:2]
    if min(height, width) < size:
        return None
    top, left = (height - size) // 2, (width - size) // 2
    return image[top:top + size, left:left + size]


def validation_crops(source, size=256, count=8, validation_fraction=0.05, split="validation"):
    """``(names, crops)``: centre crops of ``count`` images of the ``split`` of ``source``.

    ``split`` is "validation" (the files held out of a training folder) or "all" (a folder of
    validation images).  For a folder the images are spread over the sorted split
    (:func:`tfrnncomp.training.data.split_files`); for ``tfds:NAME`` they are the first ones of that
    split.  Images smaller than ``size`` are skipped.
    """
    from tfrnncomp.training import data as data_lib
    from tfrnncomp.errors import InputImageError

    if data_lib._is_tfds(source):
        images = data_lib.image_dataset(source, split).take(count).as_numpy_iterator()
        named = ((f"{source}#{i}", image) for i, image in enumerate(images))
    else:
        files = data_lib.split_files(data_lib.list_images(source), split,
                                     validation_fraction, root=os.fspath(source))
        named = ((os.path.relpath(f, source).replace(os.sep, "/"), data_lib.load_image(f))
                 for f in spread(files, count))
    names, crops = [], []
    for name, image in named:
        crop = centre_crop(image, size)
        if crop is not None:
            names.append(name)
            crops.append(crop)
    if not crops:
        raise InputImageError(f"no validation image of at least {size}x{size} in {source!r}")
    return names, crops


def _cosine(change, residual):
    norm = float(np.linalg.norm(change) * np.linalg.norm(residual))
    return float(np.dot(change.ravel(), residual.ravel()) / norm) if norm > 0 else 0.0


def image_curve(original, decoded):
    """Per-iteration figures of one image: ``{field: [value after iteration 1..T]}``.

    ``decoded`` is ``uint8[T, H, W, 3]``, the image after every iteration.
    """
    x = np.asarray(original, np.float64)
    previous = np.full_like(x, 127.5)  # the empty reconstruction (0 in model range)
    out = {field: [] for field in FIELDS}
    for image in np.asarray(decoded):
        current = image.astype(np.float64)
        out["psnr"].append(metrics.psnr(original, image))
        out["ms_ssim"].append(metrics.ms_ssim(original, image))
        out["residual"].append(float(np.mean(np.abs(x - current))))
        out["cosine"].append(_cosine(current - previous, x - previous))
        previous = current
    return out


def iteration_curve(functions, images, iterations):
    """Mean per-iteration figures over ``images`` coded with ``functions`` (CodecFunctions).

    Returns ``{field: [mean after iteration 1..iterations]}``.
    """
    curves = []
    for image in images:
        image = np.asarray(image, np.uint8)
        codes = functions.encode_codes(image, np.int32(iterations))
        decoded = functions.decode_all(codes, np.int32(image.shape[0]), np.int32(image.shape[1]))
        curves.append(image_curve(image, decoded))
    return mean_curve(curves)


def model_curve(model, images, iterations=None):
    """What :func:`iteration_curve` measures, from the model's own forward pass on any Keras
    backend (no TensorFlow, no codec): the same steps in inference mode, the reconstruction
    rounded to uint8 after each iteration as the decoder does.

    ``images`` are uint8 ``[H, W, 3]`` of one size whose sides are multiples of the model's
    padding multiple (the codec's padding is left out); they go through
    ``model.predict_on_batch`` as one batch, so ``config.train_iterations`` iterations run
    (``iterations``, when given, keeps the first ones).
    """
    from tfrnncomp.runtime.steps import to_model_range, to_uint8

    originals = [np.asarray(image, np.uint8) for image in images]
    reconstructions = model.predict_on_batch(to_model_range(np.stack(originals)))
    decoded = to_uint8(np.asarray(reconstructions)[:iterations])
    return mean_curve([image_curve(original, decoded[:, i])
                       for i, original in enumerate(originals)])


def mean_curve(curves):
    """The mean over images of :func:`image_curve`'s figures."""
    length = len(curves[0]["psnr"])
    return {field: [float(np.mean([c[field][t] for c in curves])) for t in range(length)]
            for field in FIELDS}


def score(curve, iterations=LOGGED_ITERATIONS):
    """One number to pick checkpoints by: mean over ``iterations`` of PSNR + MS-SSIM in dB.

    Iterations beyond the curve's length are left out.
    """
    chosen = [k for k in iterations if k <= len(curve["psnr"])]
    return float(np.mean([curve["psnr"][k - 1] + metrics.ms_ssim_db(curve["ms_ssim"][k - 1])
                          for k in chosen]))


def columns(iterations=LOGGED_ITERATIONS):
    return (["epoch", "seconds", "score"]
            + [f"{field}_{k}" for field in ("psnr", "ms_ssim") for k in iterations])


def read_rows(path):
    """``{epoch: {column: value}}`` of an existing ``validation.csv`` (``columns()`` but the
    epoch, as floats; empty if there is none)."""
    if not os.path.exists(path):
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        return {int(row["epoch"]): {k: float(v) for k, v in row.items() if k != "epoch"}
                for row in csv.DictReader(handle)}


def read_scores(path):
    """``{epoch: score}`` of an existing ``validation.csv`` (empty if there is none)."""
    return {epoch: row["score"] for epoch, row in read_rows(path).items()}


def averaged_path(path):
    """The file beside ``path`` for the averaged weights: ``validation.csv`` ->
    ``validation-average.csv``, ``best.weights.h5`` -> ``best-average.weights.h5``."""
    directory, name = os.path.split(path)
    stem, dot, extension = name.partition(".")
    return os.path.join(directory, f"{stem}-average{dot}{extension}")


class WholeImageValidation(keras.callbacks.Callback):
    """After every ``every`` epochs: code ``images`` through the codec, log, keep the best.

    Appends a row to ``csv_path`` (``columns()``); when the score beats every earlier row
    (those of a resumed run included) the weights go to ``best_path``.  With ``average`` (a
    :class:`tfrnncomp.training.averaging.WeightAverage`) the averaged weights are then scored the
    same way, into the files of :func:`averaged_path`: their best is saved from the training
    model with the average swapped in, so it has the layout of ``best_path``.
    """

    def __init__(self, images, csv_path, best_path=None, every=1,
                 iterations=LOGGED_ITERATIONS, average=None):
        super().__init__()
        self.images = list(images)
        self.csv_path = csv_path
        self.best_path = best_path
        self.every = int(every)
        self.iterations = tuple(iterations)
        self.average = average
        self._functions = None

    def _codec_functions(self):
        """The codec's functions on a float32 copy of the model, refreshed from its weights.

        A copy, so that validation measures what the shipped codec would run (float32, the
        inference graph) whatever precision or strategy the training model uses.
        """
        if self._functions is None:
            from tfrnncomp.runtime.graph import CodecFunctions
            from tfrnncomp.model.network import RNNCompressionModel

            copy = RNNCompressionModel(self.model.config.to_dict(), dtype="float32")
            self._functions = CodecFunctions(copy.build_for_inference())
        for target, source in zip(self._functions.model.weights, self.model.weights):
            target.assign(keras.ops.cast(source, target.dtype))
        return self._functions

    def evaluate(self):
        """``(score, curve)`` of the model now."""
        curve = iteration_curve(self._codec_functions(), self.images, max(self.iterations))
        return score(curve, self.iterations), curve

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        value = self._record(epoch, self.csv_path, self.best_path)
        if logs is not None:
            logs["val_whole_score"] = value
        if self.average is None:
            return
        with self.average.swapped():
            value = self._record(epoch, averaged_path(self.csv_path),
                                 self.best_path and averaged_path(self.best_path))
        if logs is not None:
            logs["val_whole_score_average"] = value

    def _record(self, epoch, csv_path, best_path):
        """Score the model's weights now and append the row to ``csv_path``; save the weights
        to ``best_path`` when the score beats every earlier row.  Returns the score."""
        start = time.time()
        value, curve = self.evaluate()
        row = [epoch, f"{time.time() - start:.1f}", f"{value:.4f}"]
        row += [f"{curve[field][k - 1]:.4f}" for field in ("psnr", "ms_ssim")
                for k in self.iterations]
        earlier = read_scores(csv_path)
        new = not os.path.exists(csv_path)
        with open(csv_path, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(columns(self.iterations))
            writer.writerow(row)
        if best_path and value > max(earlier.values(), default=-math.inf):
            from tfrnncomp.atomic import atomic_path

            with atomic_path(best_path, suffix=".weights.h5") as tmp:
                self.model.save_weights(tmp)
        return value
