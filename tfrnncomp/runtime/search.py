"""Code search: an encoder that picks better bits for the same decoder.

The binarizer keeps the sign of the encoder's output, and nothing in a file says how its
bits were chosen: any bits are a valid file, and the decoder is fixed.  So the encoder may
look for bits that decode to a better image, as classic encoders search their quantized
coefficients.  With ``search=N`` every iteration's bits start as the encoder's and get
``N`` sweeps of greedy bit flips against the squared error of that iteration's
reconstruction (over the image's own pixels):

1. The gradient ``g`` of that error with respect to the bits (taken as real numbers)
   predicts the change from flipping bit ``b`` as ``-2 b g``; in every code position the bit
   with the most negative prediction is the candidate (none where no prediction is negative).
2. The code positions fall into :data:`STRIDE` x :data:`STRIDE` groups (every
   :data:`STRIDE`-th row and column).  For each group in turn its candidates are flipped,
   the decoder step runs, and a flip is kept where the error of the 3x3 code positions
   around it fell (each position's pixels and its neighbours', which the decoder's
   convolutions reach).
3. After the sweeps the searched bits are kept only if the iteration's whole error is below
   that of the encoder's bits.

The encoder then codes the residual of the searched reconstruction, so later iterations
correct what the search chose.  A sweep costs one gradient and ``2 * STRIDE**2`` decoder
steps, so encoding is several times slower; decoding is unchanged.  Runs on TensorFlow (the
gradient); the files decode on every backend.
"""

import numpy as np

from tfrnncomp.errors import TfrnncompError
from tfrnncomp.runtime import steps

#: the largest number of sweeps :func:`check_search` accepts
MAX_SWEEPS = 8
#: code positions flipped together are this many rows and columns apart
STRIDE = 2


def check_search(search, name="search"):
    """``search`` (sweeps per iteration, 0: off) as an int in ``0..MAX_SWEEPS``, else
    :class:`~tfrnncomp.errors.TfrnncompError` (``name`` is what the message calls it)."""
    if isinstance(search, bool) or not isinstance(search, (int, np.integer)):
        raise TfrnncompError(f"{name} must be an integer number of sweeps, got {search!r}")
    if not 0 <= search <= MAX_SWEEPS:
        raise TfrnncompError(f"{name} must be in 0..{MAX_SWEEPS} sweeps, got {search}")
    return int(search)


class ErrorFunctions:
    """The decoder step's squared error per code position, and its gradient, as
    ``tf.function``s over the step functions' decoder signature plus ``image`` and
    ``weight`` (``float32[1,H,W,1]``: 1 on the image's pixels, 0 on padding)."""

    def __init__(self, model):
        import tensorflow as tf

        self.model = model
        functions = steps.StepFunctions(model)
        self.num_states = functions.num_decoder_states
        image = tf.TensorSpec((1, None, None, 3), tf.float32, name="image")
        weight = tf.TensorSpec((1, None, None, 1), tf.float32, name="weight")
        signature = [image, weight] + functions.decoder_signature
        self.block_error = tf.function(self._block_error, input_signature=signature,
                                       autograph=False)
        self.gradient = tf.function(self._gradient, input_signature=signature, autograph=False)

    def _squared_error(self, image, weight, bits, reconstruction, gain, *states):
        import tensorflow as tf

        model = self.model
        output, _ = model.decoder_step(bits, steps._nest(states, model.decoder_rnns))
        new, _ = model.reconstruct(output, reconstruction, gain)
        return tf.reduce_sum(tf.square(image - new), axis=-1, keepdims=True) * weight

    def _block_error(self, image, weight, bits, reconstruction, gain, *states):
        import tensorflow as tf

        block = self.model.config.block_size
        error = self._squared_error(image, weight, bits, reconstruction, gain, *states)
        return tf.nn.avg_pool2d(error, block, block, "VALID")[0, ..., 0] * float(block * block)

    def _gradient(self, image, weight, bits, reconstruction, gain, *states):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(bits)
            error = tf.reduce_sum(self._squared_error(image, weight, bits, reconstruction,
                                                      gain, *states))
        return tape.gradient(error, bits)


