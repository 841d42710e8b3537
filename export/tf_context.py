"""The ``context`` entropy mode (``tfrnncomp.entropy.coding.context``) as TensorFlow graph ops.

Used by ``tfrnncomp export savedmodel OUT --with-range-coder``: the signatures
``compress_trc`` and ``decompress_trc`` range-code the codes inside the graph with
tensorflow-compression's range coder, so a server returns (and takes) the chunk payloads
of a ``.trc`` file of entropy mode ``context``.  The probabilities are the same integer
computation as the NumPy module (contexts from the bit channel, the two previous
iterations and the row above; Krichevsky-Trofimov counts over earlier rows), so the
payloads are byte-identical to ``Codec.encode_chunks(codes, "context")``.

A SavedModel using these ops needs the ``tensorflow-compression-ops`` op library loaded
before it is loaded (``import tensorflow_compression_ops``), and TF Serving needs a build
linked with it; the default export does not use them.
"""

import tensorflow as tf

PRECISION = 12
ABSENT = 2
STATES = 3


def lookup_table(precision=PRECISION):
    """Row ``i``: ``[precision, 0, i + 1, 2**precision]`` (as ``rangecoder.BinaryTable``)."""
    cdf0 = tf.range(1, 2 ** precision, dtype=tf.int32)
    return tf.stack([tf.fill(tf.shape(cdf0), precision), tf.zeros_like(cdf0), cdf0,
                     tf.fill(tf.shape(cdf0), 2 ** precision)], axis=1)


def _cdf0(n0, n1):
    cdf0 = tf.math.floordiv((2 * n0 + 1) * 2 ** PRECISION, 2 * (n0 + n1) + 2)
    return tf.clip_by_value(cdf0, 1, 2 ** PRECISION - 1)


def _contexts(up, prev1, prev2, depth):
    channel = tf.range(depth, dtype=tf.int64)
    return ((channel * STATES + prev1) * STATES + prev2) * STATES + up


def indices_for(bits, prev1, prev2):
    """Table indices (int32, flat, raster order) of one iteration's 0/1 ``bits [h,w,d]``.

    ``prev1``/``prev2`` are the previous iterations' 0/1 codes, or ``ABSENT`` everywhere.
    """
    bits, prev1, prev2 = (tf.cast(t, tf.int64) for t in (bits, prev1, prev2))
    shape = tf.shape(bits, out_type=tf.int64)
    h, w, depth = shape[0], shape[1], shape[2]
    up = tf.concat([tf.fill(tf.stack([1, w, depth]), tf.constant(ABSENT, tf.int64)),
                    bits[:-1]], axis=0)
    ctx = _contexts(up, prev1, prev2, depth)
    symbols = 2 * depth * STATES ** 3
    rows = tf.range(h)[:, None, None] * symbols
    segments = tf.reshape(rows + ctx * 2 + bits, [-1])
    counts = tf.math.unsorted_segment_sum(tf.ones_like(segments), segments, h * symbols)
    before = tf.reshape(tf.cumsum(tf.reshape(counts, tf.stack([h, symbols])), axis=0,
                                  exclusive=True), [-1])
    n0 = tf.gather(before, rows + ctx * 2)
    n1 = tf.gather(before, rows + ctx * 2 + 1)
    return tf.cast(tf.reshape(_cdf0(n0, n1) - 1, [-1]), tf.int32)


def _previous(bits01, t, shape):
    absent = tf.fill(shape, tf.constant(ABSENT, tf.int32))
    prev1 = tf.cond(t >= 1, lambda: bits01.read(tf.maximum(t - 1, 0)), lambda: absent)
    prev2 = tf.cond(t >= 2, lambda: bits01.read(tf.maximum(t - 2, 0)), lambda: absent)
    return prev1, prev2


def encode_payloads(codes):
    """Range-coded payload (one string per iteration) of ``codes int8[T,h,w,d]`` in {-1,+1}."""
    import tensorflow_compression_ops as tfc

    table = lookup_table()
    bits = tf.cast(codes > 0, tf.int32)
    iterations = tf.shape(codes)[0]
    payloads = tf.TensorArray(tf.string, size=iterations)
    for t in tf.range(iterations):
        prev1 = bits[t - 1] if t >= 1 else tf.fill(tf.shape(bits[0]), ABSENT)
        prev2 = bits[t - 2] if t >= 2 else tf.fill(tf.shape(bits[0]), ABSENT)
        handle = tfc.create_range_encoder([], table)
        handle = tfc.entropy_encode_index(handle, indices_for(bits[t], prev1, prev2),
                                          tf.reshape(bits[t], [-1]))
        payloads = payloads.write(t, tfc.entropy_encode_finalize(handle))
    return payloads.stack()


