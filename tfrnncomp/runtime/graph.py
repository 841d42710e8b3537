"""The codec's ``tf.function``s: the export contract.

``encode(image uint8[H,W,3], iterations int32[]) -> {codes int8[T,H'/b,W'/b,bits],
reconstruction uint8[H,W,3]}`` and ``decode(codes int8[T,h,w,bits], height int32[],
width int32[]) -> uint8[height,width,3]``, where ``b`` is the model's ``block_size``
(16) and ``H' x W'`` the image padded to its ``pad_multiple`` (32).

Images are padded to that multiple by repeating the last row and column
(any size works, 1x1 included) and cropped back after decoding.  The
iterations run in a ``tf.while_loop`` compiled once per function: every image
size reuses the same graph (``input_signature`` has dynamic dimensions).
SavedModel and TFLite exports are built from these same functions.
``CodecFunctions(model, jit_compile=True)`` compiles each of them with XLA
(backend ``"tf-xla"``): XLA fuses each cell's gate arithmetic into few
kernels, and compiles once per padded image shape (then caches).

AutoGraph converts only the functions with loops over tensors (``_encode``,
``_encode_codes``, ``_decode_loop``, ``_encode_adaptive``); what they call is plain
TensorFlow, marked :func:`_plain` so that tracing skips its source transformation
(about half of the first call's tracing time).

Encoding runs the decoder at every iteration, since the next iteration codes
the residual of the current reconstruction (Toderici et al. 2017, Section 2);
``decode`` of the codes reproduces the encoder's reconstruction exactly.

Spatially adaptive coding (Johnston et al. 2018; :mod:`tfrnncomp.format.blockmap`):
``encode_adaptive`` stops each block of ``block x block`` code positions once
it meets a stopping rule.  A stopped position's codes are 0 instead of +-1,
and wherever all of a position's codes are 0 the decoder keeps the previous
pixels of its ``b x b`` patch.  Encoder and decoder run this same masked
computation, so ``decode`` still reproduces the encoder's reconstruction.
"""

import functools

import tensorflow as tf

#: marks a function without Python control flow on tensors: AutoGraph calls it as it is
_plain = tf.autograph.experimental.do_not_convert


def _compiler(jit_compile):
    """``tf.function``, with XLA when ``jit_compile`` (False: TF's own kernels)."""
    return functools.partial(tf.function, jit_compile=True) if jit_compile else tf.function


@_plain
def pad_image(image, multiple):
    """Edge-pad ``uint8[H,W,C]`` to multiples of ``multiple`` (works for any H, W >= 1)."""
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    padded_h = (height + multiple - 1) // multiple * multiple
    padded_w = (width + multiple - 1) // multiple * multiple
    rows = tf.minimum(tf.range(padded_h), height - 1)
    cols = tf.minimum(tf.range(padded_w), width - 1)
    return tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)


@_plain
def to_model_range(image_uint8):
    return tf.cast(image_uint8, tf.float32) / 255.0 - 0.5


@_plain
def to_uint8(image_float):
    return tf.cast(tf.clip_by_value(tf.round((image_float + 0.5) * 255.0), 0.0, 255.0), tf.uint8)


