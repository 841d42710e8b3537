"""The header of a ``.trc`` file (format version 1): everything a reader needs before the
first chunk, and its serialisation (layout in :mod:`tfrnncomp.format.container`).

Only the standard library and numpy are used here.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import struct
import zlib
from collections.abc import Mapping
from typing import Iterator, Optional

from tfrnncomp.errors import (BitstreamError, ChecksumError, LimitError, TruncatedError,
                              UnsupportedVersionError)
from tfrnncomp.format import blockmap
from tfrnncomp.format.extensions import Tag

MAGIC = b"TRNC"
FORMAT_VERSION = 1
MAX_ITERATIONS = 64
DEFAULT_MAX_PIXELS = 1 << 26
MAX_MODEL_ID_BYTES = 200
#: probabilities of range-coded bits are multiples of 2**-RANGE_PRECISION in
#: [2**-RANGE_PRECISION, 1 - 2**-RANGE_PRECISION]: a coded bit costs at least
#: log2(2**p / (2**p - 1)) bits, which bounds decode work per payload byte
RANGE_PRECISION = 12
#: bytes a range-coded payload may fall below its information floor (coder rounding)
RANGE_FLOOR_SLACK = 2

# height, width, channels, pad_height, pad_width, block, depth, iterations, entropy, ext_len
_FIXED = struct.Struct(">IIBIIBBBBH")
_U32 = struct.Struct(">I")
_TLV = struct.Struct(">BH")
_U32_MAX = 0xFFFFFFFF


class EntropyMode(enum.IntEnum):
    """How chunk payloads are coded: packed bits, or range-coded with a probability model."""

    RAW = 0
    BINARYRNN = 1  # integer BinaryRNN (tfrnncomp/entropy/BINARYRNN.md), id in Tag.ENTROPY_MODEL
    CONTEXT = 2  # adaptive context model (tfrnncomp/entropy/coding/context.py)


class _FrozenMap(Mapping):
    """Immutable, hashable ``{tag: bytes}`` mapping used for header extensions."""
    __slots__ = ("_items",)

    def __init__(self, source=()):
        pairs = source.items() if isinstance(source, Mapping) else source
        items = {}
        for tag, value in pairs:
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise TypeError(f"extension {tag!r} value must be bytes, got {type(value).__name__}")
            items[tag] = bytes(value)
        self._items = tuple(sorted(items.items()))

    def __getitem__(self, key):
        for tag, value in self._items:
            if tag == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[int]:
        return (tag for tag, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __repr__(self) -> str:
        return repr(dict(self._items))


@dataclasses.dataclass(frozen=True)
class Header:
    """Everything a reader needs before the first chunk."""

    model_id: str
    height: int
    width: int
    channels: int
    pad_height: int
    pad_width: int
    iterations: int
    entropy_mode: EntropyMode = EntropyMode.RAW
    block_size: int = 16
    code_depth: int = 32
    extensions: Mapping[int, bytes] = dataclasses.field(default_factory=_FrozenMap)

    def __post_init__(self):
        if not isinstance(self.extensions, _FrozenMap):
            object.__setattr__(self, "extensions", _FrozenMap(self.extensions))
        if not isinstance(self.entropy_mode, EntropyMode):
            try:  # unknown values are kept so validate() can report them
                object.__setattr__(self, "entropy_mode", EntropyMode(self.entropy_mode))
            except ValueError:
                pass

    @property
    def pixels(self) -> int:
        """Number of pixels of the original image (height * width)."""
        return self.height * self.width

    @property
    def code_shape(self) -> tuple:
        """Shape ``(rows, cols, depth)`` of one iteration's binary code."""
        return (self.pad_height // self.block_size, self.pad_width // self.block_size,
                self.code_depth)

    @property
    def raw_chunk_bytes(self) -> int:
        """Size in bytes of one iteration's code packed as raw bits."""
        return math.ceil(math.prod(self.code_shape) / 8)

    @functools.cached_property
    def iteration_map(self):
        """``(block, map uint8[rows, cols])`` of a spatially adaptive file, else None.

        Validated on first use (:func:`tfrnncomp.format.blockmap.decode`): BitstreamError if bad.
        """
        value = self.extensions.get(Tag.ITERATION_MAP)
        if value is None:
            return None
        return blockmap.decode(value, self.code_shape, self.iterations)

    def active_positions(self, index: int):
        """Bool ``[h, w]`` of the code positions coded in chunk ``index`` (0-based), or None
        if every position is (a file without an iteration map)."""
        if self.iteration_map is None:
            return None
        block, values = self.iteration_map
        return blockmap.active_positions(values, block, self.code_shape, index + 1)

    def raw_chunk_bytes_at(self, index: int) -> int:
        """Size of chunk ``index`` (0-based) as raw bits: only its active positions count."""
        active = self.active_positions(index)
        if active is None:
            return self.raw_chunk_bytes
        return math.ceil(int(active.sum()) * self.code_depth / 8)

    def min_chunk_bytes_at(self, index: int) -> int:
        """Fewest payload bytes any encoding of chunk ``index`` (0-based) can take.

        Raw chunks have an exact size.  A range-coded bit costs at least
        ``log2(4096/4095)`` bits; in ``context`` mode the first row that codes anything
        is coded at probability 1/2 exactly (its counts are empty), one bit per bit.
        Shorter chunks would make the decoder run the whole image for nothing
        (a decompression bomb): :func:`check_chunk_floors` refuses them.
        """
        if self.entropy_mode == EntropyMode.RAW:
            return self.raw_chunk_bytes_at(index)
        active = self.active_positions(index)
        rows, cols, depth = self.code_shape
        if active is None:
            coded, first_row = rows * cols, cols
        else:
            per_row = active.sum(axis=1)
            coded = int(per_row.sum())
            first_row = int(per_row[per_row > 0][0]) if coded else 0
        p = 1 << RANGE_PRECISION
        bits = coded * depth * math.log2(p / (p - 1))
        if self.entropy_mode == EntropyMode.CONTEXT:
            bits = max(bits, first_row * depth)
        return max(0, int(bits // 8) - RANGE_FLOOR_SLACK)

    @property
    def max_chunk_bytes(self) -> int:
        """Largest chunk payload a reader accepts for this header."""
        if self.entropy_mode == EntropyMode.RAW:
            return self.raw_chunk_bytes
        return 4 * self.raw_chunk_bytes + 1024

    def validate(self, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> None:
        """Raise BitstreamError (LimitError for size limits) if the header is unusable.

        ``max_pixels=None`` disables the size limit (used when writing).
        """
        mid = self.model_id
        if (not isinstance(mid, str) or not 1 <= len(mid) <= MAX_MODEL_ID_BYTES
                or not all(" " <= c <= "~" for c in mid)):
            raise BitstreamError(
                f"model id must be 1..{MAX_MODEL_ID_BYTES} printable ASCII characters, got {mid!r}")
        h, w, ph, pw = self.height, self.width, self.pad_height, self.pad_width
        if not (1 <= h <= _U32_MAX and 1 <= w <= _U32_MAX):
            raise BitstreamError(f"image size {h}x{w} is invalid (each side must be 1..{_U32_MAX})")
        if max_pixels is not None and h * w > max_pixels:
            raise LimitError(f"header claims {h}x{w} pixels ({h * w}), above the limit of "
                             f"{max_pixels}; pass max_pixels= to raise it")
        if self.channels not in (1, 3):
            raise BitstreamError(f"channels must be 1 or 3, got {self.channels}")
        if not 1 <= self.block_size <= 255:
            raise BitstreamError(f"block size must be 1..255, got {self.block_size}")
        if not 1 <= self.code_depth <= 255:
            raise BitstreamError(f"code depth must be 1..255, got {self.code_depth}")
        step = 2 * self.block_size
        if (not (h <= ph <= _U32_MAX and w <= pw <= _U32_MAX)
                or ph % step or pw % step):
            raise BitstreamError(f"padded size {ph}x{pw} must be multiples of {step} "
                                 f"and at least the image size {h}x{w}")
        if max_pixels is not None and ph * pw > max_pixels:
            raise LimitError(f"header claims a padded size of {ph}x{pw} pixels ({ph * pw}), "
                             f"above the limit of {max_pixels}; pass max_pixels= to raise it")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise BitstreamError(f"iterations must be 1..{MAX_ITERATIONS}, got {self.iterations}")
        if not isinstance(self.entropy_mode, EntropyMode):
            raise BitstreamError(f"unknown entropy mode {self.entropy_mode!r}")
        for tag, value in self.extensions.items():
            if not isinstance(tag, int) or not 0 <= tag <= 255:
                raise BitstreamError(f"extension tag must be 0..255, got {tag!r}")
            if len(value) > 0xFFFF:
                raise BitstreamError(f"extension {tag} is {len(value)} bytes, above 65535")
        if len(_encode_extensions(self.extensions)) > 0xFFFF:
            raise BitstreamError("extensions take more than 65535 bytes")
        self.iteration_map  # noqa: B018 - validates the map (BitstreamError)


def _encode_extensions(extensions: Mapping[int, bytes]) -> bytes:
    return b"".join(_TLV.pack(tag, len(v)) + v for tag, v in sorted(extensions.items()))


def _parse_extensions(buf) -> _FrozenMap:
    out, pos, n = {}, 0, len(buf)
    while pos < n:
        if n - pos < _TLV.size:
            raise BitstreamError("extension block ends inside a record header")
        tag, length = _TLV.unpack_from(buf, pos)
        pos += _TLV.size
        if n - pos < length:
            raise BitstreamError(f"extension {tag} claims {length} bytes, only {n - pos} left")
        if tag in out:
            raise BitstreamError(f"duplicate extension tag {tag}")
        out[tag] = bytes(buf[pos:pos + length])
        pos += length
    return _FrozenMap(out)


def encode_header(header: Header) -> bytes:
    """Serialise a header (validated, without the pixel limit) including its CRC."""
    header.validate(max_pixels=None)
    mid = header.model_id.encode("ascii")
    ext = _encode_extensions(header.extensions)
    body = b"".join((
        MAGIC, bytes((FORMAT_VERSION, 0, len(mid))), mid,
        _FIXED.pack(header.height, header.width, header.channels, header.pad_height,
                    header.pad_width, header.block_size, header.code_depth,
                    header.iterations, int(header.entropy_mode), len(ext)),
        ext,
    ))
    return body + _U32.pack(zlib.crc32(body))


def _as_buffer(data) -> memoryview:
    return memoryview(data).cast("B")


def decode_header(data, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple:
    """Parse and validate the header at the start of ``data``.

    Returns ``(header, offset)`` where offset is the first byte after the header.
    """
    buf = _as_buffer(data)
    n = len(buf)

    def need(count: int) -> None:
        if n < count:
            raise TruncatedError(f"file ends inside the header ({n} bytes)")

    if bytes(buf[:len(MAGIC)]) != MAGIC[:min(n, len(MAGIC))]:
        raise BitstreamError("not a tfrnncomp file (bad magic)")
    need(5)
    version = buf[4]
    if version > FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"format version {version} is newer than this reader ({FORMAT_VERSION}); "
            "upgrade tfrnncomp")
    if version != FORMAT_VERSION:
        raise BitstreamError(f"unknown format version {version}")
    need(7)
    fixed_at = 7 + buf[6]
    need(fixed_at + _FIXED.size)
    (height, width, channels, pad_h, pad_w, block, depth, iterations, entropy,
     ext_len) = _FIXED.unpack_from(buf, fixed_at)
    ext_at = fixed_at + _FIXED.size
    crc_at = ext_at + ext_len
    need(crc_at + 4)
    if zlib.crc32(buf[:crc_at]) != _U32.unpack_from(buf, crc_at)[0]:
        raise ChecksumError("header checksum mismatch")
    if buf[5] != 0:
        raise BitstreamError(f"reserved flags byte is {buf[5]:#04x}, expected 0")
    try:
        model_id = bytes(buf[7:fixed_at]).decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("model id is not ASCII") from None
    try:
        mode = EntropyMode(entropy)
    except ValueError:
        raise BitstreamError(f"unknown entropy mode {entropy}") from None
    header = Header(model_id=model_id, height=height, width=width, channels=channels,
                    pad_height=pad_h, pad_width=pad_w, iterations=iterations,
                    entropy_mode=mode, block_size=block, code_depth=depth,
                    extensions=_parse_extensions(buf[ext_at:crc_at]))
    header.validate(max_pixels=max_pixels)
    return header, crc_at + 4
