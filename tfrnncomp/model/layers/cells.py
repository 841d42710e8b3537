"""Convolutional recurrent cells of Toderici et al. 2017, Section 2 and Figure 1.

Every cell owns an *input convolution* (kernel, stride) applied to the layer's
input and a *hidden convolution* (kernel, stride 1) applied to its previous
state, as in the paper's table ("kernel in/hidden").  The gate
pre-activations of each convolution are fused into one convolution, so a step
costs two convolutions whatever the cell type.

A cell is called as ``output, new_states = cell(inputs, states)`` where
``states`` is a tuple of tensors (see :meth:`ConvRNNCell.initial_state`).
Spatial size is dynamic: a cell with stride ``s`` maps ``H x W`` to
``ceil(H/s) x ceil(W/s)``.
"""

import keras
from keras import ops

from tfrnncomp.model.layers.validation import check_int


class ConvRNNCell(keras.layers.Layer):
    """Base class: input/hidden convolutions and state bookkeeping.

    Args:
        units: depth of the hidden state (channels).
        kernel_size: kernel of the input convolution.
        strides: stride of the input convolution (2 in the encoder, 1 in the decoder).
        hidden_kernel_size: kernel of the hidden-state convolution (1 or 3 in the paper).
    """

    #: number of pre-activation blocks of ``units`` channels each convolution emits
    input_blocks = 4
    hidden_blocks = 4
    #: number of state tensors (h, c, ...)
    num_states = 2

    def __init__(self, units, kernel_size=3, strides=1, hidden_kernel_size=1, **kwargs):
        super().__init__(**kwargs)
        self.units = check_int("units", units, minimum=1)
        self.kernel_size = check_int("kernel_size", kernel_size, minimum=1)
        self.strides = check_int("strides", strides, minimum=1)
        self.hidden_kernel_size = check_int("hidden_kernel_size", hidden_kernel_size, minimum=1)
        self.input_conv = keras.layers.Conv2D(
            self._conv_channels(self.input_blocks), self.kernel_size, strides=self.strides,
            padding="same", name="input_conv")
        self.hidden_conv = keras.layers.Conv2D(
            self._conv_channels(self.hidden_blocks), self.hidden_kernel_size, padding="same",
            use_bias=False, name="hidden_conv")

    @classmethod
    def conv_channels(cls, units, blocks):
        """Output channels of a convolution emitting ``blocks`` pre-activation blocks."""
        return blocks * units

    def _conv_channels(self, blocks):
        return self.conv_channels(self.units, blocks)

    def build(self, input_shape):
        self.input_conv.build(input_shape)
        self.hidden_conv.build((None, None, None, self.units))

    def initial_state(self, inputs):
        """Zero states for ``inputs`` (the tensor this cell will be called on)."""
        shape = ops.shape(inputs)
        height = (shape[1] + self.strides - 1) // self.strides
        width = (shape[2] + self.strides - 1) // self.strides
        zeros = ops.zeros((shape[0], height, width, self.units), dtype=self.compute_dtype)
        return tuple(zeros for _ in range(self.num_states))

    def compute_output_shape(self, input_shape, states_shape=None):
        def scaled(n):
            return None if n is None else -(-n // self.strides)
        shape = (input_shape[0], scaled(input_shape[1]), scaled(input_shape[2]), self.units)
        return shape, tuple(shape for _ in range(self.num_states))

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, kernel_size=self.kernel_size, strides=self.strides,
                      hidden_kernel_size=self.hidden_kernel_size)
        return config

    def _split(self, tensor, blocks):
        return ops.split(tensor, blocks, axis=-1)


@keras.saving.register_keras_serializable(package="tfrnncomp")
class ConvLSTMCell(ConvRNNCell):
    """Convolutional LSTM (Section 2.2, "LSTM"); states ``(h, c)``."""

    def call(self, inputs, states):
        h, c = states
        gates = self.input_conv(inputs) + self.hidden_conv(h)
        i, f, o, g = self._split(gates, 4)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, (h, c)


