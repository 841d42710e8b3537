"""The post-filter: a small residual CNN on the decoded image, outside the iteration loop.

The decoder's iterations stay as the paper has them; the post-filter only changes the image a
user gets after ``k`` iterations.  It sees that image and ``k`` (as a constant plane
``(k - 1) / (iterations - 1)``, clipped to [0, 1]) and adds its output to the image.  Since no
iteration reads its result, files, codes and the entropy models are the same with and without
it, and any prefix of a file still decodes (filtered for its own ``k``).

A model directory may hold ``postfilter.json`` (``{"config": ..., "postfilter_id": ...,
"codec_model_id": ...}`` and the training record) and ``postfilter.weights.h5``; the filter's
id is ``postfilter@<first 8 hex digits of the SHA-256 of its weights>``.
"""

import json
import os

import keras
from keras import ops

CONFIG_FILE = "postfilter.json"
WEIGHTS_FILE = "postfilter.weights.h5"


@keras.saving.register_keras_serializable(package="tfrnncomp")
class PostFilter(keras.Model):
    """``depth`` 3x3 convolutions (``channels`` wide, ReLU) whose output is added to the image.

    Call with the decoded image in the model's range ``float32[N, H, W, 3]`` and the iteration
    count ``k`` (a scalar); returns the filtered image in the same range (not clipped).  The last
    convolution starts at zero, so an untrained filter is the identity.
    """

    def __init__(self, channels=32, depth=5, iterations=16, name="post_filter", **kwargs):
        super().__init__(name=name, **kwargs)
        if int(depth) < 2 or int(channels) < 1 or int(iterations) < 2:
            raise ValueError("PostFilter needs depth >= 2, channels >= 1 and iterations >= 2")
        self.channels, self.depth, self.iterations = int(channels), int(depth), int(iterations)
        self.convs = [keras.layers.Conv2D(self.channels, 3, padding="same", activation="relu",
                                          name=f"conv{i}") for i in range(self.depth - 1)]
        self.convs.append(keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros",
                                              name=f"conv{self.depth - 1}"))

    def build(self, input_shape):
        shape = (None, None, None, 4)
        for conv in self.convs:
            conv.build(shape)
            shape = (None, None, None, conv.filters)
        self.built = True

    def iteration_plane(self, image, iteration):
        """The constant input plane of iteration ``k``, shaped like one channel of ``image``."""
        level = (ops.cast(iteration, "float32") - 1.0) / float(self.iterations - 1)
        level = ops.clip(level, 0.0, 1.0)
        return ops.ones_like(image[..., :1]) * level

    def call(self, image, iteration):
        x = ops.concatenate([image, self.iteration_plane(image, iteration)], axis=-1)
        for conv in self.convs:
            x = conv(x)
        return image + x

    def get_config(self):
        return {"name": self.name, "channels": self.channels, "depth": self.depth,
                "iterations": self.iterations}


def build(config):
    """A built :class:`PostFilter` from its config dict (``channels``, ``depth``, ``iterations``)."""
    layer = PostFilter(**{key: config[key] for key in ("channels", "depth", "iterations")
                          if key in config})
    layer.build((None, None, None, 3))
    return layer


def weights_id(layer):
    """``postfilter@hash8`` of a filter's weights (the same hash as codec model ids)."""
    from tfrnncomp.model.zoo import weights_digest

    return f"postfilter@{weights_digest(layer)[:8]}"


def load(directory):
    """``(layer, record)`` of the post-filter in a model directory, or ``(None, None)``."""
    from tfrnncomp.errors import TfrnncompError

    config_path = os.path.join(directory, CONFIG_FILE)
    if not os.path.isfile(config_path):
        return None, None
    try:
        with open(config_path, encoding="utf-8") as handle:
            record = json.load(handle)
        layer = build(record["config"])
        layer.load_weights(os.path.join(directory, WEIGHTS_FILE))
    except Exception as error:  # JSON, h5py and Keras raise many types here
        raise TfrnncompError(f"cannot load the post-filter of {directory!r}: {error}") from None
    return layer, record


def filter_reconstruction(layer, reconstruction, iterations):
    """The filtered image of a decoder reconstruction ``float32[N, H, W, 3]`` (model range),
    in the model range and unrounded: the reconstruction is first rounded to the uint8 levels
    a user would get without the filter, so the filter always sees what it was trained on.
    ``iterations``: the count (scalar) or a count per pixel broadcastable to ``[N, H, W, 1]``."""
    levels = ops.clip(ops.round((ops.cast(reconstruction, "float32") + 0.5) * 255.0), 0.0, 255.0)
    return layer(levels / 255.0 - 0.5, ops.convert_to_tensor(iterations, "float32"))


def apply_uint8(layer, images, iterations):
    """Filter ``uint8[N, H, W, 3]`` decoded after ``iterations`` iterations -> ``uint8`` (rounded
    and clipped exactly as the decoder's own output is)."""
    y = filter_reconstruction(layer, ops.cast(images, "float32") / 255.0 - 0.5, iterations)
    return ops.cast(ops.clip(ops.round((y + 0.5) * 255.0), 0.0, 255.0), "uint8")
