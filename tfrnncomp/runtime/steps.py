"""One iteration at a time: step ``tf.function``s with explicit state, and a host loop.

:mod:`tfrnncomp.runtime.graph` runs every iteration inside one graph.  Runtimes that
cannot (TFLite/LiteRT, or a host that wants to stop after any iteration) use
two step functions instead, whose recurrent states are plain inputs and
outputs:

``encoder_step(image, reconstruction, gain, *encoder_states) -> {bits, encoder_state_i}``
    ``image`` and ``reconstruction`` are ``float32[1,H,W,3]`` in [-0.5, 0.5]
    (H, W multiples of 32), ``gain`` is ``float32[1,H,W,1]``; ``bits`` is
    ``float32[1,H/16,W/16,bits]`` in {-1,+1}.
``decoder_step(bits, reconstruction, gain, *decoder_states)``
    ``-> {reconstruction, gain, decoder_state_i}``.
    The decoder step includes ``model.reconstruct``, so the host loop is the
    same for every reconstruction mode (one-shot, additive, residual scaling).
``post_filter_step(reconstruction, iterations) -> {image}`` (only with a post-filter)
    ``iterations`` is ``float32[1,H,W,1]`` (the count, per pixel); ``image`` the filtered
    reconstruction in model range, rounded to uint8 by the host
    (:mod:`tfrnncomp.model.postfilter`).

:func:`run_steps` and :func:`run_decoder_steps` are the host loop in plain
NumPy; any backend plugs in through two callables that take and return NumPy
arrays (see :class:`TFSteps`, and :mod:`tfrnncomp.export.litert_backend` for LiteRT).
With the TF step functions the loop reproduces ``functions.encode`` and
``functions.decode`` exactly.  The host loop and the state-shape helpers need
only NumPy (TensorFlow is imported by :class:`StepFunctions` alone), so a
LiteRT deployment does not load TensorFlow.
"""

import numpy as np

from tfrnncomp.model.config import PAD_MULTIPLE