@keras.saving.register_keras_serializable(package="tfrnncomp")
class ConvGRUCell(ConvRNNCell):
    """Convolutional GRU (Section 2.3); state ``(h,)``.

    The reset gate multiplies the hidden convolution's candidate block after the
    convolution ("linear before reset"), which lets all three hidden blocks
    share one fused convolution.
    """

    input_blocks = 3
    hidden_blocks = 3
    num_states = 1

    def _gru_step(self, x_blocks, h):
        xz, xr, xn = x_blocks
        hz, hr, hn = self._split(self.hidden_conv(h), 3)
        z = ops.sigmoid(xz + hz)
        r = ops.sigmoid(xr + hr)
        n = ops.tanh(xn + r * hn)
        return (1.0 - z) * h + z * n

    def call(self, inputs, states):
        (h,) = states
        h = self._gru_step(self._split(self.input_conv(inputs), 3), h)
        return h, (h,)


@keras.saving.register_keras_serializable(package="tfrnncomp")
class ResidualGRUCell(ConvGRUCell):
    """The paper's residual GRU (Section 2.3, "Residual GRU").

    A GRU whose output adds a learned projection of the input convolution,
    ``o_t = h_t + W_ox * x_t``, giving the cell a residual path (He et al. 2016).
    The recurrent state stays ``h_t``; the projection is a fourth block of the
    fused input convolution.
    """

    input_blocks = 4

    def call(self, inputs, states):
        (h,) = states
        xz, xr, xn, x_res = self._split(self.input_conv(inputs), 4)
        h = self._gru_step((xz, xr, xn), h)
        return h + x_res, (h,)


def _complex_multiply(a_re, a_im, b_re, b_im):
    return a_re * b_re - a_im * b_im, a_re * b_im + a_im * b_re


def _bound(re, im, epsilon=1e-6):
    """Danihelka et al. 2016's bound: divide a complex vector by max(1, |z|)."""
    norm = ops.maximum(1.0, ops.sqrt(re * re + im * im + epsilon))
    return re / norm, im / norm


@keras.saving.register_keras_serializable(package="tfrnncomp")
class AssociativeLSTMCell(ConvRNNCell):
    """Convolutional associative LSTM (Danihelka et al. 2016; Section 2.2).

    The cell state is a holographic reduced representation: a complex vector
    (real half, imaginary half of ``units`` channels) in which values are stored
    and retrieved by elementwise complex multiplication with learned input and
    output keys.  The paper found it useful in the decoder only.  ``units``
    must be even.  States ``(h, c)``.
    """

    # Nine blocks of units/2 channels: gates i, f, o, then the complex value u,
    # input key r_i and output key r_o (real and imaginary block each).
    input_blocks = 9
    hidden_blocks = 9

    def __init__(self, units, *args, **kwargs):
        if check_int("units", units, minimum=2) % 2:
            raise ValueError(f"AssociativeLSTMCell needs an even number of units, got {units}")
        super().__init__(units, *args, **kwargs)

    @classmethod
    def conv_channels(cls, units, blocks):
        return blocks * (units // 2)

    def call(self, inputs, states):
        h, c = states
        pre = self.input_conv(inputs) + self.hidden_conv(h)
        (gi, gf, go, u_re, u_im, ri_re, ri_im, ro_re, ro_im) = self._split(pre, 9)
        i, f, o = ops.sigmoid(gi), ops.sigmoid(gf), ops.sigmoid(go)
        u_re, u_im = _bound(u_re, u_im)
        ri_re, ri_im = _bound(ri_re, ri_im)
        ro_re, ro_im = _bound(ro_re, ro_im)
        c_re, c_im = self._split(c, 2)
        w_re, w_im = _complex_multiply(ri_re, ri_im, i * u_re, i * u_im)
        c_re, c_im = f * c_re + w_re, f * c_im + w_im
        read_re, read_im = _bound(*_complex_multiply(ro_re, ro_im, c_re, c_im))
        h = ops.concatenate([o * read_re, o * read_im], axis=-1)
        c = ops.concatenate([c_re, c_im], axis=-1)
        return h, (h, c)


CELLS = {
    "lstm": ConvLSTMCell,
    "gru": ConvGRUCell,
    "residual_gru": ResidualGRUCell,
    "associative_lstm": AssociativeLSTMCell,
}


def make_cell(kind, units, **kwargs):
    """Build a cell by its config name (one of :data:`CELLS`)."""
    try:
        cls = CELLS[kind]
    except KeyError:
        raise ValueError(f"unknown cell type {kind!r}; expected one of {sorted(CELLS)}") from None
    return cls(units, **kwargs)
