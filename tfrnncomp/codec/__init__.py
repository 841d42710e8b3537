"""The codec: an image in, the bytes of a ``.trc`` file out, and back (:class:`Codec`), with
rate control, spatially adaptive allocation and tiling of large images."""

from tfrnncomp.codec.facade import DEFAULT_ENTROPY, ENTROPY_MODES, Codec

__all__ = ["Codec", "DEFAULT_ENTROPY", "ENTROPY_MODES"]
