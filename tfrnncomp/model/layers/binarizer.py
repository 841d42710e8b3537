"""The binarizer B of Toderici et al. 2017, Section 2.1.

A 1x1 convolution maps the last encoder state to ``bits`` channels, ``tanh``
bounds it to (-1, 1), and the sign quantizes it: per 16x16 block and iteration
``bits`` (32 in the paper) bits, so 0.125 bpp per iteration.

During training the binarizer is stochastic (``training_mode="stochastic"``, the
paper's): it emits +1 with probability ``(1 + x) / 2`` and -1 otherwise, whose
expectation is ``x``; the gradient passes straight through (``d b / d x = 1``).
With ``training_mode="sign"`` it trains on the bits inference emits instead, with the
same straight-through gradient.  At inference it is deterministic, ``b = sign(x)``
with ``sign(0) = +1`` so every output is a valid bit.
"""

import keras
from keras import ops

from tfrnncomp.model.config import BINARIZER_TRAINING
from tfrnncomp.model.layers.validation import check_int


@keras.saving.register_keras_serializable(package="tfrnncomp")
class SignBinarizer(keras.layers.Layer):
    """1x1 conv + tanh + sign, with a straight-through estimator in training (on stochastic bits
    or on the signs, ``training_mode``, one of :data:`~tfrnncomp.model.config.BINARIZER_TRAINING`)."""

    def __init__(self, bits=32, seed=None, training_mode="stochastic", **kwargs):
        super().__init__(**kwargs)
        self.bits = check_int("bits", bits, minimum=1)
        if training_mode not in BINARIZER_TRAINING:
            raise ValueError(f"SignBinarizer training_mode must be one of "
                             f"{BINARIZER_TRAINING}, got {training_mode!r}")
        self.seed, self.training_mode = seed, training_mode
        self.projection = keras.layers.Conv2D(self.bits, 1, use_bias=False, name="projection")
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        self.projection.build(input_shape)

    def call(self, inputs, training=False, noise=None):
        """``noise`` (uniform in [0, 1), the output's shape) replaces the layer's own draw."""
        x = ops.tanh(self.projection(inputs))
        # exactly +1.0 / -1.0, so the decoder sees the same values as a file reader
        signs = ops.cast(ops.where(x >= 0.0, 1.0, -1.0), x.dtype)
        if not training:
            return signs
        if self.training_mode == "sign":
            sample = signs
        else:
            if noise is None:
                noise = self._noise(ops.shape(x), x.dtype)
            # P(+1) = (1 + x) / 2  <=>  noise < (1 + x) / 2
            sample = ops.cast(ops.where(noise < (1.0 + x) / 2.0, 1.0, -1.0), x.dtype)
        # forward: exactly `sample` (x - x == 0); backward: d/dx = 1 (straight through)
        return sample + (x - ops.stop_gradient(x))

    def _noise(self, shape, dtype):
        """Uniform noise in [0, 1); under ``tf.distribute`` each replica takes its own slice."""
        from tfrnncomp.training.distribute import replica_share

        return replica_share(
            lambda s: keras.random.uniform(s, dtype=dtype, seed=self.seed_generator), shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.bits,)

    def get_config(self):
        config = super().get_config()
        config.update(bits=self.bits, seed=self.seed, training_mode=self.training_mode)
        return config