def _neighbourhood(error):
    """Sum of ``error [h,w]`` over the 3x3 code positions around each position."""
    padded = np.pad(error, 1)
    h, w = error.shape
    return sum(padded[i:i + h, j:j + w] for i in range(3) for j in range(3))


class CodeSearch:
    """``refine(bits, image, reconstruction, gain, states, weight) -> bits`` for
    :func:`tfrnncomp.runtime.steps.step_iterations` (NumPy arrays, one image)."""

    def __init__(self, model, sweeps):
        self.sweeps = check_search(sweeps)
        self.functions = ErrorFunctions(model)

    def refine(self, bits, image, reconstruction, gain, states, weight):
        args = (reconstruction, gain, *states)
        errors = lambda b: self.functions.block_error(image, weight, b, *args).numpy()  # noqa: E731
        plain = np.asarray(bits, np.float32)
        current, error = plain.copy(), errors(plain)
        plain_total = float(error.sum())
        for _ in range(self.sweeps):
            gradient = self.functions.gradient(image, weight, current, *args).numpy()
            candidate = _candidates(current, gradient)
            for group in _groups(current.shape[1:3]):
                chosen = candidate & group[None, :, :, None]
                if not chosen.any():
                    continue
                trial = np.where(chosen, -current, current)
                better = _neighbourhood(errors(trial) - error) < 0
                kept = chosen & better[None, :, :, None]
                if kept.any():
                    current = np.where(kept, -current, current)
                    error = errors(current)
        return current if float(error.sum()) < plain_total else plain


def _candidates(bits, gradient):
    """bool ``[1,h,w,bits]``: per code position the bit whose flip the gradient says lowers
    the error most, where it says any does."""
    predicted = -2.0 * bits * gradient
    best = np.argmin(predicted, axis=-1)[..., None]
    chosen = np.zeros(bits.shape, bool)
    np.put_along_axis(chosen, best, True, axis=-1)
    return chosen & (predicted < 0)


def _groups(shape):
    """bool ``[h,w]`` masks of the code positions ``STRIDE`` rows and columns apart."""
    for i in range(STRIDE):
        for j in range(STRIDE):
            mask = np.zeros(shape, bool)
            mask[i::STRIDE, j::STRIDE] = True
            yield mask


class SearchBackend:
    """A :class:`~tfrnncomp.runtime.Backend` that encodes with :class:`CodeSearch` (through
    the NumPy host loop and the TF step functions) and decodes with ``decoder``, the codec's
    own backend."""

    adaptive = False

    def __init__(self, model, sweeps, decoder):
        self.model = model
        self.search = CodeSearch(model, sweeps)
        self.steps = steps.TFSteps(model, post_filter=getattr(decoder, "post_filter", None))
        self.decoder = decoder

    def _run(self, image, iterations, codes_only):
        height, width = np.shape(image)[:2]

        def refine(bits, x, reconstruction, gain, states):
            weight = np.zeros(x.shape[:3] + (1,), np.float32)
            weight[:, :height, :width] = 1.0
            return self.search.refine(bits, x, reconstruction, gain, states, weight)

        return steps.run_steps(self.steps.encoder, self.steps.decoder, image, int(iterations),
                               codes_only=codes_only, refine=refine, present=self.steps.present)

    def encode(self, image, iterations):
        codes, reconstruction = self._run(image, iterations, codes_only=False)
        return {"codes": codes, "reconstruction": reconstruction}

    def encode_codes(self, image, iterations):
        return self._run(image, iterations, codes_only=True)[0]

    def decode(self, codes, height, width):
        return self.decoder.decode(codes, height, width)

    def decode_all(self, codes, height, width):
        return self.decoder.decode_all(codes, height, width)
