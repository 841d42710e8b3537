"""The registry of header extensions: every tag a ``.trc`` header may carry, in one place.

A header holds TLV records (u8 tag, u16 length, value); readers keep tags they do not
know.  Only the standard library and numpy are used here.
"""

import enum
import struct

from tfrnncomp.errors import BitstreamError, TfrnncompError
from tfrnncomp.format import blockmap

#: tiles, and so the padded image, are multiples of this many pixels per side
TILE_MULTIPLE = 32
_TILE = struct.Struct(">II")


class Tag(enum.IntEnum):
    """Extension tags: the value each one holds (headers key their extensions by plain int)."""

    TILE = 1  # u32 tile height, u32 tile width: the file is coded in tiles (codec.tiling)
    ITERATION_MAP = 2  # per-block iteration counts of a spatially adaptive file (blockmap)
    ENTROPY_MODEL = 3  # ASCII id of the BinaryRNN that coded the chunks (entropy mode binaryrnn)


def tile_extension(tile):
    """``{Tag.TILE: value}`` of a square tile side in pixels, ``{}`` for an untiled file."""
    return {int(Tag.TILE): _TILE.pack(tile, tile)} if tile else {}


def tile_of(header):
    """The tile side in pixels of a tiled file, else None; BitstreamError if it is invalid."""
    value = header.extensions.get(Tag.TILE)
    if value is None:
        return None
    if len(value) != _TILE.size:
        raise BitstreamError("tile extension must hold 8 bytes")
    tile_h, tile_w = _TILE.unpack(value)
    if tile_h != tile_w or tile_h < TILE_MULTIPLE or tile_h % TILE_MULTIPLE:
        raise BitstreamError(f"invalid tile size {tile_h}x{tile_w} in the header")
    return tile_h


def iteration_map_extension(block, iteration_map):
    """``{Tag.ITERATION_MAP: value}`` of a map ``uint8[rows, cols]`` of ``block``-sized blocks."""
    return {int(Tag.ITERATION_MAP): blockmap.encode(block, iteration_map)}


def entropy_model_extension(entropy_id):
    """``{Tag.ENTROPY_MODEL: value}`` naming the BinaryRNN that codes the chunks."""
    return {int(Tag.ENTROPY_MODEL): entropy_id.encode("ascii")}


def entropy_model_of(header):
    """The entropy model id of a ``binaryrnn`` file; BitstreamError if missing or not ASCII."""
    value = header.extensions.get(Tag.ENTROPY_MODEL)
    if value is None:
        raise BitstreamError(f"binaryrnn file has no entropy model id "
                             f"(extension {int(Tag.ENTROPY_MODEL)})")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("entropy model id is not ASCII") from None


def decoded(header):
    """A header's extensions as values: ``tile`` (its side in pixels), ``iteration_map``
    (block size and histogram, :func:`tfrnncomp.format.blockmap.summary`) and
    ``entropy_model`` (the id as text); other tags, and values that do not decode, stay hex
    by tag number."""
    out = {}
    for tag, value in header.extensions.items():
        try:
            if tag == Tag.TILE:
                out["tile"] = tile_of(header)
            elif tag == Tag.ITERATION_MAP:
                block, values = header.iteration_map
                out["iteration_map"] = blockmap.summary(values, block)
            elif tag == Tag.ENTROPY_MODEL:
                out["entropy_model"] = value.decode("ascii")
            else:
                out[str(tag)] = value.hex()
        except (TfrnncompError, UnicodeDecodeError):
            out[str(tag)] = value.hex()
    return out