class CodecFunctions:
    """The model's encode/decode ``tf.function``s with fixed input signatures (the
    :class:`~tfrnncomp.runtime.Backend` of ``"tf"`` and ``"tf-xla"``)."""

    adaptive = True

    def __init__(self, model, jit_compile=False, post_filter=None):
        self.model = model
        self.jit_compile = bool(jit_compile)
        self.post_filter = post_filter
        bits = model.config.bits
        function = _compiler(self.jit_compile)
        self.encode = function(
            self._encode, input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                tf.TensorSpec([], tf.int32, name="iterations")])
        self.encode_codes = function(
            self._encode_codes, input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                tf.TensorSpec([], tf.int32, name="iterations")])
        decode_signature = [tf.TensorSpec([None, None, None, bits], tf.int8, name="codes"),
                            tf.TensorSpec([], tf.int32, name="height"),
                            tf.TensorSpec([], tf.int32, name="width")]
        self.decode = function(self._decode, input_signature=decode_signature)
        self.decode_all = function(self._decode_all, input_signature=decode_signature)
        # XLA cannot compile the block map's dynamic shapes: TF's own kernels here
        self.encode_adaptive = tf.function(
            self._encode_adaptive, input_signature=[
                tf.TensorSpec([None, None, 3], tf.uint8, name="image"),
                tf.TensorSpec([], tf.int32, name="iterations"),
                tf.TensorSpec([], tf.int32, name="block"),
                tf.TensorSpec([], tf.int32, name="rule"),
                tf.TensorSpec([], tf.float32, name="threshold"),
                tf.TensorSpec([None, None], tf.int32, name="plan")])

    @_plain
    def _start(self, image):
        """Padded input in model range and the zero state of every iteration variable."""
        model = self.model
        x = to_model_range(pad_image(image, model.config.pad_multiple))[None]
        size = model.config.block_size
        code_shape = tf.stack([1, tf.shape(x)[1] // size, tf.shape(x)[2] // size,
                               model.config.bits])
        state = (model.initial_encoder_state(x), model.initial_decoder_state(tf.zeros(code_shape)),
                 tf.zeros_like(x), model.initial_gain(x))
        return x, state

    @_plain
    def _encoder_half(self, x, state):
        enc_states, _, reconstruction, gain = state
        residual = self.model.encoder_input(x, reconstruction, gain)
        bits, enc_states = self.model.encoder_step(residual, enc_states, training=False)
        return tf.cast(bits, tf.int8), enc_states

    @_plain
    def _iteration(self, x, state, active=None):
        """One whole iteration: encode the residual, binarize, decode, reconstruct.

        ``active`` (bool ``[h, w]`` code positions) zeroes the other positions' codes.
        """
        bits, enc_states = self._encoder_half(x, state)
        pixels = None
        if active is not None:
            bits = bits * tf.cast(active, tf.int8)[None, :, :, None]
            pixels = _pixel_mask(active[None, :, :, None], self.model.config.block_size)
        _, dec_states, reconstruction, gain = state
        output, dec_states = self.model.decoder_step(tf.cast(bits, tf.float32), dec_states)
        reconstruction, gain = self.model.reconstruct(output, reconstruction, gain, pixels)
        return bits[0], (enc_states, dec_states, reconstruction, gain)

    def _encode(self, image, iterations):
        return self._encode_loop(image, iterations, codes_only=False)

    def _encode_codes(self, image, iterations):
        """Codes only: the decoder is skipped at the last iteration (nothing reads it)."""
        return self._encode_loop(image, iterations, codes_only=True)

    def _encode_loop(self, image, iterations, codes_only):
        """The encoder's iterations: ``{codes, reconstruction}``, or only the codes."""
        tf.debugging.assert_greater(iterations, 0, message="iterations must be >= 1")
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        x, state = self._start(image)
        codes = tf.TensorArray(tf.int8, size=iterations)
        for t in tf.range(iterations - 1 if codes_only else iterations):
            bits, state = self._iteration(x, state)
            codes = codes.write(t, bits)
        if codes_only:
            bits, _ = self._encoder_half(x, state)
            return codes.write(iterations - 1, bits[0]).stack()
        return {"codes": codes.stack(),
                "reconstruction": self._present(state[2], iterations, height, width)}

    def _decode_loop(self, codes, height, width, keep_all):
        iterations = tf.shape(codes)[0]
        tf.debugging.assert_greater(iterations, 0, message="codes hold no iteration")
        dec_states, reconstruction, gain = self._decoder_start(codes)
        counts = tf.zeros_like(gain)  # iterations each pixel has had (fewer in stopped blocks)
        images = tf.TensorArray(tf.uint8, size=iterations if keep_all else 1)
        for t in tf.range(iterations):
            dec_states, reconstruction, gain, active = self._decoder_iteration(
                codes[t], dec_states, reconstruction, gain)
            counts += active
            if keep_all:
                images = images.write(t, self._present(reconstruction, counts, height, width))
        if keep_all:
            return images.stack()
        return self._present(reconstruction, counts, height, width)

    @_plain
    def _decoder_start(self, codes):
        """The decoder's zero state, blank canvas and unit gain for codes ``[T,h,w,bits]``."""
        model = self.model
        first = tf.cast(codes[:1], tf.float32)
        shape = tf.shape(codes)
        size = model.config.block_size
        canvas = tf.zeros(tf.stack([tf.shape(first)[0], shape[1] * size, shape[2] * size, 3]))
        return model.initial_decoder_state(first), canvas, model.initial_gain(canvas)

    @_plain
    def _decoder_iteration(self, codes, dec_states, reconstruction, gain):
        """Decode one iteration's codes ``[h,w,bits]``; positions whose codes are all 0
        (stopped blocks of an adaptive file) keep their pixels.  Also returns the float32
        pixel mask ``[1,H,W,1]`` of the positions this iteration coded."""
        bits = tf.cast(codes[None], tf.float32)
        active = _pixel_mask(tf.reduce_any(bits != 0.0, axis=-1, keepdims=True),
                             self.model.config.block_size)
        output, dec_states = self.model.decoder_step(bits, dec_states)
        reconstruction, gain = self.model.reconstruct(output, reconstruction, gain, active)
        return dec_states, reconstruction, gain, tf.cast(active, tf.float32)

    @_plain
    def _present(self, reconstruction, iterations, height, width):
        """The image a user gets: the padded reconstruction through the post-filter (if any)
        for ``iterations`` (a count, or a count per pixel ``[1,H',W',1]``), as uint8, cropped
        to ``height x width``."""
        if self.post_filter is not None:
            from tfrnncomp.model.postfilter import filter_reconstruction

            reconstruction = filter_reconstruction(self.post_filter, reconstruction,
                                                   tf.cast(iterations, tf.float32))
        return to_uint8(reconstruction[0, :height, :width])

    def _decode(self, codes, height, width):
        return self._decode_loop(codes, height, width, keep_all=False)

    def _decode_all(self, codes, height, width):
        """The image after every iteration, ``uint8[T, height, width, 3]``, in one pass."""
        return self._decode_loop(codes, height, width, keep_all=True)

    def _encode_adaptive(self, image, iterations, block, rule, threshold, plan):
        """Spatially adaptive encoding: ``{codes, map, reconstruction, block_mse}``.

        After each iteration every active block of ``block x block`` code positions
        measures its MSE (uint8 RGB, over the image's own pixels) and stops if
        ``rule`` 0: ``mse <= threshold`` (a quality target), or
        ``rule`` 1: ``previous_mse - mse <= threshold`` (the last iteration's gain per
        block, i.e. per equal number of raw bits, fell below a slope), or
        ``rule`` 2: never by itself;
        and in every case once it had ``plan[by, bx]`` iterations (``plan int32[rows,
        cols]``).  ``map int32[rows, cols]`` counts each block's iterations; ``codes`` has
        ``max(map)`` iterations (the loop ends once every block stopped); ``block_mse
        float32[T, rows, cols]`` is each block's MSE after each iteration.
        """
        tf.debugging.assert_greater(iterations, 0, message="iterations must be >= 1")
        tf.debugging.assert_greater(block, 0, message="block must be >= 1")
        height, width = tf.shape(image)[0], tf.shape(image)[1]
        x, state = self._start(image)
        size, multiple = self.model.config.block_size, self.model.config.pad_multiple
        code_h, code_w = tf.shape(x)[1] // size, tf.shape(x)[2] // size
        rows, cols = (code_h + block - 1) // block, (code_w + block - 1) // block
        measure = _BlockError(pad_image(image, multiple), height, width, block * size, rows, cols)
        active = tf.ones(tf.stack([rows, cols]), tf.bool)
        counts = tf.zeros(tf.stack([rows, cols]), tf.int32)
        previous = measure(state[2])
        codes = tf.TensorArray(tf.int8, size=0, dynamic_size=True)
        history = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
        for t in tf.range(iterations):
            if not tf.reduce_any(active):
                break
            positions = tf.repeat(tf.repeat(active, block, axis=0), block, axis=1)
            bits, state = self._iteration(x, state, positions[:code_h, :code_w])
            codes = codes.write(t, bits)
            counts += tf.cast(active, tf.int32)
            mse = measure(state[2])
            history = history.write(t, mse)
            done = tf.where(rule == 0, mse <= threshold, previous - mse <= threshold)
            done = tf.logical_or(tf.logical_and(done, rule != 2), counts >= plan)
            active = tf.logical_and(active, tf.logical_not(done))
            previous = mse
        pixels = _pixel_mask(tf.cast(counts, tf.float32)[None, :, :, None], block * size)
        pixels = pixels[:, :tf.shape(x)[1], :tf.shape(x)[2]]
        return {"codes": codes.stack(), "map": counts, "block_mse": history.stack(),
                "reconstruction": self._present(state[2], pixels, height, width)}