# -- state shapes -------------------------------------------------------------------
def padded_size(height, width, multiple=PAD_MULTIPLE):
    """``(height, width)`` rounded up to multiples of ``multiple`` (the model's pad multiple)."""
    return -(-int(height) // multiple) * multiple, -(-int(width) // multiple) * multiple


def shapes_from_layout(layout, height, width):
    """Shapes of one state list (``layout["encoder"]`` or ``["decoder"]``) for ``H x W``."""
    return [(1, height // int(scale), width // int(scale), int(channels))
            for scale, channels in layout]


def encoder_state_shapes(model, height, width):
    """Shapes of the flat encoder state list for a padded ``height x width`` image."""
    return shapes_from_layout(model.state_layout()["encoder"], height, width)


def decoder_state_shapes(model, height, width):
    """Shapes of the flat decoder state list for a padded ``height x width`` image."""
    return shapes_from_layout(model.state_layout()["decoder"], height, width)


def code_shape(model, height, width):
    block = model.config.block_size
    return (1, height // block, width // block, model.config.bits)


def _flatten(states):
    return [tensor for cell_states in states for tensor in cell_states]


def _nest(flat, cells):
    states, i = [], 0
    for cell in cells:
        states.append(tuple(flat[i:i + cell.num_states]))
        i += cell.num_states
    return tuple(states)


# -- the step functions -------------------------------------------------------------
class StepFunctions:
    """``encoder_step`` / ``decoder_step`` ``tf.function``s of one model.

    ``height``/``width`` fix the spatial size of every input (``None``: dynamic,
    one graph for all sizes).  Inputs are named (``image``, ``reconstruction``,
    ``gain``, ``bits``, ``encoder_state_<i>``, ``decoder_state_<i>``) and outputs
    are dicts with the same names, so SavedModel and TFLite signatures keep them.
    """

    def __init__(self, model, height=None, width=None, post_filter=None):
        import tensorflow as tf

        self.model = model
        self.post_filter = post_filter
        self.height, self.width = height, width
        h, w = height, width

        def spec(scale, channels, name):
            return tf.TensorSpec((1, None if h is None else h // scale,
                                  None if w is None else w // scale, channels),
                                 tf.float32, name=name)

        layout = model.state_layout()
        enc = [spec(s, c, f"encoder_state_{i}") for i, (s, c) in enumerate(layout["encoder"])]
        dec = [spec(s, c, f"decoder_state_{i}") for i, (s, c) in enumerate(layout["decoder"])]
        block = layout["block"]
        self.num_encoder_states, self.num_decoder_states = len(enc), len(dec)
        image = tf.TensorSpec((1, h, w, 3), tf.float32, name="image")
        recon = tf.TensorSpec((1, h, w, 3), tf.float32, name="reconstruction")
        gain = tf.TensorSpec((1, h, w, 1), tf.float32, name="gain")
        bits = spec(block, model.config.bits, "bits")
        self.encoder_signature = [image, recon, gain] + enc
        self.decoder_signature = [bits, recon, gain] + dec
        self.encoder_step = tf.function(self._encoder_step,
                                        input_signature=self.encoder_signature, autograph=False)
        self.decoder_step = tf.function(self._decoder_step,
                                        input_signature=self.decoder_signature, autograph=False)
        self.post_filter_signature = [recon, tf.TensorSpec((1, h, w, 1), tf.float32,
                                                           name="iterations")]
        self.post_filter_step = None if post_filter is None else tf.function(
            self._post_filter_step, input_signature=self.post_filter_signature, autograph=False)

    def _encoder_step(self, image, reconstruction, gain, *states):
        model = self.model
        residual = model.encoder_input(image, reconstruction, gain)
        bits, new_states = model.encoder_step(residual, _nest(states, model.encoder_rnns),
                                              training=False)
        out = {"bits": bits}
        for i, state in enumerate(_flatten(new_states)):
            out[f"encoder_state_{i}"] = state
        return out

    def _decoder_step(self, bits, reconstruction, gain, *states):
        import tensorflow as tf

        model = self.model
        output, new_states = model.decoder_step(bits, _nest(states, model.decoder_rnns))
        reconstruction, gain = model.reconstruct(output, reconstruction, gain)
        # identity() keeps pass-through outputs (the gain of additive models) distinct tensors
        out = {"reconstruction": tf.identity(reconstruction), "gain": tf.identity(gain)}
        for i, state in enumerate(_flatten(new_states)):
            out[f"decoder_state_{i}"] = state
        return out


    def _post_filter_step(self, reconstruction, iterations):
        from tfrnncomp.model.postfilter import filter_reconstruction

        return {"image": filter_reconstruction(self.post_filter, reconstruction, iterations)}


class TFSteps:
    """The TF step functions as host-loop callables (NumPy in, NumPy out); ``present`` is
    the post-filter step (``None`` without a post-filter)."""

    def __init__(self, model, height=None, width=None, post_filter=None):
        self.functions = StepFunctions(model, height, width, post_filter)
        self.model = model
        self.present = None if post_filter is None else (
            lambda reconstruction, iterations: self.functions.post_filter_step(
                reconstruction, iterations)["image"].numpy())
        self.encoder = _Callable(self._encode, lambda h, w: encoder_state_shapes(model, h, w))
        self.decoder = _Callable(self._decode, lambda h, w: decoder_state_shapes(model, h, w))

    def _encode(self, image, reconstruction, gain, states):
        out = self.functions.encoder_step(image, reconstruction, gain, *states)
        n = self.functions.num_encoder_states
        return out["bits"].numpy(), [out[f"encoder_state_{i}"].numpy() for i in range(n)]

    def _decode(self, bits, reconstruction, gain, states):
        out = self.functions.decoder_step(bits, reconstruction, gain, *states)
        n = self.functions.num_decoder_states
        return (out["reconstruction"].numpy(), out["gain"].numpy(),
                [out[f"decoder_state_{i}"].numpy() for i in range(n)])


class _Callable:
    """A step callable with the ``state_shapes(height, width)`` the host loop needs."""

    def __init__(self, fn, state_shapes):
        self._fn = fn
        self.state_shapes = state_shapes

    def __call__(self, *args):
        return self._fn(*args)


def step_callable(fn, state_shapes):
    """Wrap ``fn`` with a ``state_shapes(padded_height, padded_width)`` for :func:`run_steps`."""
    return _Callable(fn, state_shapes)


# -- the host loop ------------------------------------------------------------------
def pad_image(image, multiple=PAD_MULTIPLE):
    """NumPy twin of :func:`tfrnncomp.runtime.graph.pad_image` (edge padding)."""
    height, width = image.shape[:2]
    ph, pw = padded_size(height, width, multiple)
    return np.pad(image, ((0, ph - height), (0, pw - width), (0, 0)), mode="edge")


def to_model_range(image_uint8):
    return image_uint8.astype(np.float32) / np.float32(255.0) - np.float32(0.5)


def to_uint8(image_float):
    scaled = (np.asarray(image_float, np.float32) + np.float32(0.5)) * np.float32(255.0)
    return np.clip(np.round(scaled), 0.0, 255.0).astype(np.uint8)


def _zeros(shapes):
    return [np.zeros(shape, np.float32) for shape in shapes]


def step_iterations(encoder_fn, decoder_fn, image_uint8, iterations, codes_only=False,
                    refine=None):
    """The host loop as a generator: ``(bits int8[h,w,bits], reconstruction)`` per iteration.

    ``refine(bits, image, reconstruction, gain, decoder_states) -> bits``, if given, may
    replace each iteration's bits (float32 in {-1,+1}) before the decoder sees them: an
    encoder-side search (:mod:`tfrnncomp.runtime.search`); the decoder is unchanged.

    ``reconstruction`` is the decoder's ``float32[1,H',W',3]`` output (padded, model range),
    ``None`` at the last iteration with ``codes_only`` (its decoder is skipped).  A caller
    that wraps the step callables sees every step's inputs as the loop goes (the int8
    calibration of :mod:`tfrnncomp.export.tflite` does).  See :func:`run_steps`.
    """
    image_uint8 = np.asarray(image_uint8, np.uint8)
    if image_uint8.ndim != 3 or image_uint8.shape[2] != 3:
        raise ValueError(f"expected uint8[H,W,3], got shape {image_uint8.shape}")
    if int(iterations) < 1:
        raise ValueError("iterations must be >= 1")
    x = to_model_range(pad_image(image_uint8))[None]
    ph, pw = x.shape[1:3]
    enc_states = _zeros(encoder_fn.state_shapes(ph, pw))
    dec_states = _zeros(decoder_fn.state_shapes(ph, pw))
    reconstruction = np.zeros_like(x)
    gain = np.ones((1, ph, pw, 1), np.float32)
    for t in range(int(iterations)):
        bits, enc_states = encoder_fn(x, reconstruction, gain, enc_states)
        bits = np.where(np.asarray(bits) >= 0, 1, -1).astype(np.int8)
        if refine is not None:
            bits = np.asarray(refine(bits.astype(np.float32), x, reconstruction, gain,
                                     dec_states)).astype(np.int8)
        if codes_only and t == int(iterations) - 1:
            yield bits[0], None
            return
        reconstruction, gain, dec_states = decoder_fn(bits.astype(np.float32), reconstruction,
                                                      gain, dec_states)
        yield bits[0], reconstruction


def presented(reconstruction, iterations, height, width, present=None):
    """The image a user gets from a padded reconstruction ``float32[1,H',W',3]`` after
    ``iterations``: through ``present(reconstruction, iterations float32[1,H',W',1]) ->
    float32[1,H',W',3]`` (the post-filter step) if given, as uint8, cropped."""
    if present is not None:
        plane = np.full(reconstruction.shape[:3] + (1,), iterations, np.float32)
        reconstruction = present(reconstruction, plane)
    return to_uint8(reconstruction[0, :height, :width])


def run_steps(encoder_fn, decoder_fn, image_uint8, iterations, callback=None, codes_only=False,
              refine=None, present=None):
    """Encode ``uint8[H,W,3]`` for ``iterations`` iterations, one step call each.

    ``encoder_fn(image, reconstruction, gain, states) -> (bits, states)`` and
    ``decoder_fn(bits, reconstruction, gain, states) -> (reconstruction, gain,
    states)`` take and return NumPy arrays (states as lists) and have a
    ``state_shapes(padded_height, padded_width)`` method.  ``callback(t, bits,
    reconstruction)``, if given, is called after each iteration (the host may
    stop at any by passing a smaller ``iterations``; the codes are a prefix).

    Returns ``(codes int8[T,H'/16,W'/16,bits], reconstruction uint8[H,W,3])``
    like :func:`tfrnncomp.runtime.graph.CodecFunctions.encode`.  With ``codes_only``
    the decoder of the last iteration is skipped (nothing reads it) and the
    reconstruction returned is ``None``, like ``CodecFunctions.encode_codes``.  ``refine``:
    see :func:`step_iterations`; ``present``: the post-filter step (see :func:`presented`).
    """
    codes, reconstruction = [], None
    loop = step_iterations(encoder_fn, decoder_fn, image_uint8, iterations, codes_only, refine)
    for t, (bits, reconstruction) in enumerate(loop):
        codes.append(bits)
        if callback is not None and reconstruction is not None:
            callback(t, bits, reconstruction)
    if reconstruction is None:
        return np.stack(codes), None
    height, width = np.shape(image_uint8)[:2]
    return np.stack(codes), presented(reconstruction, len(codes), height, width, present)


def run_decoder_steps(decoder_fn, codes, height, width, block, every_iteration=False,
                      present=None):
    """Decode ``int8[T,h,w,bits]`` codes to ``uint8[height,width,3]``, one step call per iteration.

    ``block`` is the model's block size (each code covers ``block x block`` pixels:
    ``ModelConfig.block_size``, or ``"block"`` of its state layout).  With
    ``every_iteration`` the image after each iteration, ``uint8[T,height,width,3]``.
    ``present``: the post-filter step (see :func:`presented`).
    """
    codes = np.asarray(codes)
    if codes.ndim != 4 or len(codes) < 1:
        raise ValueError(f"expected codes int8[T,h,w,bits] with T >= 1, got {codes.shape}")
    ph, pw = codes.shape[1] * block, codes.shape[2] * block
    dec_states = _zeros(decoder_fn.state_shapes(ph, pw))
    reconstruction = np.zeros((1, ph, pw, 3), np.float32)
    gain = np.ones((1, ph, pw, 1), np.float32)
    images = []
    for t in range(len(codes)):
        bits = codes[t][None].astype(np.float32)
        reconstruction, gain, dec_states = decoder_fn(bits, reconstruction, gain, dec_states)
        if every_iteration:
            images.append(presented(reconstruction, t + 1, height, width, present))
    if every_iteration:
        return np.stack(images)
    return presented(reconstruction, len(codes), height, width, present)
