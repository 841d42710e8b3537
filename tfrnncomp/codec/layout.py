"""The files of one model: the header the codec writes for an image, and the check that a
header read belongs to that model, made before any decoding work."""

import dataclasses

from tfrnncomp.errors import BitstreamError, ModelMismatchError, shown_id
from tfrnncomp.format import extensions
from tfrnncomp.format import container as bitstream
from tfrnncomp.runtime.steps import padded_size


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """What a model fixes in its files: its id, the multiple images are padded to, and the
    shape of its codes (``block_size``, ``code_depth`` bits)."""

    model_id: str
    pad_multiple: int
    block_size: int
    code_depth: int

    @classmethod
    def of(cls, model_id, config):
        """The layout of a model of id ``model_id`` and :class:`ModelConfig` ``config``."""
        return cls(model_id, config.pad_multiple, config.block_size, config.bits)

    def padded(self, height, width):
        """The padded size ``(height, width)`` of an image of ``height x width`` pixels."""
        return padded_size(height, width, self.pad_multiple)

    def code_grid(self, height, width):
        """``(rows, cols)`` of the code positions of an image of ``height x width`` pixels."""
        pad_height, pad_width = self.padded(height, width)
        return pad_height // self.block_size, pad_width // self.block_size

    def header(self, height, width, channels, iterations, entropy_mode, records=None):
        """The header of a file of ``iterations`` iterations; ``records`` its extensions."""
        pad_height, pad_width = self.padded(height, width)
        return bitstream.Header(
            extensions=dict(records or {}), model_id=self.model_id, height=height, width=width,
            channels=channels, pad_height=pad_height, pad_width=pad_width,
            iterations=iterations, entropy_mode=entropy_mode, block_size=self.block_size,
            code_depth=self.code_depth)

    def check(self, header):
        """Refuse a header this model did not write (:class:`ModelMismatchError`) or whose
        sizes disagree (:class:`BitstreamError`)."""
        if header.model_id != self.model_id:
            raise ModelMismatchError(
                f"file was written by model {shown_id(header.model_id)}, this codec is "
                f"{shown_id(self.model_id)}; decode it with that model")
        if header.code_depth != self.code_depth or header.block_size != self.block_size:
            raise ModelMismatchError("file's code depth or block size does not match the model")
        if header.iteration_map is not None and extensions.tile_of(header) is not None:
            raise BitstreamError("a file cannot be both tiled and spatially adaptive")
        expected = self.padded(header.height, header.width)
        if (header.pad_height, header.pad_width) != expected:
            # the decoder works on the padded size: a 1x1 image must not cost max_pixels
            raise BitstreamError(
                f"padded size {header.pad_height}x{header.pad_width} does not match the image "
                f"size {header.height}x{header.width} (expected {expected[0]}x{expected[1]})")