@_plain
def _pixel_mask(active, block_size):
    """Code-position mask ``[B,h,w,1]`` -> pixel mask ``[B,h*block_size,w*block_size,1]``
    (each code position covers ``block_size x block_size`` pixels)."""
    return tf.repeat(tf.repeat(active, block_size, axis=1), block_size, axis=2)


class _BlockError:
    """Per-block MSE of a reconstruction against the padded original (own pixels only)."""

    @_plain
    def __init__(self, original, height, width, size, rows, cols):
        self.original = tf.cast(original, tf.float32)
        shape = tf.shape(original)
        valid = tf.logical_and(tf.range(shape[0])[:, None] < height,
                               tf.range(shape[1])[None, :] < width)
        self.valid = tf.cast(valid, tf.float32)
        self.size, self.rows, self.cols = size, rows, cols
        self.count = tf.maximum(self._block_sums(self.valid) * 3.0, 1.0)

    @_plain
    def _block_sums(self, values):
        """Sum of ``values [H', W']`` over each block (zero-padded to whole blocks)."""
        shape = tf.shape(values)
        values = tf.pad(values, [[0, self.rows * self.size - shape[0]],
                                 [0, self.cols * self.size - shape[1]]])
        values = tf.reshape(values, tf.stack([self.rows, self.size, self.cols, self.size]))
        return tf.reduce_sum(values, axis=[1, 3])

    @_plain
    def __call__(self, reconstruction):
        decoded = tf.cast(to_uint8(reconstruction[0]), tf.float32)
        error = tf.reduce_sum(tf.square(decoded - self.original), axis=-1) * self.valid
        return self._block_sums(error) / self.count
