"""Code tensors as a dataset: what entropy models train on (Toderici et al. 2017, Section 3).

:func:`dump_codes` runs a codec over images and writes one TFRecord example per
image: the binarizer's codes of every iteration, packed 8 bits a byte, and
their shape ``[T, h, w, bits]``.  :func:`codes_dataset` reads them back as
``int8`` tensors in {-1, +1}, ready for ``model.fit`` of an entropy model.
"""

import os

import numpy as np
import tensorflow as tf

from tfrnncomp.errors import TfrnncompError

_FEATURES = {
    "codes": tf.io.FixedLenFeature([], tf.string),
    "shape": tf.io.FixedLenFeature([4], tf.int64),
    "image": tf.io.FixedLenFeature([], tf.string, default_value=""),
    "model_id": tf.io.FixedLenFeature([], tf.string, default_value=""),
}


def _example(codes, name, model_id):
    packed = np.packbits((np.asarray(codes) > 0).astype(np.uint8).reshape(-1)).tobytes()

    def feature(values, kind):
        if kind == "bytes":
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    return tf.train.Example(features=tf.train.Features(feature={
        "codes": feature([packed], "bytes"),
        "shape": feature(list(codes.shape), "int64"),
        "image": feature([name.encode("utf-8")], "bytes"),
        "model_id": feature([model_id.encode("utf-8")], "bytes"),
    }))


def random_crops(array, size, count, rng, multiple):
    """``count`` random ``size x size`` crops of an image (fewer sides: the whole side).

    Sides are rounded down to multiples of ``multiple`` (the model's pad multiple) so
    crops need no padding.
    """
    height, width = array.shape[:2]
    crop_h, crop_w = (max(multiple, min(size, side) // multiple * multiple)
                      if side >= multiple else side for side in (height, width))
    out = []
    for _ in range(count):
        y = int(rng.integers(0, height - crop_h + 1))
        x = int(rng.integers(0, width - crop_w + 1))
        out.append(array[y:y + crop_h, x:x + crop_w])
    return out


def dump_codes(codec, images, path, iterations=None, progress=None, crop=None, crops=1,
               seed=0):
    """Encode ``images`` (paths) and write their codes to the TFRecord file ``path``.

    With ``crop`` (pixels), each image gives ``crops`` random crops of that size
    (seeded by ``seed``) instead of the whole image: cheaper training data.
    Written to a temporary file and renamed, so a killed run leaves no partial file.
    Returns the number of examples written.
    """
    from tfrnncomp.atomic import atomic_path
    from tfrnncomp.codec import image_io

    iterations = iterations or codec.max_iterations
    rng = np.random.default_rng(seed)
    count = 0
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(tmp) as writer:
        for name in (progress(images) if progress else images):
            array, _ = image_io.to_array(image_io.open_image(name))
            parts = [array] if crop is None else random_crops(array, crop, crops, rng,
                                                                 codec.config.pad_multiple)
            for part in parts:
                codes = codec.functions.encode_codes(part, np.int32(iterations)).numpy()
                writer.write(_example(codes, os.path.basename(name), codec.model_id)
                             .SerializeToString())
                count += 1
    return count


def _parse(record):
    example = tf.io.parse_single_example(record, _FEATURES)
    shape = tf.cast(example["shape"], tf.int32)
    packed = tf.cast(tf.io.decode_raw(example["codes"], tf.uint8), tf.int32)
    shifts = tf.range(7, -1, -1, dtype=tf.int32)
    bits = tf.reshape(tf.bitwise.bitwise_and(tf.bitwise.right_shift(packed[:, None], shifts), 1),
                      [-1])[:tf.reduce_prod(shape)]
    return tf.reshape(tf.cast(bits, tf.int8) * 2 - 1, shape)


def codes_dataset(paths):
    """``tf.data.Dataset`` of code tensors ``int8[T, h, w, bits]`` from TFRecord files."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing:
        raise TfrnncompError(f"code files not found: {missing}")
    return tf.data.TFRecordDataset(paths).map(_parse, num_parallel_calls=tf.data.AUTOTUNE)