def decode_payloads(payloads, code_height, code_width, depth):
    """Codes ``int8[T,h,w,d]`` from the payloads, decoding a row per range-decoder call."""
    import tensorflow_compression_ops as tfc

    table = lookup_table()
    iterations = tf.shape(payloads)[0]
    shape = tf.stack([code_height, code_width, depth])
    row_size = code_width * depth
    n = depth * STATES ** 3
    decoded = tf.TensorArray(tf.int32, size=iterations, clear_after_read=False,
                             element_shape=tf.TensorShape([None, None, depth]))
    for t in tf.range(iterations):
        prev1, prev2 = _previous(decoded, t, shape)
        handle = tfc.create_range_decoder(payloads[t], table)
        counts = tf.zeros(tf.stack([n * 2]), tf.int64)
        up = tf.fill(tf.stack([code_width, depth]), tf.constant(ABSENT, tf.int64))
        rows = tf.TensorArray(tf.int32, size=code_height)
        for y in tf.range(code_height):
            tf.autograph.experimental.set_loop_options(
                shape_invariants=[(up, tf.TensorShape([None, depth]))])
            ctx = _contexts(up, tf.cast(prev1[y], tf.int64), tf.cast(prev2[y], tf.int64), depth)
            cdf0 = _cdf0(tf.gather(counts, ctx * 2), tf.gather(counts, ctx * 2 + 1))
            handle, row = tfc.entropy_decode_index(
                handle, tf.cast(tf.reshape(cdf0 - 1, [-1]), tf.int32), tf.reshape(row_size, [1]),
                tf.int32)
            tf.debugging.assert_less_equal(row, 1, message="chunk decodes to invalid symbols")
            row = tf.reshape(row, tf.stack([code_width, depth]))
            row64 = tf.cast(row, tf.int64)
            counts = tf.tensor_scatter_nd_add(counts, tf.reshape(ctx * 2 + row64, [-1, 1]),
                                              tf.ones([row_size], tf.int64))
            up = row64
            rows = rows.write(y, row)
        ok = tfc.entropy_decode_finalize(handle)
        with tf.control_dependencies([tf.debugging.Assert(ok, ["range decoder check failed"])]):
            decoded = decoded.write(t, tf.identity(rows.stack()))
    return tf.cast(decoded.stack() * 2 - 1, tf.int8)


def add_endpoints(archive, functions, max_iterations):
    """``compress_trc`` and ``decompress_trc`` on a ``keras.export.ExportArchive``."""
    bits = functions.model.config.bits
    block = functions.model.config.block_size

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                                  tf.TensorSpec([], tf.int32, name="iterations")])
    def compress_trc(image, iterations):
        check = tf.debugging.assert_less_equal(iterations, max_iterations,
                                               message=f"iterations must be in 1..{max_iterations}")
        with tf.control_dependencies([check]):
            result = functions.encode(image, iterations)
        return {"codes": result["codes"], "reconstruction": result["reconstruction"],
                "payloads": encode_payloads(result["codes"])}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="payloads"),
                                  tf.TensorSpec([], tf.int32, name="height"),
                                  tf.TensorSpec([], tf.int32, name="width")])
    def decompress_trc(payloads, height, width):
        checks = [tf.debugging.assert_positive(height), tf.debugging.assert_positive(width)]
        with tf.control_dependencies(checks):
            multiple = 2 * block
            code_h = (height + multiple - 1) // multiple * 2
            code_w = (width + multiple - 1) // multiple * 2
            codes = decode_payloads(payloads, code_h, code_w, bits)
        return {"image": functions.decode(codes, height, width), "codes": codes}

    compress_trc.get_concrete_function()
    decompress_trc.get_concrete_function()
    archive.add_endpoint("compress_trc", compress_trc)
    archive.add_endpoint("decompress_trc", decompress_trc)
