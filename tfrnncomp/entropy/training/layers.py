"""Layers of the BinaryRNN entropy model (Toderici et al. 2017, Section 3, Figure 3).

Both layers are *row-causal*: the output at code row ``y`` depends only on
input rows ``< y``.  This is stricter than the paper's raster order (which
also lets a position see the positions to its left in its own row), and it
is what lets the decoder decode a whole code row per range-decoder call.

- :class:`RowMaskedConv2D` is the paper's 7x7 masked convolution with its
  mask cut to the three rows above: taps at rows ``y-3 .. y-1`` and columns
  ``x-3 .. x+3``, i.e. a ``3 x 7`` kernel applied to the input shifted down by
  one row, zero padded at every border.
- :class:`LineLSTM` runs an LSTM over the rows of a feature map: the state of
  row ``y`` is computed from the features of row ``y`` (a ``1 x 3``
  input-to-state convolution) and the state of row ``y - 1`` (a ``1 x 3``
  state-to-state convolution).  Fed with features that only see rows
  ``< y``, its output at row ``y`` only sees rows ``< y`` too.
- :class:`DepthGroupDense` lets the bits of one position be coded in ``groups``
  groups along the depth: a linear map from the position's own codes to its
  logits whose mask lets group ``g`` see only the bits of groups ``< g`` (a
  channel-wise autoregression, as in Minnen and Singh 2020, inside one code
  position).  A decoder then decodes a row group by group.
"""

import keras
import tensorflow as tf

from tfrnncomp.model.layers.validation import check_int


@keras.saving.register_keras_serializable(package="tfrnncomp")
class RowMaskedConv2D(keras.layers.Layer):
    """Convolution over the ``rows`` rows above each position, ``width`` columns wide."""

    def __init__(self, filters, rows=3, width=7, **kwargs):
        super().__init__(**kwargs)
        self.filters = check_int("filters", filters, minimum=1)
        self.rows = check_int("rows", rows, minimum=1)
        self.width = check_int("width", width, minimum=1)
        if self.width % 2 != 1:
            raise ValueError(f"width must be odd, got {self.width}")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.kernel = self.add_weight(name="kernel", shape=(self.rows, self.width, channels,
                                                            self.filters),
                                      initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def call(self, inputs):
        half = self.width // 2
        # output row y covers padded rows y .. y+rows-1 = input rows y-rows .. y-1
        padded = tf.pad(inputs, [[0, 0], [self.rows, 0], [half, half], [0, 0]])
        out = tf.nn.conv2d(padded, tf.cast(self.kernel, inputs.dtype), 1, "VALID")
        return out[:, :-1] + tf.cast(self.bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, rows=self.rows, width=self.width)
        return config


@keras.saving.register_keras_serializable(package="tfrnncomp")
class LineLSTM(keras.layers.Layer):
    """An LSTM whose time axis is the image rows; 1 x ``kernel`` convolutions along a row.

    Gates are ordered ``i, f, o, g`` in the kernels' last axis (``4 * units``).
    """

    def __init__(self, units, kernel=3, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units, minimum=1)
        self.kernel_width = check_int("kernel", kernel, minimum=1)
        if self.kernel_width % 2 != 1:
            raise ValueError(f"kernel must be odd, got {self.kernel_width}")

    def build(self, input_shape):
        channels = int(input_shape[-1])
        k, u = self.kernel_width, self.units
        self.input_kernel = self.add_weight(name="input_kernel", shape=(1, k, channels, 4 * u),
                                            initializer="glorot_uniform")
        self.state_kernel = self.add_weight(name="state_kernel", shape=(1, k, u, 4 * u),
                                            initializer="orthogonal")
        bias = [0.0] * u + [1.0] * u + [0.0] * (2 * u)  # forget gate starts open
        self.bias = self.add_weight(name="bias", shape=(4 * u,),
                                    initializer=keras.initializers.Constant(bias))

    def call(self, inputs):
        dtype = inputs.dtype
        x = tf.nn.conv2d(inputs, tf.cast(self.input_kernel, dtype), 1, "SAME")
        x = x + tf.cast(self.bias, dtype)
        rows = tf.transpose(x, [1, 0, 2, 3])  # [h, B, w, 4u]
        state_kernel = tf.cast(self.state_kernel, dtype)
        shape = tf.shape(inputs)
        zeros = tf.zeros([shape[0], shape[2], self.units], dtype)

        def step(carry, gates_x):
            h, c = carry
            gates = gates_x + tf.nn.conv2d(h[:, None], state_kernel, 1, "SAME")[:, 0]
            i, f, o, g = tf.split(gates, 4, axis=-1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            return h, c

        hs, _ = tf.scan(step, rows, initializer=(zeros, zeros))
        return tf.transpose(hs, [1, 0, 2, 3])

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, kernel=self.kernel_width)
        return config


def depth_group_mask(bits, groups):
    """``float32[bits, bits]``: 1 where input bit ``e`` may feed output bit ``d``, i.e.
    where ``e``'s group comes before ``d``'s (groups of ``bits / groups`` consecutive bits)."""
    size = bits // groups
    group = tf.range(bits) // size
    return tf.cast(group[:, None] < group[None, :], tf.float32)


@keras.saving.register_keras_serializable(package="tfrnncomp")
class DepthGroupDense(keras.layers.Layer):
    """Logits of each bit from the same position's bits of the earlier depth groups.

    Input and output ``[..., bits]``; no bias; the kernel starts at zero, so adding
    this layer to a trained model leaves its predictions unchanged.
    """

    def __init__(self, groups, **kwargs):
        super().__init__(**kwargs)
        self.groups = check_int("groups", groups, minimum=1)

    def build(self, input_shape):
        bits = int(input_shape[-1])
        if bits % self.groups:
            raise ValueError(f"{bits} bits do not split into {self.groups} groups")
        self.kernel = self.add_weight(name="kernel", shape=(bits, bits), initializer="zeros")

    def call(self, inputs):
        mask = tf.cast(depth_group_mask(int(self.kernel.shape[0]), self.groups), inputs.dtype)
        return tf.tensordot(inputs, tf.cast(self.kernel, inputs.dtype) * mask, 1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(groups=self.groups)
        return config
