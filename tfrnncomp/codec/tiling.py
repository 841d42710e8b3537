"""Tiled coding of large images: bounded memory, one progressive file.

The model's activations grow with the image (the last decoder RNN runs at half
resolution), so a 4000x3000 photo coded in one piece needs several GB.  Large
images are therefore coded in tiles of ``tile x tile`` pixels (a multiple of
:data:`~tfrnncomp.format.extensions.TILE_MULTIPLE`) of the padded image.  A tile's
codes are exactly its block of the whole image's code tensor, because the model
maps every ``block_size x block_size`` pixels (16x16) to one code position
(Toderici et al. 2017, Figure 1): the chunks, the entropy coder and
progressive decoding are the same as untiled, and the header only records
the tile size (extension ``Tag.TILE`` of :mod:`tfrnncomp.format.extensions`), so the
decoder decodes tile by tile too.  Tiles see no context across their borders; the
evaluation measures what that costs (``tools/bench/bench_speed.py --tile``).
"""

import numpy as np

from tfrnncomp.errors import ConfigError, TfrnncompError
from tfrnncomp.format.extensions import TILE_MULTIPLE

#: images with more pixels than this are tiled by default
AUTO_TILE_PIXELS = 2048 * 2048
DEFAULT_TILE = 1024


def check_tile(tile):
    """``tile`` if it is ``"auto"``, ``None``/0 (never tile) or a positive multiple of
    :data:`~tfrnncomp.format.extensions.TILE_MULTIPLE`;
    else :class:`ConfigError` (a ValueError)."""
    if isinstance(tile, str) and tile == "auto":
        return tile
    if tile is None or (isinstance(tile, (int, np.integer)) and not isinstance(tile, bool)
                        and (tile == 0 or (tile >= TILE_MULTIPLE and tile % TILE_MULTIPLE == 0))):
        return None if not tile else int(tile)
    raise ConfigError(f"tile size must be 'auto', None or a positive multiple of "
                      f"{TILE_MULTIPLE}, got {tile!r}")


def choose_tile(height, width, tile="auto"):
    """The tile size to use: ``None`` (untiled) or a multiple of ``TILE_MULTIPLE``."""
    tile = check_tile(tile)
    if tile == "auto":
        return DEFAULT_TILE if height * width > AUTO_TILE_PIXELS else None
    return tile


def _padded(array, multiple):
    height, width = array.shape[:2]
    pad_h, pad_w = -height % multiple, -width % multiple
    return np.pad(array, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def _tiles(height, width, tile):
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            yield y, x, min(tile, height - y), min(tile, width - x)


def _code_block(y, x, h, w, block_size):
    """The code positions of the ``h x w`` pixels at ``(y, x)``: a slice of rows and of
    columns of the code grid."""
    return (slice(y // block_size, (y + h) // block_size),
            slice(x // block_size, (x + w) // block_size))


def encode_codes(backend, layout, array, iterations, tile):
    """Codes ``int8[T, rows, cols, code_depth]`` of ``array`` on the code grid of the model's
    :class:`~tfrnncomp.codec.layout.FileLayout` ``layout``, one tile at a time (``tile``
    None: the whole image in one piece)."""
    if tile is None:
        return np.asarray(backend.encode_codes(array, np.int32(iterations)))
    padded = _padded(array, layout.pad_multiple)
    height, width = padded.shape[:2]
    rows, cols = height // layout.block_size, width // layout.block_size
    codes = np.empty((iterations, rows, cols, layout.code_depth), np.int8)
    for y, x, h, w in _tiles(height, width, tile):
        block = np.asarray(backend.encode_codes(padded[y:y + h, x:x + w],
                                                np.int32(iterations)))
        codes[(slice(None),) + _code_block(y, x, h, w, layout.block_size)] = block
    return codes


def decode(backend, layout, codes, height, width, tile, every_iteration=False):
    """Decode tile by tile (``tile`` None: in one piece) codes of the model whose
    :class:`~tfrnncomp.codec.layout.FileLayout` is ``layout``: ``uint8[H, W, 3]`` (or
    ``[T, H, W, 3]`` for every iteration)."""
    codes = np.asarray(codes, np.int8)
    if tile is None:
        run = backend.decode_all if every_iteration else backend.decode
        return np.asarray(run(codes, np.int32(height), np.int32(width)))
    pad_h, pad_w = codes.shape[1] * layout.block_size, codes.shape[2] * layout.block_size
    count = codes.shape[0] if every_iteration else 1
    out = np.empty((count, pad_h, pad_w, 3), np.uint8)
    for y, x, h, w in _tiles(pad_h, pad_w, tile):
        block = codes[(slice(None),) + _code_block(y, x, h, w, layout.block_size)]
        if every_iteration:
            out[:, y:y + h, x:x + w] = backend.decode_all(block, np.int32(h), np.int32(w))
        else:
            out[0, y:y + h, x:x + w] = backend.decode(block, np.int32(h), np.int32(w))
    out = out[:, :height, :width]
    return out if every_iteration else out[0]


def check_untiled(height, width, tile, what):
    """Refuse ``what`` for an image of ``height x width`` that ``tile`` would tile."""
    if choose_tile(height, width, tile) is not None:
        raise TfrnncompError(
            f"{what} does not support tiled images ({width}x{height} is above "
            f"{AUTO_TILE_PIXELS} pixels or a tile size was set); code it without {what}")
