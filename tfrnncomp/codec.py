"""The codec contract: ``compress(uint8[H,W,3]) -> bytes``, ``decompress(bytes) -> uint8``.

A :class:`Codec` binds one model (by zoo name, directory or instance) to the
bitstream format of :mod:`tfrnncomp.bitstream`.  Each iteration of the model
(0.125 bpp before entropy coding, Toderici et al. 2017 Section 2) is one
chunk of the file, so a file cut after any whole chunk still decodes, and
``decompress(data, iterations=k)`` decodes only the first ``k`` iterations.
"""

import math

import numpy as np

from tfrnncomp import bitstream, image_io, zoo
from tfrnncomp.errors import BitstreamError, InputImageError, ModelMismatchError, TfrnncompError

#: entropy modes by their CLI names; the default is the best one this package has
ENTROPY_MODES = {"raw": bitstream.EntropyMode.RAW, "context": bitstream.EntropyMode.CONTEXT}
DEFAULT_ENTROPY = "context"


class Codec:
    """Compress and decompress images with one trained model.

    Args:
        model: a zoo name (default :data:`tfrnncomp.zoo.DEFAULT_MODEL`), a model
            directory, or an :class:`~tfrnncomp.model.RNNCompressionModel`.
        max_pixels: decompression-bomb guard: files whose header claims more
            pixels are refused before anything is allocated.
        backend: ``"tf"`` (the TensorFlow graph of :mod:`tfrnncomp.functions`) or a
            LiteRT backend of :mod:`tfrnncomp.litert` (``"litert"`` float32,
            ``"litert-float16"``, ``"litert-dynamic-int8"``; needs ai-edge-litert).
            Every backend reads and writes the same files.
        threads: LiteRT interpreter threads (default 2).
    """

    def __init__(self, model=None, *, max_pixels=bitstream.DEFAULT_MAX_PIXELS, tile="auto",
                 backend="tf", threads=None):
        from tfrnncomp import litert
        from tfrnncomp.model import RNNCompressionModel

        variant = litert.variant_for(backend)  # an unknown backend fails before loading

        if isinstance(model, RNNCompressionModel):
            self.model = model.build_for_inference()
        else:
            self.model = zoo.load_model(model)
        self.config = self.model.config
        self.model_id = zoo.model_id(self.model)
        self.max_pixels = max_pixels
        self.tile = tile  # "auto": tile images above tiling.AUTO_TILE_PIXELS; None: never
        self.backend = backend
        if variant is None:
            from tfrnncomp.functions import CodecFunctions

            self.functions = CodecFunctions(self.model)
        else:
            self.functions = litert.LiteRTFunctions(self.model, variant,
                                                    threads or litert.DEFAULT_THREADS)
        self._table = None

    # -- sizes ------------------------------------------------------------------------
    @property
    def max_iterations(self):
        return self.config.max_iterations

    def header_for(self, height, width, channels, iterations, entropy="raw", tile=None):
        from tfrnncomp import tiling

        multiple = 32
        return bitstream.Header(extensions=tiling.extension(tile),
            model_id=self.model_id, height=height, width=width, channels=channels,
            pad_height=-(-height // multiple) * multiple, pad_width=-(-width // multiple) * multiple,
            iterations=iterations, entropy_mode=_entropy_mode(entropy),
            block_size=self.config.block_size, code_depth=self.config.bits)

    def file_size(self, height, width, iterations, channels=3):
        """Exact size in bytes of a raw-mode file of ``iterations`` iterations."""
        header = self.header_for(height, width, channels, iterations)
        return len(bitstream.encode_header(header)) + iterations * (header.raw_chunk_bytes + 8)

    def iterations_for_bpp(self, height, width, bpp):
        """The most iterations whose raw-mode file (header included) fits ``bpp`` (at least 1).

        It sizes raw files; for entropy-coded files :meth:`compress` measures the real
        chunk sizes instead.
        """
        if not bpp > 0 or math.isinf(bpp):
            raise TfrnncompError(f"bpp must be a positive number, got {bpp}")
        best = 1
        for iterations in range(1, self.max_iterations + 1):
            if self.file_size(height, width, iterations) * 8.0 / (height * width) <= bpp:
                best = iterations
        return best

    @property
    def table(self):
        if self._table is None:
            from tfrnncomp.entropy.rangecoder import BinaryTable

            self._table = BinaryTable()
        return self._table

    def encode_chunks(self, codes, entropy):
        """Payloads of every iteration: packed bits (raw) or range-coded bits."""
        mode = _entropy_mode(entropy)
        if mode == bitstream.EntropyMode.RAW:
            return [bitstream.pack_codes(c) for c in codes]
        from tfrnncomp.entropy import context

        bits = (np.asarray(codes) > 0).astype(np.uint8)
        return [context.encode(self.table, bits[t], _previous(bits, t)) for t in range(len(bits))]

    def decode_chunks(self, header, chunks):
        """Codes ``int8[T,h,w,bits]`` in {-1,+1} from the chunks of a file."""
        if header.entropy_mode == bitstream.EntropyMode.RAW:
            return np.stack([bitstream.unpack_codes(c, header.code_shape) for c in chunks])
        from tfrnncomp.entropy import context

        bits = []
        for chunk in chunks:
            bits.append(context.decode(self.table, chunk, header.code_shape,
                                       _previous(bits, len(bits))))
        return np.stack(bits).astype(np.int8) * 2 - 1

    def _check_iterations(self, iterations):
        if isinstance(iterations, bool) or not isinstance(iterations, (int, np.integer)):
            raise TfrnncompError(f"iterations must be an integer, got {iterations!r}")
        if not 1 <= iterations <= self.max_iterations:
            raise TfrnncompError(
                f"iterations must be in 1..{self.max_iterations}, got {iterations}")
        return int(iterations)

    # -- codec ------------------------------------------------------------------------
    def codes_for(self, array, iterations):
        """``(codes int8[T,h,w,bits], tile)`` of a uint8 RGB image, tiled if it is large."""
        from tfrnncomp import tiling

        tile = tiling.choose_tile(array.shape[0], array.shape[1], self.tile)
        if tile is None:
            return np.asarray(self.functions.encode_codes(array, np.int32(iterations))), None
        return tiling.encode_codes(self.functions, array, iterations, tile,
                                   self.config.bits), tile

    def images_for(self, codes, header, every_iteration=False):
        """Decode codes for ``header`` (tile by tile if the file is tiled)."""
        from tfrnncomp import tiling

        tile = tiling.tile_from_header(header)
        codes = np.asarray(codes, np.int8)
        height, width = np.int32(header.height), np.int32(header.width)
        if tile is not None:
            return tiling.decode(self.functions, codes, header.height, header.width, tile,
                                 every_iteration)
        if every_iteration:
            return np.asarray(self.functions.decode_all(codes, height, width))
        return np.asarray(self.functions.decode(codes, height, width))

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
                 entropy=DEFAULT_ENTROPY):
        """Compress an image (array, PIL image or path) to the bytes of a ``.trc`` file.

        Give at most one rate setting: ``iterations`` (1..max_iterations, default
        8), ``bpp`` (bits per pixel for the whole file), ``target_size`` (bytes),
        or a quality target ``target_msssim`` / ``target_psnr`` (the fewest
        iterations that reach it, else all).  Budgets and targets need one
        encode, not a search: the codes are progressive (:mod:`tfrnncomp.rate`).
        ``entropy`` is ``"context"`` (range coding, the default) or ``"raw"``.
        """
        from tfrnncomp import rate

        array, channels = image_io.to_array(image, drop_alpha=drop_alpha)
        height, width = array.shape[:2]
        if height * width > self.max_pixels:
            raise InputImageError(f"image has {height * width} pixels, above max_pixels "
                                  f"{self.max_pixels}")
        settings = {"iterations": iterations, "bpp": bpp, "target_size": target_size,
                    "target_msssim": target_msssim, "target_psnr": target_psnr}
        given = [name for name, value in settings.items() if value is not None]
        if len(given) > 1:
            raise TfrnncompError(f"give one rate setting, not {' and '.join(given)}")
        if target_size is not None:
            bpp = float(target_size) * 8.0 / (height * width)
        if bpp is not None:
            return rate.compress_to_budget(self, array, channels, float(bpp), entropy)
        if target_msssim is not None or target_psnr is not None:
            metric = "ms_ssim" if target_msssim is not None else "psnr"
            target = float(target_msssim if target_msssim is not None else target_psnr)
            return rate.compress_to_quality(self, array, channels, metric, target, entropy)
        iterations = self._check_iterations(8 if iterations is None else iterations)
        codes, tile = self.codes_for(array, iterations)
        return self.write(codes, height, width, channels, entropy, tile=tile)

    def write(self, codes, height, width, channels, entropy, chunks=None, tile=None):
        """The ``.trc`` bytes of codes ``[T, h, w, bits]`` (with their chunks if known)."""
        header = self.header_for(height, width, channels, len(codes), entropy, tile)
        if tuple(codes.shape[1:]) != header.code_shape:
            raise TfrnncompError(f"model produced codes of shape {codes.shape[1:]}, "
                                 f"expected {header.code_shape}")
        chunks = self.encode_chunks(codes, entropy) if chunks is None else chunks
        return bitstream.write(header, chunks)

    def read(self, data, strict=False):
        """Parse a file and check it belongs to this codec's model."""
        container = bitstream.read(bytes(data), max_pixels=self.max_pixels, strict=strict)
        header = container.header
        if header.model_id != self.model_id:
            raise ModelMismatchError(
                f"file was written by model {header.model_id!r}, this codec is "
                f"{self.model_id!r}; decode it with that model")
        if header.entropy_mode not in ENTROPY_MODES.values():
            raise BitstreamError(f"entropy mode {header.entropy_mode.name.lower()} is not "
                                 "supported by this version")
        if header.code_depth != self.config.bits or header.block_size != self.config.block_size:
            raise ModelMismatchError("file's code depth or block size does not match the model")
        expected = self.header_for(header.height, header.width, header.channels, 1)
        if (header.pad_height, header.pad_width) != (expected.pad_height, expected.pad_width):
            # the decoder works on the padded size: a 1x1 image must not cost max_pixels
            raise BitstreamError(
                f"padded size {header.pad_height}x{header.pad_width} does not match the image "
                f"size {header.height}x{header.width} (expected "
                f"{expected.pad_height}x{expected.pad_width})")
        return container

    def decompress(self, data, iterations=None, *, strict=False):
        """Decode ``.trc`` bytes to ``uint8[H,W,3]`` (or ``uint8[H,W]`` for greyscale).

        ``iterations`` decodes only that many (a prefix of the progressive
        file); by default every whole chunk present is decoded.
        """
        container = self.read(data, strict=strict)
        header = container.header
        available = len(container.chunks)
        if iterations is None:
            iterations = available
        iterations = self._check_iterations(iterations)
        if iterations > available:
            raise TfrnncompError(f"file holds {available} whole iterations, "
                                 f"{iterations} were asked for")
        codes = self.decode_chunks(header, container.chunks[:iterations])
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


def _entropy_mode(entropy):
    if isinstance(entropy, bitstream.EntropyMode):
        return entropy
    try:
        return ENTROPY_MODES[entropy]
    except (KeyError, TypeError):
        raise TfrnncompError(f"unknown entropy mode {entropy!r}; expected one of "
                             f"{sorted(ENTROPY_MODES)}") from None


def _previous(bits, t):
    """The two earlier iterations' 0/1 codes the context model conditions on."""
    return (bits[t - 1] if t >= 1 else None, bits[t - 2] if t >= 2 else None)
