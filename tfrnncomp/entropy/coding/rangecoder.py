"""Binary range coding with the tensorflow-compression range coder.

Each coded bit carries an *index* into a table of binary CDFs: row ``i`` is
``[precision, 0, i + 1, 2**precision]``, i.e. ``P(bit = 0) = (i + 1) / 2**precision``.
Indices are integers computed by the caller with integer arithmetic, so every
runtime that reproduces them (NumPy here, Java in the Android demo) decodes
the same bits.  The coder itself is tensorflow-compression's range coder
(``create_range_encoder`` / ``entropy_encode_index`` / ``create_range_decoder``
/ ``entropy_decode_index``).
"""

import numpy as np

from tfrnncomp.format.header import RANGE_PRECISION
from tfrnncomp.errors import BitstreamError

PRECISION = RANGE_PRECISION
MAX_CDF = (1 << PRECISION) - 1


def _ops():
    import tensorflow_compression_ops as tfc  # loads the op library on first use

    return tfc


class BinaryTable:
    """The CDF lookup table shared by the encoder and the decoder."""

    def __init__(self, precision=PRECISION):
        import tensorflow as tf

        self.precision = precision
        cdf0 = np.arange(1, 1 << precision, dtype=np.int32)
        rows = np.stack([np.full_like(cdf0, precision), np.zeros_like(cdf0), cdf0,
                         np.full_like(cdf0, 1 << precision)], axis=1)
        self.lookup = tf.constant(rows)

    def index(self, cdf0):
        """Table index of integer ``cdf0 = P(bit = 0) * 2**precision`` in ``[1, 2**p - 1]``."""
        return (np.asarray(cdf0, np.int32) - 1).reshape(-1)


def encode(table, indices, bits):
    """Range-code ``bits`` (0/1) with per-bit table ``indices``; returns bytes."""
    tfc = _ops()
    handle = tfc.create_range_encoder([], table.lookup)
    handle = tfc.entropy_encode_index(handle, np.asarray(indices, np.int32).reshape(-1),
                                      np.asarray(bits, np.int32).reshape(-1))
    return tfc.entropy_encode_finalize(handle).numpy()


class Decoder:
    """Decodes bits in as many calls as needed (a row of codes at a time)."""

    def __init__(self, table, data):
        self._tfc = _ops()
        self._handle = self._tfc.create_range_decoder(data, table.lookup)
        self._shapes = {}  # call length -> shape tensor

    def decode(self, indices):
        import tensorflow as tf

        indices = np.asarray(indices, np.int32).reshape(-1)
        shape = self._shapes.get(indices.size)
        if shape is None:  # a tensor, not a tuple: a tuple sends the op down its slow path
            shape = self._shapes[indices.size] = tf.constant([indices.size], tf.int32)
        try:
            self._handle, bits = self._tfc.entropy_decode_index(
                self._handle, indices, shape, tf.int32)
        except tf.errors.OpError as error:
            raise BitstreamError(f"range decoder failed: {error.message}") from None
        return bits.numpy()

    def finish(self):
        """True if the decoder consumed its input consistently."""
        return bool(self._tfc.entropy_decode_finalize(self._handle).numpy())
