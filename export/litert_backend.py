"""Run exported step models with the LiteRT interpreter through the NumPy host loop.

    from tfrnncomp.export.litert_backend import LiteRTSteps
    steps = LiteRTSteps("exported/tflite", variant="float32")  # tfrnncomp export tflite OUT
    codes, reconstruction = steps.encode(image_uint8, iterations=8)
    image = steps.decode(codes, height, width)
    data = steps.compress(image_uint8, iterations=8)                # a .trc file (raw codes)
    image = steps.decompress(data)

Interpreters use LiteRT's default op resolver, which applies the XNNPACK delegate to
float (and quantized) models, with 2 threads by default.  Each step model is loaded on
first use, so a decoder-only client never loads the encoder.  An export with a post-filter
(``post_filter_step`` in the manifest's steps) filters every decoded image with it, as
``tfrnncomp.Codec`` does.  Models exported at a
fixed size are resized by LiteRT when an image of another (padded) size comes in:
the step graphs are fully convolutional.

Neither TensorFlow nor Keras is imported here (only ``ai_edge_litert``, NumPy and the
NumPy-only ``tfrnncomp.runtime.steps``/``tfrnncomp.format.container``), except for the ``context``
entropy mode, whose range coder is tensorflow-compression's.
"""

import json
import os

import numpy as np

from tfrnncomp.entropy import coding
from tfrnncomp.format import container as bitstream
from tfrnncomp.format.extensions import Tag
from tfrnncomp.runtime.litert import DEFAULT_THREADS, POST_FILTER_STEP, StepModel, StepPair
from tfrnncomp.model.config import PAD_MULTIPLE
from tfrnncomp.runtime.steps import padded_size, run_decoder_steps, run_steps

MANIFEST = "tflite.json"


class LiteRTSteps:
    """Encoder/decoder step callables for :func:`tfrnncomp.runtime.steps.run_steps` on LiteRT.

    ``directory`` is a ``tfrnncomp export tflite`` output (``tflite.json`` + ``*.tflite``).
    ``entropy_model`` (a path to the integer BinaryRNN ``binaryrnn.bin`` of the same codec
    model) lets :meth:`decompress` decode entropy mode ``binaryrnn``; its probability path is
    integer NumPy, so it decodes exactly what ``tfrnncomp.Codec`` encoded.
    """

    def __init__(self, directory, variant="float32", num_threads=DEFAULT_THREADS,
                 entropy_model=None):
        with open(os.path.join(directory, MANIFEST), encoding="utf-8") as handle:
            self.manifest = json.load(handle)
        if variant not in self.manifest["variants"]:
            raise ValueError(f"{directory} has no variant {variant!r} "
                             f"(has {sorted(self.manifest['variants'])})")
        self.directory, self.variant, self.num_threads = directory, variant, num_threads
        self.layout = self.manifest["state_layout"]
        self.model_id = self.manifest["model_id"]
        self._models = {}
        self.entropy_model = entropy_model
        post_filter = None
        if POST_FILTER_STEP in self.manifest.get("steps", ()):
            post_filter = self._on_first_call(POST_FILTER_STEP)
        pair = StepPair(self._on_first_call("encoder_step"), self._on_first_call("decoder_step"),
                        self.layout, post_filter)
        self.encoder, self.decoder, self.present = pair.encoder, pair.decoder, pair.present

    def model(self, step):
        if step not in self._models:
            name = self.manifest["variants"][self.variant][step]["file"]
            self._models[step] = StepModel(os.path.join(self.directory, name),
                                           num_threads=self.num_threads)
        return self._models[step]

    def _on_first_call(self, step):
        """The step model ``step`` as a callable that loads it when first called."""
        return lambda **inputs: self.model(step)(**inputs)

    # -- codec ---------------------------------------------------------------------------
    def encode(self, image, iterations, callback=None):
        """``(codes int8[T,h,w,bits], reconstruction uint8[H,W,3])`` like ``Codec.encode_codes``."""
        return run_steps(self.encoder, self.decoder, image, iterations, callback=callback,
                         present=self.present)

    def decode(self, codes, height, width):
        return run_decoder_steps(self.decoder, codes, height, width, block=self.layout["block"],
                                 present=self.present)

    def header(self, height, width, iterations, channels=3, entropy="raw"):
        """The ``.trc`` header :class:`tfrnncomp.Codec` writes for the same model."""
        pad_h, pad_w = padded_size(height, width, PAD_MULTIPLE)
        return bitstream.Header(
            model_id=self.model_id, height=height, width=width, channels=channels,
            pad_height=pad_h, pad_width=pad_w, iterations=iterations,
            entropy_mode=_mode(entropy), block_size=self.layout["block"],
            code_depth=self.layout["bits"])

    def compress(self, image, iterations, entropy="raw"):
        """A ``.trc`` file of an ``uint8[H,W,3]`` image, decodable by ``tfrnncomp.Codec``."""
        image = np.asarray(image, np.uint8)
        codes, _ = self.encode(image, iterations)
        header = self.header(image.shape[0], image.shape[1], int(iterations), 3, entropy)
        return bitstream.write(header, coding.coder_for(_mode(entropy)).encode(codes))

    def decompress(self, data, iterations=None):
        """Decode a ``.trc`` file of this model (raw or context entropy) to ``uint8[H,W,3]``."""
        container = bitstream.read(bytes(data))
        header = container.header
        if header.model_id != self.model_id:
            raise ValueError(f"file was written by model {header.model_id!r}, "
                             f"these step models are {self.model_id!r}")
        if header.iteration_map is not None:
            raise ValueError("spatially adaptive files (an iteration map) are not supported "
                             "by the step-model host loop; decode them with tfrnncomp.Codec")
        bitstream.check_chunk_floors(container)  # bounds decode work per byte
        chunks = container.chunks[:iterations] if iterations else container.chunks
        if not chunks:
            raise ValueError("file holds no whole iteration")
        net = None
        if header.entropy_mode == bitstream.EntropyMode.BINARYRNN:
            net = _entropy_net(self, header)
        codes = coding.coder_for(header.entropy_mode, net=net).decode(chunks, header.code_shape)
        from tfrnncomp.codec.image_io import from_array

        return from_array(self.decode(codes, header.height, header.width), header.channels)


def _entropy_net(steps, header):
    """The integer BinaryRNN of a ``binaryrnn`` file, checked to bind to it."""
    from tfrnncomp.entropy.coding import integer_net

    if steps.entropy_model is None:
        raise ValueError("entropy mode binaryrnn needs entropy_model= (the binaryrnn.bin)")
    net = steps.entropy_model
    if not isinstance(net, integer_net.IntegerNet):
        net = integer_net.IntegerNet.load(net)
    file_id = header.extensions.get(Tag.ENTROPY_MODEL, b"").decode("ascii", "replace")
    integer_net.check_binding(net, steps.model_id, file_id)
    return net


def _mode(entropy):
    modes = {"raw": bitstream.EntropyMode.RAW, "context": bitstream.EntropyMode.CONTEXT}
    if entropy not in modes:
        raise ValueError(f"unknown entropy mode {entropy!r}; expected raw or context")
    return modes[entropy]

