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

from tfrnncomp.model.layers.depth_to_space import DepthToSpace, SpaceToDepth

CONFIG_FILE = "postfilter.json"
WEIGHTS_FILE = "postfilter.weights.h5"


@keras.saving.register_keras_serializable(package="tfrnncomp")
class PostFilter(keras.Model):
    """``depth`` 3x3 convolutions (``channels`` wide, ReLU) whose output is added to the image.

    Call with the decoded image in the model's range ``float32[N, H, W, 3]`` and the iteration
    count ``k`` (a scalar, or a count per pixel broadcastable to ``[N, H, W, 1]``); returns the
    filtered image in the same range (not clipped).  The last convolution starts at zero, so an
    untrained filter is the identity.

    ``context_channels > 0`` adds a context branch: the input, zero-padded to multiples of
    ``context_factor`` and rearranged by space-to-depth, goes through ``context_depth`` 3x3
    convolutions of ``context_channels`` at ``1/context_factor`` of the resolution (a receptive
    field of several 16x16 code blocks for little computation), and back by depth-to-space into
    ``channels`` features added before the last convolution.  The branch's last (1x1)
    convolution starts at zero, so :func:`with_context` extends a trained filter without
    changing its output.
    """

    def __init__(self, channels=32, depth=5, iterations=16, context_channels=0,
                 context_depth=4, context_factor=4, name="post_filter", **kwargs):
        super().__init__(name=name, **kwargs)
        if int(depth) < 2 or int(channels) < 1 or int(iterations) < 2:
            raise ValueError("PostFilter needs depth >= 2, channels >= 1 and iterations >= 2")
        if int(context_channels) < 0 or int(context_depth) < 1 or int(context_factor) < 2:
            raise ValueError("PostFilter needs context_channels >= 0, context_depth >= 1 and "
                             "context_factor >= 2")
        self.channels, self.depth, self.iterations = int(channels), int(depth), int(iterations)
        self.context_channels, self.context_depth = int(context_channels), int(context_depth)
        self.context_factor = int(context_factor)
        self.convs = [keras.layers.Conv2D(self.channels, 3, padding="same", activation="relu",
                                          name=f"conv{i}") for i in range(self.depth - 1)]
        self.convs.append(keras.layers.Conv2D(3, 3, padding="same", kernel_initializer="zeros",
                                              name=f"conv{self.depth - 1}"))
        self.context = self._context_layers() if self.context_channels else []

    def _context_layers(self):
        f = self.context_factor
        layers = [SpaceToDepth(f, name="context_in")]
        layers += [keras.layers.Conv2D(self.context_channels, 3, padding="same",
                                       activation="relu", name=f"context_conv{i}")
                   for i in range(self.context_depth)]
        layers.append(keras.layers.Conv2D(self.channels * f * f, 1, kernel_initializer="zeros",
                                          name="context_out"))
        return layers + [DepthToSpace(f, name="context_up")]

    def build(self, input_shape):
        shape = (None, None, None, 4)
        for conv in self.convs:
            conv.build(shape)
            shape = (None, None, None, conv.filters)
        shape = (None, None, None, 4)
        for layer in self.context:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def iteration_plane(self, image, iteration):
        """The constant input plane of iteration ``k``, shaped like one channel of ``image``."""
        level = (ops.cast(iteration, "float32") - 1.0) / float(self.iterations - 1)
        level = ops.clip(level, 0.0, 1.0)
        return ops.ones_like(image[..., :1]) * level

    def call(self, image, iteration):
        x = ops.concatenate([image, self.iteration_plane(image, iteration)], axis=-1)
        features = x
        for conv in self.convs[:-1]:
            features = conv(features)
        if self.context:
            features = features + self._context(x)
        return image + self.convs[-1](features)

    def _context(self, x):
        """The context branch's features for ``x`` ``[N, H, W, 4]``, ``[N, H, W, channels]``."""
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        f = self.context_factor
        y = ops.pad(x, [[0, 0], [0, (-height) % f], [0, (-width) % f], [0, 0]])
        for layer in self.context:
            y = layer(y)
        return y[:, :height, :width, :]

    def get_config(self):
        config = {"name": self.name, "channels": self.channels, "depth": self.depth,
                  "iterations": self.iterations}
        if self.context_channels:
            config.update(context_channels=self.context_channels,
                          context_depth=self.context_depth, context_factor=self.context_factor)
        return config


CONFIG_KEYS = ("channels", "depth", "iterations", "context_channels", "context_depth",
               "context_factor")


def build(config):
    """A built :class:`PostFilter` from its config dict (:data:`CONFIG_KEYS`; missing keys take
    the defaults)."""
    layer = PostFilter(**{key: config[key] for key in CONFIG_KEYS if key in config})
    layer.build((None, None, None, 3))
    return layer


def with_context(layer, context_channels, context_depth=4, context_factor=4):
    """A new filter: ``layer``'s convolutions (weights copied) plus a fresh context branch,
    which starts at zero, so its output equals ``layer``'s."""
    if layer.context_channels:
        raise ValueError("this post-filter already has a context branch")
    config = dict(layer.get_config(), context_channels=context_channels,
                  context_depth=context_depth, context_factor=context_factor)
    extended = build(config)
    for old, new in zip(layer.convs, extended.convs):
        new.set_weights(old.get_weights())
    return extended


def weights_id(layer):
    """``postfilter@hash8`` of a filter's weights (the same hash as codec model ids); None for
    no filter (``layer`` None), as records and manifests write it."""
    from tfrnncomp.model.zoo import weights_digest

    return None if layer is None else f"postfilter@{weights_digest(layer)[:8]}"


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
