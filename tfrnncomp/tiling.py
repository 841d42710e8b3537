"""Tiled coding of large images: bounded memory, one progressive file.

The model's activations grow with the image (the last decoder RNN runs at half
resolution), so a 4000x3000 photo coded in one piece needs several GB.  Large
images are therefore coded in tiles of ``tile x tile`` pixels (a multiple of
32) of the padded image.  A tile's codes are exactly its block of the whole
image's code tensor, because the model maps every 16x16 pixels to one code
position (Toderici et al. 2017, Figure 1): the chunks, the entropy coder and
progressive decoding are the same as untiled, and the header only records
the tile size (extension tag :data:`TILE_TAG`), so the decoder decodes tile by
tile too.  Tiles see no context across their borders; the evaluation measures
what that costs (``tools/bench_speed.py --tile``).
"""

import struct

import numpy as np

from tfrnncomp.errors import BitstreamError, ConfigError

#: header extension tag of the tile size (u32 tile height, u32 tile width)
TILE_TAG = 1
#: images with more pixels than this are tiled by default
AUTO_TILE_PIXELS = 2048 * 2048
DEFAULT_TILE = 1024


def check_tile(tile):
    """``tile`` if it is ``"auto"``, ``None``/0 (never tile) or a positive multiple of 32;
    else :class:`ConfigError` (a ValueError)."""
    if isinstance(tile, str) and tile == "auto":
        return tile
    if tile is None or (isinstance(tile, (int, np.integer)) and not isinstance(tile, bool)
                        and (tile == 0 or (tile >= 32 and tile % 32 == 0))):
        return None if not tile else int(tile)
    raise ConfigError(f"tile size must be 'auto', None or a positive multiple of 32, "
                      f"got {tile!r}")


def choose_tile(height, width, tile="auto"):
    """The tile size to use: ``None`` (untiled) or a multiple of 32."""
    tile = check_tile(tile)
    if tile == "auto":
        return DEFAULT_TILE if height * width > AUTO_TILE_PIXELS else None
    return tile


def extension(tile):
    return {TILE_TAG: struct.pack(">II", tile, tile)} if tile else {}


def tile_from_header(header):
    value = header.extensions.get(TILE_TAG)
    if value is None:
        return None
    if len(value) != 8:
        raise BitstreamError("tile extension must hold 8 bytes")
    tile_h, tile_w = struct.unpack(">II", value)
    if tile_h != tile_w or tile_h < 32 or tile_h % 32:
        raise BitstreamError(f"invalid tile size {tile_h}x{tile_w} in the header")
    return tile_h


def _padded(array, multiple=32):
    height, width = array.shape[:2]
    pad_h, pad_w = -height % multiple, -width % multiple
    return np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _tiles(height, width, tile):
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            yield y, x, min(tile, height - y), min(tile, width - x)


def encode_codes(functions, array, iterations, tile, bits):
    """Codes ``int8[T, H'/16, W'/16, bits]`` of ``array``, one tile at a time."""
    padded = _padded(array)
    height, width = padded.shape[:2]
    codes = np.empty((iterations, height // 16, width // 16, bits), np.int8)
    for y, x, h, w in _tiles(height, width, tile):
        block = np.asarray(functions.encode_codes(padded[y:y + h, x:x + w],
                                                  np.int32(iterations)))
        codes[:, y // 16:(y + h) // 16, x // 16:(x + w) // 16] = block
    return codes


def decode(functions, codes, height, width, tile, every_iteration=False):
    """Decode tile by tile: ``uint8[H, W, 3]`` (or ``[T, H, W, 3]`` for every iteration)."""
    codes = np.asarray(codes, np.int8)
    pad_h, pad_w = codes.shape[1] * 16, codes.shape[2] * 16
    count = codes.shape[0] if every_iteration else 1
    out = np.empty((count, pad_h, pad_w, 3), np.uint8)
    for y, x, h, w in _tiles(pad_h, pad_w, tile):
        block = codes[:, y // 16:(y + h) // 16, x // 16:(x + w) // 16]
        if every_iteration:
            out[:, y:y + h, x:x + w] = functions.decode_all(block, np.int32(h), np.int32(w))
        else:
            out[0, y:y + h, x:x + w] = functions.decode(block, np.int32(h), np.int32(w))
    out = out[:, :height, :width]
    return out if every_iteration else out[0]
