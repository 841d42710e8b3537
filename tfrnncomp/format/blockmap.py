"""The per-block iteration map of spatially adaptive files (extension ``Tag.ITERATION_MAP``).

Spatially adaptive bit allocation (Johnston et al. 2018, "Improved lossy image
compression with priming and spatially adaptive bit rates for recurrent
networks", Section 3.3) stops the iterations of each block of ``B x B`` code
positions (one code position is 16x16 pixels, so ``B = 2`` gives 32x32-pixel
blocks) once it is good enough.  ``M[by, bx]`` in ``1..T`` is the number of
iterations block ``(by, bx)`` received; a block is active at iteration ``t``
(1-based) iff ``M >= t``, so a block that stopped stays stopped.  Inactive
positions carry no bits: their codes are 0 for the decoder, and their pixels
keep the previous reconstruction (:mod:`tfrnncomp.runtime.graph`).

Extension value (big-endian)::

    format u8 | block u8 | rows u16 | cols u16 | raw deflate (RFC 1951) of the map

``format`` 0 stores one byte per block (``M``); format 1 packs two blocks a
byte (``M - 1`` in 4 bits, high nibble first; only if ``T <= 16``).  The
writer keeps the shorter.  ``rows = ceil(h / B)``, ``cols = ceil(w / B)`` for
the code grid ``h x w``.  Only the standard library and numpy are used here.
"""

import struct
import zlib

import numpy as np

from tfrnncomp.errors import BitstreamError

#: default block size in code positions (2 -> 32x32 pixels)
DEFAULT_BLOCK = 2
_HEAD = struct.Struct(">BBHH")
_BYTES, _NIBBLES = 0, 1


def grid_shape(code_rows, code_cols, block):
    """``(rows, cols)`` of the map of a code grid ``code_rows x code_cols``."""
    return -(-code_rows // block), -(-code_cols // block)


def _payload(values, fmt):
    flat = values.reshape(-1).astype(np.uint8)
    if fmt == _NIBBLES:
        nibbles = np.zeros(flat.size + flat.size % 2, np.uint8)
        nibbles[:flat.size] = flat - 1
        flat = (nibbles[0::2] << 4) | nibbles[1::2]
    return flat.tobytes()


def encode(block, iteration_map):
    """The extension value of a map ``uint8[rows, cols]`` with values >= 1."""
    values = np.asarray(iteration_map)
    if values.ndim != 2 or values.size == 0 or values.min() < 1 or values.max() > 255:
        raise ValueError("iteration map must be a non-empty 2-D array of values 1..255")
    if not 1 <= int(block) <= 255 or max(values.shape) > 0xFFFF:
        raise ValueError(f"block {block} or map shape {values.shape} out of range")
    formats = [_BYTES] + ([_NIBBLES] if values.max() <= 16 else [])
    options = [_HEAD.pack(fmt, int(block), *values.shape)
               + _deflate(_payload(values, fmt)) for fmt in formats]
    return min(options, key=len)


def _deflate(data):
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: no zlib header
    return deflater.compress(data) + deflater.flush()


def _inflate(data, size):
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(data, size + 1)
    except zlib.error as error:
        raise BitstreamError(f"iteration map is not valid deflate data ({error})") from None
    if len(raw) != size or not inflater.eof or inflater.unused_data:
        raise BitstreamError(f"iteration map holds {len(raw)} bytes (or trailing data), "
                             f"expected {size}")
    return np.frombuffer(raw, np.uint8)


def decode(value, code_shape, iterations):
    """``(block, map uint8[rows, cols])`` of an extension value, validated against the header.

    Raises :class:`BitstreamError` if the block size, the map's shape or its values
    (1..iterations, with ``iterations`` reached) do not fit the header.
    """
    if len(value) < _HEAD.size:
        raise BitstreamError("iteration map extension is shorter than its 6-byte head")
    fmt, block, rows, cols = _HEAD.unpack_from(value)
    if fmt not in (_BYTES, _NIBBLES):
        raise BitstreamError(f"unknown iteration map format {fmt}")
    if block < 1:
        raise BitstreamError("iteration map block size must be >= 1")
    expected = grid_shape(code_shape[0], code_shape[1], block)
    if (rows, cols) != expected:
        raise BitstreamError(f"iteration map is {rows}x{cols}, expected {expected[0]}x"
                             f"{expected[1]} for blocks of {block} code positions")
    count = rows * cols
    if fmt == _BYTES:
        values = _inflate(value[_HEAD.size:], count)
    else:
        packed = _inflate(value[_HEAD.size:], (count + 1) // 2)
        values = (np.stack([packed >> 4, packed & 15], -1).reshape(-1)[:count] + 1)
    values = values.reshape(rows, cols).astype(np.uint8)
    if values.min() < 1 or values.max() != iterations:
        raise BitstreamError(f"iteration map values span {values.min()}..{values.max()}, "
                             f"expected 1..{iterations} reaching {iterations}")
    return block, values


def active_positions(iteration_map, block, code_shape, iteration):
    """Bool ``[h, w]``: the code positions active at 1-based ``iteration``."""
    active = np.asarray(iteration_map) >= iteration
    active = np.repeat(np.repeat(active, block, axis=0), block, axis=1)
    return active[:code_shape[0], :code_shape[1]]


def position_map(iteration_map, block, code_shape):
    """The map at code-position resolution, ``uint8[h, w]``."""
    values = np.repeat(np.repeat(np.asarray(iteration_map), block, axis=0), block, axis=1)
    return values[:code_shape[0], :code_shape[1]]


def pack_active(codes, active):
    """Raw payload of one iteration: the bits of the active positions only (+1 -> 1)."""
    bits = np.asarray(codes)[np.asarray(active, bool)]
    if not np.all((bits == 1) | (bits == -1)):
        raise ValueError("active codes must be -1 or +1")
    return np.packbits((bits == 1).reshape(-1), bitorder="big").tobytes()


def unpack_active(payload, active, depth):
    """Inverse of :func:`pack_active`: codes ``int8[h, w, depth]``, 0 where inactive."""
    active = np.asarray(active, bool)
    count = int(active.sum()) * depth
    if len(payload) != -(-count // 8):
        raise BitstreamError(f"code payload is {len(payload)} bytes, expected {-(-count // 8)} "
                             f"for {int(active.sum())} active positions")
    bits = np.unpackbits(np.frombuffer(payload, np.uint8), count=count, bitorder="big")
    codes = np.zeros(active.shape + (depth,), np.int8)
    codes[active] = (bits.astype(np.int8) * 2 - 1).reshape(-1, depth)
    return codes


def summary(iteration_map, block):
    """JSON-friendly facts about a map (for ``tfrnncomp info``)."""
    values = np.asarray(iteration_map)
    counts = np.bincount(values.reshape(-1), minlength=int(values.max()) + 1)[1:]
    return {"block": int(block), "rows": int(values.shape[0]), "cols": int(values.shape[1]),
            "mean_iterations": round(float(values.mean()), 4),
            "blocks_stopping_after": [int(c) for c in counts]}
