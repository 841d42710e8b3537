"""Depth-to-space upsampling of the decoder (Toderici et al. 2017, Figure 1), and its inverse.

Each decoder RNN is followed by a depth-to-space by 2: ``H x W x C`` becomes
``2H x 2W x C/4`` (Shi et al. 2016's sub-pixel rearrangement).  TFLite has native
DEPTH_TO_SPACE and SPACE_TO_DEPTH ops, so under TensorFlow each layer is that one op (the
exported step models keep it); other Keras backends get the same rearrangement from
``keras.ops``.  The post-filter's context branch uses both.
"""

import keras
from keras import ops

from tfrnncomp.model.layers.validation import check_int


class _Rearrange(keras.layers.Layer):
    """A pixel rearrangement by ``block_size``: one TF op under TensorFlow, ``keras.ops``
    elsewhere (``_TF_OP`` names the ``tf.nn`` op, ``_OPS`` is the portable function)."""

    _TF_OP = None

    def __init__(self, block_size=2, **kwargs):
        super().__init__(**kwargs)
        self.block_size = check_int("block_size", block_size, minimum=2)

    def call(self, inputs):
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            return getattr(tf.nn, self._TF_OP)(inputs, self.block_size)
        return type(self)._OPS(inputs, self.block_size)

    def get_config(self):
        config = super().get_config()
        config.update(block_size=self.block_size)
        return config


def depth_to_space(x, block_size):
    """``tf.nn.depth_to_space`` (NHWC) in ``keras.ops``: channel ``(dy * b + dx) * C' + c`` of
    pixel ``(y, x)`` goes to channel ``c`` of pixel ``(y * b + dy, x * b + dx)``."""
    b = block_size
    n, h, w, c = ops.shape(x)
    x = ops.reshape(x, (n, h, w, b, b, c // (b * b)))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (n, h * b, w * b, c // (b * b)))


def space_to_depth(x, block_size):
    """``tf.nn.space_to_depth`` (NHWC) in ``keras.ops``, the inverse of :func:`depth_to_space`."""
    b = block_size
    n, h, w, c = ops.shape(x)
    x = ops.reshape(x, (n, h // b, b, w // b, b, c))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (n, h // b, w // b, b * b * c))


@keras.saving.register_keras_serializable(package="tfrnncomp")
class DepthToSpace(_Rearrange):
    """Rearranges ``block_size**2`` channel groups into ``block_size x block_size`` pixels."""

    _TF_OP, _OPS = "depth_to_space", depth_to_space

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is not None and channels % (self.block_size ** 2):
            raise ValueError(
                f"DepthToSpace({self.block_size}) needs channels divisible by "
                f"{self.block_size ** 2}, got {channels}")

    def compute_output_shape(self, input_shape):
        b = self.block_size
        h, w, c = input_shape[1:]
        return (input_shape[0], None if h is None else h * b, None if w is None else w * b,
                None if c is None else c // (b * b))


@keras.saving.register_keras_serializable(package="tfrnncomp")
class SpaceToDepth(_Rearrange):
    """The inverse of :class:`DepthToSpace`: ``H x W x C`` -> ``H/b x W/b x C*b*b`` (``H`` and
    ``W`` multiples of ``b``)."""

    _TF_OP, _OPS = "space_to_depth", space_to_depth

    def compute_output_shape(self, input_shape):
        b = self.block_size
        h, w, c = input_shape[1:]
        return (input_shape[0], None if h is None else h // b, None if w is None else w // b,
                None if c is None else c * b * b)
