"""The codec: an image in, the bytes of a ``.trc`` file out, and back (:class:`Codec`), with
rate control, spatially adaptive allocation and tiling of large images."""

from tfrnncomp.codec.facade import Codec
from tfrnncomp.codec.options import DEFAULT_ENTROPY, ENTROPY_MODES, CompressOptions

__all__ = ["Codec", "CompressOptions", "DEFAULT_ENTROPY", "ENTROPY_MODES"]
