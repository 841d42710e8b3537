"""The codec contract: ``compress(uint8[H,W,3]) -> bytes``, ``decompress(bytes) -> uint8``.

A :class:`Codec` binds one model (by zoo name, directory or instance) to the
file format of :mod:`tfrnncomp.format`.  Each iteration of the model
(0.125 bpp before entropy coding, Toderici et al. 2017 Section 2) is one
chunk of the file, so a file cut after any whole chunk still decodes, and
``decompress(data, iterations=k)`` decodes only the first ``k`` iterations.
Decoded images go through the model's post-filter (:mod:`tfrnncomp.model.postfilter`) when
its directory has one; files do not depend on it.
"""

import dataclasses

import numpy as np

from tfrnncomp.codec import image_io
from tfrnncomp.codec.layout import FileLayout
from tfrnncomp.codec.options import (DEFAULT_ENTROPY, ENTROPY_MODES, CompressOptions, Encoded,
                                     check_iterations, entropy_mode)
from tfrnncomp import runtime
from tfrnncomp.model import zoo
from tfrnncomp.entropy import coding
from tfrnncomp.format import blockmap, extensions
from tfrnncomp.format import container as bitstream
from tfrnncomp.errors import BitstreamError, TfrnncompError, shown_id


class Codec:
    """Compress and decompress images with one trained model.

    Args:
        model: a zoo name (default :data:`tfrnncomp.model.zoo.DEFAULT_MODEL`), a model
            directory, or an :class:`~tfrnncomp.model.network.RNNCompressionModel`.
        max_pixels: decompression-bomb guard: files whose header claims more
            pixels are refused before anything is allocated.
        entropy_model: the integer BinaryRNN of entropy mode ``binaryrnn``: a
            path, an :class:`~tfrnncomp.entropy.coding.integer_net.IntegerNet`, or
            ``"auto"`` for the model directory's ``binaryrnn.bin`` if it has one.
        backend: ``"tf"`` (the TensorFlow graph of :mod:`tfrnncomp.runtime.graph`),
            ``"tf-xla"`` (the same graph compiled with XLA, once per image shape), or a
            LiteRT backend of :mod:`tfrnncomp.runtime.litert` (``"litert"`` float32,
            ``"litert-float16"``, ``"litert-dynamic-int8"``; needs ai-edge-litert).
            Every backend reads and writes the same files.
        threads: LiteRT interpreter threads (default 2).
        post_filter: the post-filter of decoded images (:mod:`tfrnncomp.model.postfilter`):
            ``"auto"`` for the model directory's own if it has one, ``None`` for the
            decoder's images as they are, or a :class:`~tfrnncomp.model.postfilter.PostFilter`.
            Files are the same either way; only the decoded pixels differ.

    The first ``Codec`` imports TensorFlow, which writes start-up notices to stderr
    (CUDA plugin registration, CPU features).  This package changes no logging state:
    to silence them, set ``os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"`` before TensorFlow is
    first imported (or export it in the shell), and ``tf.get_logger().setLevel("ERROR")``
    for TensorFlow's Python warnings.  The ``tfrnncomp`` command does both unless
    ``--verbose`` is given.
    """

    def __init__(self, model=None, *, max_pixels=bitstream.DEFAULT_MAX_PIXELS, tile="auto",
                 entropy_model="auto", backend="tf", threads=None, post_filter="auto"):
        from tfrnncomp.codec import tiling
        from tfrnncomp.model.network import RNNCompressionModel

        runtime.check_backend(backend)  # an unknown backend fails before loading
        tile = tiling.check_tile(tile)  # so does a bad tile size (ConfigError)

        if isinstance(model, RNNCompressionModel):
            self.model = model.build_for_inference()
            if entropy_model == "auto":
                entropy_model = None
        else:
            self.model = zoo.load_model(model)
            if entropy_model == "auto":
                entropy_model = zoo.entropy_model_path(model)
        self.config = self.model.config
        self.model_id = zoo.model_id(self.model)
        self.post_filter = zoo.post_filter_for(post_filter, model, self.model_id)
        self.layout = FileLayout.of(self.model_id, self.config)
        self.max_pixels = max_pixels
        self.tile = tile  # "auto": tile images above tiling.AUTO_TILE_PIXELS; None: never
        self.backend = backend
        self.functions = runtime.backend_for(self.model, backend, threads, self.post_filter)
        self._table = None
        self._entropy_model = entropy_model
        self._search_backends = {}

    # -- sizes ------------------------------------------------------------------------
    @property
    def max_iterations(self):
        return self.config.max_iterations

    @property
    def default_iterations(self):
        """Iterations coded when no rate is given (:attr:`ModelConfig.default_iterations`)."""
        return self.config.default_iterations

    @property
    def useful_iterations(self):
        """The last iteration that still raises quality on held-out images."""
        return self.config.useful_iterations or self.max_iterations

    @property
    def post_filter_id(self):
        """``postfilter@hash8`` of the post-filter decoded images go through, or None."""
        from tfrnncomp.model.postfilter import weights_id

        return weights_id(self.post_filter)

    @property
    def default_entropy(self):
        """The entropy mode ``"auto"`` means for this codec."""
        return "binaryrnn" if self._entropy_model is not None else "context"

    def resolve_entropy(self, entropy):
        return self.default_entropy if entropy in (None, "auto") else entropy

    def header_for(self, height, width, channels, iterations, entropy="raw", tile=None,
                   iteration_map=None):
        """The header of a file; ``iteration_map`` is ``(block, map)`` of an adaptive one."""
        mode = entropy_mode(self.resolve_entropy(entropy))
        records = dict(extensions.tile_extension(tile))
        if iteration_map is not None:
            records.update(extensions.iteration_map_extension(*iteration_map))
        if mode == bitstream.EntropyMode.BINARYRNN:
            records.update(extensions.entropy_model_extension(self.entropy_net.entropy_id))
        return self.layout.header(height, width, channels, iterations, mode, records)

    def file_size(self, height, width, iterations, channels=3):
        """Exact size in bytes of a raw-mode file of ``iterations`` iterations."""
        header = self.header_for(height, width, channels, iterations)
        return len(bitstream.encode_header(header)) + iterations * (
            header.raw_chunk_bytes + bitstream.CHUNK_OVERHEAD)

    @property
    def table(self):
        if self._table is None:
            from tfrnncomp.entropy.coding.rangecoder import BinaryTable

            self._table = BinaryTable()
        return self._table

    @property
    def entropy_net(self):
        """The integer BinaryRNN of entropy mode ``binaryrnn`` (loaded on first use)."""
        from tfrnncomp.entropy.coding import integer_net

        if self._entropy_model is None:
            raise TfrnncompError(f"model {shown_id(self.model_id)} has no BinaryRNN entropy "
                                 "model; use --entropy context")
        if not isinstance(self._entropy_model, integer_net.IntegerNet):
            self._entropy_model = integer_net.IntegerNet.load(self._entropy_model)
        integer_net.check_binding(self._entropy_model, self.model_id)
        return self._entropy_model

    def coder(self, entropy):
        """The :class:`~tfrnncomp.entropy.coding.Coder` of an entropy mode (name or mode)."""
        mode = entropy_mode(self.resolve_entropy(entropy))
        if mode == bitstream.EntropyMode.RAW:
            return coding.coder_for(mode)
        net = self.entropy_net if mode == bitstream.EntropyMode.BINARYRNN else None
        return coding.coder_for(mode, self.table, net)

    def encode_chunks(self, codes, entropy, header=None):
        """Payloads of every iteration: packed bits (raw) or range-coded bits.

        With the ``header`` of an adaptive file only each iteration's active positions
        are coded.
        """
        coder = self.coder(entropy)
        return coder.encode(codes, coding.active_positions(header, len(codes)))

    def decode_chunks(self, header, chunks):
        """Codes ``int8[T,h,w,bits]`` in {-1,+1} (0 where an adaptive file codes nothing)."""
        if header.entropy_mode == bitstream.EntropyMode.BINARYRNN:
            self._check_entropy_model(header)
        active = coding.active_positions(header, len(chunks))
        return self.coder(header.entropy_mode).decode(chunks, header.code_shape, active)

    def _check_entropy_model(self, header):
        from tfrnncomp.entropy.coding import integer_net

        file_id = extensions.entropy_model_of(header)
        integer_net.check_binding(self.entropy_net, self.model_id, file_id)

    # -- codec ------------------------------------------------------------------------
    def _codes_for(self, array, iterations, search=0):
        """``(codes int8[T,h,w,bits], tile)`` of a uint8 RGB image, tiled if it is large;
        ``search`` sweeps of code search per iteration (:mod:`tfrnncomp.runtime.search`)."""
        from tfrnncomp.codec import tiling

        tile = tiling.choose_tile(array.shape[0], array.shape[1], self.tile)
        return tiling.encode_codes(self._encoder(search), self.layout, array, iterations,
                                   tile), tile

    def _encoder(self, search):
        """The backend that encodes with ``search`` sweeps (0: this codec's backend)."""
        if not search:
            return self.functions
        from tfrnncomp.runtime.search import SearchBackend

        if search not in self._search_backends:
            self._search_backends[search] = SearchBackend(self.model, search, self.functions)
        return self._search_backends[search]

    def images_for(self, codes, header, every_iteration=False):
        """Decode codes for ``header`` (tile by tile if the file is tiled)."""
        from tfrnncomp.codec import tiling

        if header.iteration_map is not None:
            runtime.require_adaptive(self.functions, self.backend,
                                     "decoding a spatially adaptive file")
        return tiling.decode(self.functions, self.layout, codes, header.height, header.width,
                             extensions.tile_of(header), every_iteration)

    def encode_codes(self, image, iterations):
        """Run the model: ``(codes int8[T,h,w,bits], reconstruction uint8[H,W,3])``."""
        result = self.functions.encode(np.asarray(image, np.uint8), np.int32(iterations))
        return np.asarray(result["codes"]), np.asarray(result["reconstruction"])

    def decode_codes(self, codes, height, width):
        """Decode a code tensor ``int8[T,h,w,bits]`` to ``uint8[height,width,3]``."""
        return np.asarray(self.functions.decode(np.asarray(codes, np.int8), np.int32(height),
                                                np.int32(width)))

    def compress(self, image, iterations=None, *, bpp=None, target_size=None,
                 target_msssim=None, target_psnr=None, drop_alpha=False,
                 entropy=DEFAULT_ENTROPY, adaptive=False, slope=None,
                 block=blockmap.DEFAULT_BLOCK, best_effort=True, search=0, progress=None):
        """Compress an image (array, PIL image or path) to the bytes of a ``.trc`` file.

        Give at most one rate setting: ``iterations`` (1..max_iterations, default
        :attr:`default_iterations`: 8, or fewer where the model's quality stops rising),
        ``bpp`` (bits per pixel for the whole file), ``target_size`` (bytes), or a quality
        target ``target_msssim`` / ``target_psnr`` (the fewest iterations that reach it, else
        all).  Budgets and targets need one encode, not a search: the codes are progressive
        (:mod:`tfrnncomp.codec.rate`).
        A budget below one iteration's file, or a target no prefix reaches, gives the
        nearest file (one iteration, or all of them); ``best_effort=False`` raises
        :class:`~tfrnncomp.errors.TargetNotMetError` naming that file instead.
        ``entropy`` is ``"binaryrnn"`` (range coding with the BinaryRNN), ``"context"``
        (range coding with the adaptive context model), ``"raw"``, or ``"auto"`` (the
        default: binaryrnn if this codec has a BinaryRNN, else context).

        ``adaptive=True`` allocates iterations per block of ``block x block`` code
        positions (:mod:`tfrnncomp.codec.adaptive`): with ``target_psnr`` each block stops
        once its own PSNR reaches it; with ``slope`` once its last iteration gained at
        most that much MSE (``iterations`` then caps the count, default the maximum).

        ``search=N`` (0..8) gives each iteration N sweeps of code search: the encoder flips
        bits where that lowers the decoded error (:mod:`tfrnncomp.runtime.search`); better
        images for the same bits, encoding several times slower, ordinary files.

        ``progress`` is called with each stage's name as it begins: ``"encode"`` (the model,
        all iterations in one graph call), ``"entropy"`` and, for a quality target,
        ``"measure"`` (decoding every prefix to score it).
        """
        return self.compress_with(image, CompressOptions(
            iterations=iterations, bpp=bpp, target_size=target_size, target_msssim=target_msssim,
            target_psnr=target_psnr, drop_alpha=drop_alpha, entropy=entropy, adaptive=adaptive,
            slope=slope, block=block, best_effort=best_effort, search=search), progress)

    def compress_with(self, image, options, progress=None):
        """:meth:`compress` with its settings as one
        :class:`~tfrnncomp.codec.options.CompressOptions`."""
        from tfrnncomp.codec import adaptive, rate
        from tfrnncomp.runtime.search import check_search

        entropy = self.resolve_entropy(options.entropy)
        search = check_search(options.search)
        array, channels = image_io.to_array(image, options.drop_alpha, self.max_pixels)
        _stage(progress, "encode")
        if options.adaptive:
            if search:
                raise TfrnncompError("search does not combine with adaptive=True")
            plan = adaptive.allocation(options, self.max_iterations)
            return self._encoded_adaptive(array, channels, plan, entropy).data
        if options.slope is not None:
            raise TfrnncompError("slope is a stopping rule of adaptive=True")
        goal = rate.goal(options, array, channels)
        if goal is not None:
            return self._compress_to_goal(array, channels, entropy, goal, options.best_effort,
                                          progress, search)
        iterations = check_iterations(self.default_iterations if options.iterations is None
                                      else options.iterations, self.max_iterations)
        return self._encoded(array, channels, iterations, entropy, progress, search).data

    def encode(self, image, iterations, entropy=DEFAULT_ENTROPY):
        """:meth:`compress` of ``iterations`` iterations as :class:`Encoded` ``(data, codes)``:
        the file and the codes ``int8[T,h,w,bits]`` it holds."""
        array, channels = image_io.to_array(image, max_pixels=self.max_pixels)
        return self._encoded(array, channels, check_iterations(iterations, self.max_iterations),
                             self.resolve_entropy(entropy))

    def _encoded(self, array, channels, iterations, entropy, progress=None, search=0):
        codes, tile = self._codes_for(array, iterations, search)
        _stage(progress, "entropy")
        header = self.header_for(array.shape[0], array.shape[1], channels, iterations, entropy,
                                 tile)
        return Encoded(self._file(header, codes), codes)

    def _compress_to_goal(self, array, channels, entropy, goal, best_effort, progress,
                          search=0):
        """Encode every iteration once; keep the prefix that ``goal``
        (:mod:`tfrnncomp.codec.rate`) chooses."""
        from tfrnncomp.codec import rate

        height, width = array.shape[:2]
        codes, tile = self._codes_for(array, self.max_iterations, search)
        _stage(progress, "entropy")
        chunks = self.encode_chunks(codes, entropy)
        header = self.header_for(height, width, channels, self.max_iterations, entropy, tile)

        def decoded():
            _stage(progress, "measure")
            images = self.images_for(codes, header, every_iteration=True)
            return (image_io.from_array(image, channels) for image in images)

        keep = goal.iterations(rate.Prefixes(bitstream.prefix_sizes(header, chunks), decoded),
                               best_effort)
        return self._file(dataclasses.replace(header, iterations=keep), codes[:keep],
                          chunks[:keep])

    def compress_adaptive(self, image, allocation, entropy=DEFAULT_ENTROPY, block_mse=None):
        """Spatially adaptive coding by an :class:`~tfrnncomp.codec.adaptive.Allocation`:
        :class:`Encoded` with the map and the image the file decodes to; ``block_mse``: the
        lagrangian rule's first pass (:meth:`adaptive_history`), reused across slopes."""
        array, channels = image_io.to_array(image, max_pixels=self.max_pixels)
        return self._encoded_adaptive(array, channels, allocation,
                                      self.resolve_entropy(entropy), block_mse)

    def adaptive_history(self, image, iterations, block):
        """Each block's MSE after each of ``iterations`` iterations, ``float32[T, rows, cols]``
        (:func:`tfrnncomp.codec.adaptive.history`)."""
        from tfrnncomp.codec import adaptive

        array, _ = image_io.to_array(image, max_pixels=self.max_pixels)
        return adaptive.history(self._adaptive_backend(array), self.layout, array, iterations,
                                block)

    def _encoded_adaptive(self, array, channels, plan, entropy, block_mse=None):
        from tfrnncomp.codec import adaptive

        codes, the_map, reconstruction = adaptive.encode(
            self._adaptive_backend(array), self.layout, array, plan.iterations, plan.block,
            plan.rule, plan.threshold, block_mse)
        height, width = array.shape[:2]
        header = self.header_for(height, width, channels, int(the_map.max()), entropy,
                                 iteration_map=(plan.block, the_map))
        return Encoded(self._file(header, codes), codes, the_map, reconstruction)

    def _adaptive_backend(self, array):
        """This codec's backend for spatially adaptive coding of ``array``: refused for a
        backend without it and for an image this codec would tile."""
        from tfrnncomp.codec import tiling

        runtime.require_adaptive(self.functions, self.backend, "spatially adaptive coding")
        tiling.check_untiled(array.shape[0], array.shape[1], self.tile, "adaptive coding")
        return self.functions

    def _file(self, header, codes, chunks=None):
        """The bytes of the file of ``header``: its ``header.iterations`` iterations of
        ``codes`` (entropy-coded unless their ``chunks`` are given)."""
        if tuple(codes.shape[1:]) != header.code_shape:
            raise TfrnncompError(f"model produced codes of shape {codes.shape[1:]}, "
                                 f"expected {header.code_shape}")
        if len(codes) != header.iterations:
            raise TfrnncompError(f"the header declares {header.iterations} iterations, the "
                                 f"codes hold {len(codes)}")
        if chunks is None:
            adaptive = header.iteration_map is not None
            chunks = self.encode_chunks(codes, header.entropy_mode, header if adaptive else None)
        return bitstream.write(header, chunks)

    def read(self, data, strict=False):
        """Parse a file and check it belongs to this codec's model."""
        container = bitstream.read(bytes(data), max_pixels=self.max_pixels, strict=strict)
        header = container.header
        self.layout.check(header)
        if header.entropy_mode not in ENTROPY_MODES.values():
            raise BitstreamError(f"entropy mode {header.entropy_mode.name.lower()} is not "
                                 "supported by this version")
        if header.entropy_mode == bitstream.EntropyMode.BINARYRNN:
            self._check_entropy_model(header)
        bitstream.check_chunk_floors(container)  # bounds decode work per byte
        return container

    def decompress(self, data, iterations=None, *, strict=False, progress=None):
        """Decode ``.trc`` bytes to ``uint8[H,W,3]`` (or ``uint8[H,W]`` for greyscale).

        ``iterations`` decodes only that many (a prefix of the progressive
        file); by default every whole chunk present is decoded.  ``progress`` is called
        with ``"entropy"`` (entropy decoding) and ``"decode"`` (the model) as they begin.
        """
        container = self.read(data, strict=strict)
        header = container.header
        available = len(container.chunks)
        if iterations is None:
            iterations = available
        iterations = check_iterations(iterations, self.max_iterations)
        if iterations > available:
            raise TfrnncompError(f"file holds {available} whole iterations, "
                                 f"{iterations} were asked for")
        _stage(progress, "entropy")
        codes = self.decode_chunks(header, container.chunks[:iterations])
        _stage(progress, "decode")
        rgb = self.images_for(codes, header)
        return image_io.from_array(rgb, header.channels)

    def decompress_progressive(self, data, *, strict=False):
        """Every prefix of a file in one decoder pass: a list of images, one per iteration.

        Image k equals ``decompress(data, k + 1)`` exactly.
        """
        container = self.read(data, strict=strict)
        header = container.header
        codes = self.decode_chunks(header, container.chunks)
        images = self.images_for(codes, header, every_iteration=True)
        return [image_io.from_array(image, header.channels) for image in images]

    def decompress_image(self, data, iterations=None, **kwargs):
        """Like :meth:`decompress`, as a PIL image."""
        from PIL import Image

        return Image.fromarray(self.decompress(data, iterations, **kwargs))


def _stage(progress, name):
    """Tell a ``progress`` callable (if any) that stage ``name`` begins."""
    if progress is not None:
        progress(name)

