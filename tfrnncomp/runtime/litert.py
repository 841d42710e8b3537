"""LiteRT (TFLite runtime, XNNPACK) backend of :class:`tfrnncomp.Codec`.

    codec = tfrnncomp.Codec(backend="litert-dynamic-int8")   # or "litert" (float32), ...
    data = codec.compress(image, iterations=8)               # decodes with the TF backend too

The step functions of :mod:`tfrnncomp.runtime.steps` (one iteration of Toderici et al.
2017's encoder or decoder, recurrent states as explicit inputs and outputs) are
converted to LiteRT models on first use, one pair per padded image shape (the
converter sees static shapes), and cached: in memory (a few shapes) and, unless
``cache_dir=None``, on disk under ``$TFRNNCOMP_CACHE`` or the user cache dir
(``~/.cache/tfrnncomp/litert/<model id>/<variant>-<H>x<W>/``, written
atomically).  The NumPy host loop of :mod:`tfrnncomp.runtime.steps` drives them, with
LiteRT's default op resolver (XNNPACK for float and dynamic-range kernels).

Variants: ``float32`` (outputs match TF within ~1e-5), ``float16`` (float16
weights) and ``dynamic_int8`` (int8 weights, activations quantized on the
fly).  Codes can differ from TF's after the first iterations (one flipped bit
changes the recurrent state), so files are valid and decode with any backend,
but are not byte-identical; see README "Deployment".  Full-integer int8 needs
calibration data and stays in :mod:`tfrnncomp.export.tflite`.
"""

import collections
import os
import tempfile

import numpy as np

from tfrnncomp.runtime import steps
from tfrnncomp.errors import BackendError

VARIANTS = ("float32", "float16", "dynamic_int8", "int8")
#: Codec backend names -> LiteRT variant (``None``: the TensorFlow graph, "tf-xla" compiled
#: with XLA)
BACKENDS = {"tf": None, "tf-xla": None, "litert": "float32", "litert-float16": "float16",
            "litert-dynamic-int8": "dynamic_int8"}
STEPS = ("encoder_step", "decoder_step")
#: the third step model of a codec with a post-filter
POST_FILTER_STEP = "post_filter_step"
DEFAULT_THREADS = 2
#: padded shapes whose interpreters stay in memory
MEMORY_SHAPES = 4


def require_litert():
    """Import ``ai_edge_litert``'s interpreter or raise a one-line :class:`BackendError`."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise BackendError("the LiteRT backend needs the ai-edge-litert package "
                           "(pip install 'tfrnncomp[litert]')") from None
    return Interpreter


def variant_for(backend):
    """The LiteRT variant of a Codec backend name (``None`` for ``"tf"`` and ``"tf-xla"``)."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; expected one of {sorted(BACKENDS)}")
    return BACKENDS[backend]


def default_cache_dir():
    """``$TFRNNCOMP_CACHE``, else ``$XDG_CACHE_HOME/tfrnncomp``, else ``~/.cache/tfrnncomp``."""
    root = os.environ.get("TFRNNCOMP_CACHE")
    if root:
        return root
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tfrnncomp")


# -- conversion (also used by tfrnncomp.export.tflite) -----------------------------------
def step_names(post_filter=None):
    """The step models of a codec: :data:`STEPS`, and the post-filter's if it has one."""
    return STEPS if post_filter is None else STEPS + (POST_FILTER_STEP,)


def write_step_saved_model(model, directory, height=None, width=None, post_filter=None):
    """The step functions as one SavedModel (one signature each) in ``directory``."""
    import keras

    functions = steps.StepFunctions(model, height, width, post_filter)
    archive = keras.export.ExportArchive()
    archive.track(model)
    if post_filter is not None:
        archive.track(post_filter)
    for name in step_names(post_filter):
        fn = getattr(functions, name)
        fn.get_concrete_function()
        archive.add_endpoint(name, fn)
    archive.write_out(directory, verbose=False)
    return functions


def convert(saved_model_dir, step, variant, representative=None):
    """TFLite flatbuffer bytes of one step signature in one variant."""
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    if variant == "int8" and step == POST_FILTER_STEP:
        # Full-integer activations cannot hold what the post-filter computes: it rounds its
        # input to the uint8 levels (the converter gives that prelude one coarse scale, which
        # zeroes the image) and its output must be exact to well under one level.  Its int8
        # file keeps int8 weights with float activations, as ``dynamic_int8``.
        variant = "dynamic_int8"
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[step])
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if representative is None:
            raise ValueError("the int8 variant needs a representative dataset")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    return converter.convert()


def convert_steps(model, height, width, variant, post_filter=None):
    """``{step: flatbuffer bytes}`` of the steps at a padded ``height x width``."""
    with tempfile.TemporaryDirectory() as tmp:
        write_step_saved_model(model, tmp, height, width, post_filter)
        return {step: convert(tmp, step, variant) for step in step_names(post_filter)}


# -- running ----------------------------------------------------------------------------
class StepModel:
    """One step model behind its signature runner (inputs and outputs by name)."""

    def __init__(self, path=None, content=None, num_threads=DEFAULT_THREADS):
        interpreter_class = require_litert()
        self.path = path
        self.interpreter = interpreter_class(model_path=path, model_content=content,
                                             num_threads=num_threads)
        signatures = self.interpreter.get_signature_list()
        if len(signatures) != 1:
            raise ValueError(f"{path or 'model'}: expected one signature, found "
                             f"{sorted(signatures)}")
        self.signature = next(iter(signatures))
        self.runner = self.interpreter.get_signature_runner(self.signature)

    def __call__(self, **inputs):
        # the runner resizes inputs to the incoming (padded) size and re-allocates only
        # when a shape changed; outputs are copies, safe to feed back as states
        return self.runner(**{k: np.ascontiguousarray(v, np.float32) for k, v in inputs.items()})


