"""Pillow plugin: ``import tfrnncomp.pillow`` and Pillow reads and writes ``.trc`` files.

    >>> import tfrnncomp.pillow
    >>> from PIL import Image
    >>> Image.open("photo.png").save("photo.trc", iterations=8)   # or bpp=0.5, quality=50
    >>> Image.open("photo.trc").load()

Format name ``TRC``, extension ``.trc``, MIME type ``image/x-tfrnncomp``.
Save options: ``iterations`` (1..16), ``bpp`` (a whole-file budget),
``quality`` (0..100, mapped linearly to 1..the model's useful iterations), ``adaptive=True``
with ``target_psnr=`` or ``slope=`` (spatially adaptive, :mod:`tfrnncomp.codec.adaptive`),
``search`` (sweeps of code search per iteration, :mod:`tfrnncomp.runtime.search`),
``model`` (zoo name or directory, default the shipped model), ``entropy``
(``context`` or ``raw``), ``drop_alpha``.  Open options go through ``Image.open(...)`` as usual;
``im.draft(None, None)`` is not supported, but ``tfrnncomp.pillow.open_iterations``
decodes a prefix of a progressive file.  As in pillow-avif-plugin and
pillow-heif, importing the module registers the format; loaded models are
cached per model name (at most 4) on first use, never at import time.

Pillow's conventions hold: ``Image.MAX_IMAGE_PIXELS`` limits what opens
(``DecompressionBombWarning`` above it, ``DecompressionBombError`` above twice it, checked
on the header before any decoding), errors of ``load()`` are ``OSError``, a truncated file
raises unless ``ImageFile.LOAD_TRUNCATED_IMAGES`` (then its whole iterations decode),
``verify()`` checks every chunk's CRC, and ``info["iterations"]`` is the number of
iterations that decode.
"""

import functools
import io

from PIL import Image, ImageFile

from tfrnncomp.format import container as bitstream

FORMAT = "TRC"
MIME = "image/x-tfrnncomp"
EXTENSION = bitstream.FILE_EXTENSION


@functools.lru_cache(maxsize=4)
def _codec(model=None):
    from tfrnncomp.codec import Codec

    return Codec(model, max_pixels=None)  # Image.MAX_IMAGE_PIXELS governs, as for every format


def _codec_for(model_id):
    """A loaded codec whose model wrote ``model_id``: the cached ones, then the zoo."""
    from tfrnncomp.model import zoo

    candidates = [None] + [name for name in zoo.available_models() if name != zoo.DEFAULT_MODEL]
    cached = [c for c in _loaded_codecs() if c.model_id == model_id]
    if cached:
        return cached[0]
    for name in candidates:
        codec = _codec(name)
        if codec.model_id == model_id:
            return codec
    return _codec(None)  # raises ModelMismatchError with a clear message on decode


def _loaded_codecs():
    return _LOADED


_LOADED = []  # codecs used for saving in this process, so their files reopen


def _accept(prefix):
    return prefix[:4] == bitstream.MAGIC


class TrcImageFile(ImageFile.ImageFile):
    """A ``.trc`` file opened by Pillow; decoding happens on ``load()``."""

    format = FORMAT
    format_description = "tfrnncomp recurrent-network compressed image"

    def _open(self):
        data = self.fp.read()
        try:
            header, _ = bitstream.decode_header(data, max_pixels=None)
        except bitstream.BitstreamError as error:
            raise SyntaxError(f"not a valid tfrnncomp file: {error}") from None
        self._size = (header.width, header.height)
        self._mode = "L" if header.channels == 1 else "RGB"
        self.info["model_id"] = header.model_id
        self.info["iterations"] = _whole_iterations(data, header)
        self.info["entropy"] = header.entropy_mode.name.lower()
        self.tile = [ImageFile._Tile("trc", (0, 0) + self.size, 0, (self.mode, header.model_id))]

    def verify(self):
        """Check the header and every chunk's CRC without decoding (``SyntaxError`` if bad)."""
        self.fp.seek(0)
        try:
            bitstream.read(self.fp.read(), max_pixels=None, strict=True)
        except bitstream.BitstreamError as error:
            raise SyntaxError(f"broken tfrnncomp file: {error}") from None
        super().verify()


def _whole_iterations(data, header):
    """Iterations whose chunks are all present (the header's count if the file is damaged)."""
    try:
        return len(bitstream.read(data, max_pixels=None).chunks)
    except bitstream.BitstreamError:
        return header.iterations  # load() reports the damage


class TrcDecoder(ImageFile.PyDecoder):
    """Reads the whole file and decodes it with the default model (or ``model`` arg)."""

    _pulls_fd = True

    def decode(self, buffer):
        from tfrnncomp.errors import TfrnncompError

        self.fd.seek(0)
        data = self.fd.read()
        mode, model_id = self.args
        try:
            array = _codec_for(model_id).decompress(
                data, strict=not ImageFile.LOAD_TRUNCATED_IMAGES)
        except TfrnncompError as error:
            raise OSError(f"cannot decode tfrnncomp file: {error}") from error
        self.set_as_raw(array.tobytes(), mode)
        return -1, 0


def _iterations_for_quality(quality, maximum):
    quality = min(max(int(quality), 0), 100)
    return max(1, round(quality / 100.0 * maximum))


def _save(image, fp, filename):
    info = image.encoderinfo
    codec = _codec(info.get("model"))
    if codec not in _LOADED:
        _LOADED.append(codec)
    kwargs = {"entropy": info.get("entropy", "auto"),
              "drop_alpha": bool(info.get("drop_alpha", False)),
              "search": info.get("search", 0)}
    if info.get("bpp") is not None:
        kwargs["bpp"] = float(info["bpp"])
    elif info.get("iterations") is not None:
        kwargs["iterations"] = int(info["iterations"])
    elif info.get("quality") is not None:
        kwargs["iterations"] = _iterations_for_quality(info["quality"], codec.useful_iterations)
    if info.get("adaptive"):  # spatially adaptive: per-block target_psnr (or slope)
        kwargs.update(adaptive=True, target_psnr=info.get("target_psnr"),
                      slope=info.get("slope"))
    fp.write(codec.compress(image, **kwargs))


def open_iterations(path_or_bytes, iterations, model=None):
    """Decode only the first ``iterations`` of a progressive ``.trc`` file, as a PIL image."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        data = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as handle:
            data = handle.read()
    with Image.open(io.BytesIO(data), formats=[FORMAT]):
        pass  # the header checks of Image.open, Image.MAX_IMAGE_PIXELS included
    return Image.fromarray(_codec(model).decompress(data, iterations))


def register():
    """Register the format with Pillow (done on import; safe to call again)."""
    Image.register_open(FORMAT, TrcImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_extension(FORMAT, EXTENSION)
    Image.register_mime(FORMAT, MIME)
    Image.register_decoder("trc", TrcDecoder)


register()

__all__ = ["FORMAT", "MIME", "EXTENSION", "TrcImageFile", "open_iterations", "register"]
