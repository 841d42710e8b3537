"""Bitstream v1: the ``.trc`` container for the codec's progressive codes.

Layout (all integers big-endian)::

    magic "TRNC" | version u8 | flags u8 | model_id (u8 len + ASCII)
    height u32 | width u32 | channels u8 | pad_height u32 | pad_width u32
    block_size u8 | code_depth u8 | iterations u8 | entropy u8
    ext_len u16 + TLV records (u8 tag, u16 len, value) | header_crc u32
    then `iterations` chunks: u32 length | payload | u32 crc32(index byte + payload)

The chunk CRC covers the 0-based chunk index, so reordered chunks fail.
A file cut inside a chunk still decodes its leading whole chunks (progressive).
The extension tags are registered in :mod:`tfrnncomp.format.extensions`.
Only the standard library and numpy are used here.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import struct
import zlib
from typing import Sequence

import numpy as np

from tfrnncomp.errors import BitstreamError, ChecksumError, TruncatedError
from tfrnncomp.format import blockmap
from tfrnncomp.format.header import (DEFAULT_MAX_PIXELS, FORMAT_VERSION, MAGIC,  # noqa: F401
                                     MAX_ITERATIONS, MAX_MODEL_ID_BYTES, RANGE_FLOOR_SLACK,
                                     RANGE_PRECISION, EntropyMode, Header, decode_header,
                                     encode_header)

__all__ = [
    "MAGIC", "FILE_EXTENSION", "FORMAT_VERSION", "MAX_ITERATIONS", "DEFAULT_MAX_PIXELS",
    "MAX_MODEL_ID_BYTES", "RANGE_PRECISION", "RANGE_FLOOR_SLACK",
    "EntropyMode", "Header", "Container", "encode_header", "decode_header",
    "CHUNK_OVERHEAD", "write", "prefix_sizes", "read", "check_chunk_floors", "pack_codes",
    "unpack_codes", "info_dict",
]

#: the file name extension of ``.trc`` files
FILE_EXTENSION = ".trc"
_U32 = struct.Struct(">I")
#: bytes each chunk adds to its payload: u32 length before it, u32 crc after it
CHUNK_OVERHEAD = 2 * _U32.size


def _chunk_crc(index: int, payload) -> int:
    return zlib.crc32(payload, zlib.crc32(bytes((index,))))


def write(header: Header, chunks: Sequence[bytes]) -> bytes:
    """Serialise a header and its ``header.iterations`` chunk payloads."""
    head = encode_header(header)
    if len(chunks) != header.iterations:
        raise ValueError(f"header declares {header.iterations} iterations, got {len(chunks)} chunks")
    parts = [head]
    for i, payload in enumerate(chunks):
        payload = bytes(payload)
        size = len(payload)
        if header.entropy_mode == EntropyMode.RAW and size != header.raw_chunk_bytes_at(i):
            raise ValueError(f"chunk {i + 1}: RAW chunks must be {header.raw_chunk_bytes_at(i)} "
                             f"bytes, got {size}")
        if size > header.max_chunk_bytes:
            raise ValueError(f"chunk {i + 1}: {size} bytes, above the bound of "
                             f"{header.max_chunk_bytes}")
        parts += [_U32.pack(size), payload, _U32.pack(_chunk_crc(i, payload))]
    return b"".join(parts)


def prefix_sizes(header: Header, chunks: Sequence[bytes]) -> np.ndarray:
    """Whole-file size in bytes of every prefix of ``chunks`` under ``header``: the file of
    ``k`` iterations is the header and the first ``k`` chunks (the header's size does not
    depend on its iteration count)."""
    return len(encode_header(header)) + np.cumsum([len(chunk) + CHUNK_OVERHEAD
                                                   for chunk in chunks])


@dataclasses.dataclass
class Container:
    """A parsed file: its header, the whole chunks read, and whether all were present."""

    header: Header
    chunks: list
    complete: bool


def read(data, *, max_pixels: int = DEFAULT_MAX_PIXELS, strict: bool = False) -> Container:
    """Parse a whole file, tolerating a cut inside a chunk unless ``strict``."""
    buf = memoryview(data).cast("B")
    header, pos = decode_header(buf, max_pixels=max_pixels)
    n, total, bound = len(buf), header.iterations, header.max_chunk_bytes
    chunks = []
    for i in range(total):
        where = f"chunk {i + 1} of {total}"
        if n - pos >= 4:
            size = _U32.unpack_from(buf, pos)[0]
            if header.entropy_mode == EntropyMode.RAW and size != header.raw_chunk_bytes_at(i):
                raise BitstreamError(f"{where}: length {size}, expected "
                                     f"{header.raw_chunk_bytes_at(i)} for RAW codes")
            if size > bound:
                raise BitstreamError(f"{where}: length {size} is above the bound of {bound}")
        if n - pos < 4 or n - pos < CHUNK_OVERHEAD + size:
            if strict or not chunks:
                raise TruncatedError(f"file ends inside {where}")
            return Container(header, chunks, complete=False)
        payload = buf[pos + 4:pos + 4 + size]
        if _U32.unpack_from(buf, pos + 4 + size)[0] != _chunk_crc(i, payload):
            raise ChecksumError(f"{where}: checksum mismatch")
        chunks.append(bytes(payload))
        pos += CHUNK_OVERHEAD + size
    if pos != n:
        raise BitstreamError(f"{n - pos} bytes of trailing data")
    return Container(header, chunks, complete=True)


def check_chunk_floors(container: Container) -> None:
    """BitstreamError if a chunk is shorter than any encoding of its codes
    (:meth:`Header.min_chunk_bytes_at`): decoders call this before any decoding work."""
    header, total = container.header, container.header.iterations
    for i, chunk in enumerate(container.chunks):
        floor = header.min_chunk_bytes_at(i)
        if len(chunk) < floor:
            raise BitstreamError(f"chunk {i + 1} of {total}: length {len(chunk)} is below the "
                                 f"{floor} bytes any encoding of its codes takes")


def pack_codes(codes: np.ndarray) -> bytes:
    """Pack an (h, w, d) array of -1/+1 values into bits (+1 -> 1), C order, MSB first."""
    arr = np.asarray(codes)
    if arr.ndim != 3:
        raise ValueError(f"codes must have shape (h, w, d), got {arr.shape}")
    positive = arr == 1
    if not np.all(positive | (arr == -1)):
        raise ValueError("codes must contain only -1 and +1")
    return np.packbits(positive.reshape(-1), bitorder="big").tobytes()


def unpack_codes(payload: bytes, shape) -> np.ndarray:
    """Inverse of :func:`pack_codes`: an int8 array of -1/+1 with the given shape."""
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"shape must be three positive sizes, got {shape}")
    count = math.prod(shape)
    expected = math.ceil(count / 8)
    if len(payload) != expected:
        raise BitstreamError(f"code payload is {len(payload)} bytes, expected {expected} "
                             f"for shape {shape}")
    bits = np.unpackbits(np.frombuffer(payload, dtype=np.uint8), count=count, bitorder="big")
    return (bits.astype(np.int8) * 2 - 1).reshape(shape)


_INFO_FIELDS = ("model_id", "height", "width", "channels", "pad_height", "pad_width",
                "block_size", "code_depth")


def info_dict(container: Container) -> dict:
    """JSON-serialisable summary of a container (for ``tfrnncomp info``)."""
    h = container.header
    sizes = [len(c) for c in container.chunks]
    header_bytes = len(encode_header(h))
    bpp = [round(8 * total / h.pixels, 6) for total in itertools.accumulate(sizes)]
    info = {"format_version": FORMAT_VERSION}
    info.update({name: getattr(h, name) for name in _INFO_FIELDS})
    info.update(
        code_shape=list(h.code_shape), entropy_mode=h.entropy_mode.name.lower(),
        iterations_declared=h.iterations, iterations_present=len(sizes),
        complete=container.complete, header_bytes=header_bytes, chunk_bytes=sizes,
        total_bytes=header_bytes + sum(sizes) + CHUNK_OVERHEAD * len(sizes),
        bits_per_pixel_after_chunk=bpp,
        extensions={str(tag): value.hex() for tag, value in h.extensions.items()},
    )
    if h.iteration_map is not None:
        info["iteration_map"] = blockmap.summary(h.iteration_map[1], h.iteration_map[0])
    return info