class StepPair:
    """Encoder and decoder step callables for :func:`tfrnncomp.runtime.steps.run_steps`."""

    def __init__(self, encoder_model, decoder_model, layout, post_filter_model=None):
        self.encoder_model, self.decoder_model = encoder_model, decoder_model
        self.present = None if post_filter_model is None else (
            lambda reconstruction, iterations: post_filter_model(
                reconstruction=reconstruction, iterations=iterations)["image"])
        self.encoder = steps.step_callable(
            self._encode, lambda h, w: steps.shapes_from_layout(layout["encoder"], h, w))
        self.decoder = steps.step_callable(
            self._decode, lambda h, w: steps.shapes_from_layout(layout["decoder"], h, w))

    def _encode(self, image, reconstruction, gain, states):
        out = self.encoder_model(image=image, reconstruction=reconstruction, gain=gain,
                                 **{f"encoder_state_{i}": s for i, s in enumerate(states)})
        return out["bits"], [out[f"encoder_state_{i}"] for i in range(len(states))]

    def _decode(self, bits, reconstruction, gain, states):
        out = self.decoder_model(bits=bits, reconstruction=reconstruction, gain=gain,
                                 **{f"decoder_state_{i}": s for i, s in enumerate(states)})
        return (out["reconstruction"], out["gain"],
                [out[f"decoder_state_{i}"] for i in range(len(states))])


class LiteRTFunctions:
    """The interface of :class:`tfrnncomp.runtime.graph.CodecFunctions`, run by LiteRT.

    ``encode_codes``, ``encode``, ``decode`` and ``decode_all`` take and return
    NumPy arrays.  Step models are converted per padded shape on first use.  Stopped
    blocks of spatially adaptive files are not masked here: no adaptive coding.
    """

    adaptive = False

    def __init__(self, model, variant="float32", num_threads=DEFAULT_THREADS,
                 cache_dir="auto", post_filter=None):
        from tfrnncomp.model import postfilter, zoo

        require_litert()
        if variant not in VARIANTS or variant == "int8":
            raise BackendError(f"LiteRT variant must be float32, float16 or dynamic_int8, "
                               f"got {variant!r}")
        self.model, self.variant, self.num_threads = model, variant, int(num_threads or 2)
        self.cache_dir = default_cache_dir() if cache_dir == "auto" else cache_dir
        self.model_id = zoo.model_id(model)
        self.post_filter = post_filter
        self.steps = step_names(post_filter)
        self.shape_suffix = "" if post_filter is None else "-" + postfilter.weights_id(
            post_filter).replace("@", "-")
        self.layout = model.state_layout()
        self._pairs = collections.OrderedDict()

    def _files(self, height, width):
        """Flatbuffers of both steps at ``height x width``: from the disk cache or converted."""
        from tfrnncomp.codec import image_io

        directory = None
        if self.cache_dir:
            directory = os.path.join(self.cache_dir, "litert", self.model_id.replace("/", "_"),
                                     f"{self.variant}-{height}x{width}{self.shape_suffix}")
            paths = {step: os.path.join(directory, f"{step}.tflite") for step in self.steps}
            if all(os.path.isfile(p) for p in paths.values()):
                return {step: _read(p) for step, p in paths.items()}
        contents = convert_steps(self.model, height, width, self.variant, self.post_filter)
        if directory:
            try:
                os.makedirs(directory, exist_ok=True)
                for step, content in contents.items():
                    image_io.atomic_write_bytes(os.path.join(directory, f"{step}.tflite"),
                                                content)
            except OSError:
                pass  # a read-only cache is not an error: the models stay in memory
        return contents

    def steps_for(self, height, width):
        """The :class:`StepPair` of a padded ``height x width`` (converted on first use)."""
        key = (int(height), int(width))
        if key in self._pairs:
            self._pairs.move_to_end(key)
            return self._pairs[key]
        contents = self._files(*key)
        models = {s: StepModel(content=contents[s], num_threads=self.num_threads)
                  for s in self.steps}
        pair = StepPair(models["encoder_step"], models["decoder_step"], self.layout,
                        models.get(POST_FILTER_STEP))
        self._pairs[key] = pair
        while len(self._pairs) > MEMORY_SHAPES:
            self._pairs.popitem(last=False)
        return pair

    def _pair_for_image(self, image):
        return self.steps_for(*steps.padded_size(*np.shape(image)[:2],
                                                 self.model.config.pad_multiple))

    def encode(self, image, iterations):
        pair = self._pair_for_image(image)
        codes, reconstruction = steps.run_steps(pair.encoder, pair.decoder, image,
                                                int(iterations), present=pair.present)
        return {"codes": codes, "reconstruction": reconstruction}

    def encode_codes(self, image, iterations):
        pair = self._pair_for_image(image)
        return steps.run_steps(pair.encoder, pair.decoder, image, int(iterations),
                               codes_only=True)[0]

    def _decode(self, codes, height, width, every_iteration):
        codes = np.asarray(codes)
        block = self.layout["block"]
        pair = self.steps_for(codes.shape[1] * block, codes.shape[2] * block)
        return steps.run_decoder_steps(pair.decoder, codes, int(height), int(width), block,
                                       every_iteration=every_iteration, present=pair.present)

    def decode(self, codes, height, width):
        return self._decode(codes, height, width, False)

    def decode_all(self, codes, height, width):
        return self._decode(codes, height, width, True)


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()
