"""The fuzz targets, shared by the atheris scripts and ``tests/test_fuzz_smoke.py``.

Each ``check_*`` function takes one fuzz input (bytes).  It returns normally when the
package gave a valid result *or* raised one of its own errors
(:class:`tfrnncomp.errors.TfrnncompError`); any other exception, including an
``AssertionError`` from a broken invariant, is a bug.

Input layouts (the first bytes steer the harness so the fuzzer can learn them):

* ``check_bitstream`` (a): ``control u8 | file``.  control bit 0: recompute the
  header and chunk CRCs of ``file`` before parsing (gets the fuzzer past the
  checksums); bit 1: ``strict=True``.
* ``check_entropy`` (b): ``h u8 | w u8 | depth u8 | previous u8 | bits of the
  previous iterations | payload``; the shape is ``(h % 8 + 1, w % 8 + 1,
  depth % 32 + 1)``, ``previous % 3`` earlier iterations (t-1 first) follow as
  packed bits (zero-filled when the input is short), then the chunk payload.
* ``check_codec`` (c): ``control u8 | file``.  control bit 0 as in (a); bits 1-2:
  ``iterations=`` of ``Codec.decompress`` (0 -> all whole chunks, else 1..3); bit 3:
  ``Codec.decompress_progressive`` instead (every prefix in one pass).
* ``check_binaryrnn`` (d): ``h u8 | w u8 | t u8 | flags u8 | signs of earlier iterations
  | active mask | payload`` (:func:`parse_binaryrnn_input`), decoded as one iteration of
  the shipped BinaryRNN with shape ``(h % 8 + 1, w % 8 + 1, 32)``.
"""

import math
import struct
import zlib

import numpy as np

from tfrnncomp.format import container as bitstream
from tfrnncomp.errors import TfrnncompError

#: pixel limit of the codec harness (padded size too): every decode has <= 64 code positions
CODEC_MAX_PIXELS = 128 * 128
MAX_SIDE = 8
MAX_DEPTH = 32

_FIXED_SIZE = 23  # header._FIXED.size: the fixed header fields after the model id


def fix_crcs(data):
    """Recompute the header CRC and every whole chunk's CRC, reading the layout leniently.

    Nothing is validated: bytes that do not describe a header or chunk are left alone.
    """
    data = bytearray(data)
    n = len(data)
    if n < 7:
        return bytes(data)
    fixed_at = 7 + data[6]
    if n < fixed_at + _FIXED_SIZE:
        return bytes(data)
    iterations = data[fixed_at + 19]
    ext_len = struct.unpack_from(">H", data, fixed_at + 21)[0]
    crc_at = fixed_at + _FIXED_SIZE + ext_len
    if n < crc_at + 4:
        return bytes(data)
    struct.pack_into(">I", data, crc_at, zlib.crc32(data[:crc_at]))
    pos = crc_at + 4
    for index in range(iterations):
        if n - pos < 8:
            break
        size = struct.unpack_from(">I", data, pos)[0]
        if n - pos < 8 + size:
            break
        payload = bytes(data[pos + 4:pos + 4 + size])
        struct.pack_into(">I", data, pos + 4 + size,
                         zlib.crc32(payload, zlib.crc32(bytes((index & 0xFF,)))))
        pos += 8 + size
    return bytes(data)


def _split_control(data):
    if not data:
        return 0, b""
    control, body = data[0], bytes(data[1:])
    if control & 1:
        body = fix_crcs(body)
    return control, body


def _hint(count):
    """A loop whose trip count (bucketed by libFuzzer) tells inputs apart.

    Coverage guidance sees only Python edges; the range decoder and the model are native
    code, so without hints every shape and outcome looks alike and the fuzzer drops them.
    """
    for _ in range(count):
        pass


# -- (a) the bitstream parser ----------------------------------------------------------------
def check_bitstream(data):
    control, body = _split_control(data)
    strict = bool(control & 2)
    try:
        container = bitstream.read(body, strict=strict)
    except TfrnncompError:
        return
    header, chunks = container.header, container.chunks
    limit = bitstream.DEFAULT_MAX_PIXELS
    assert header.pixels <= limit and header.pad_height * header.pad_width <= limit
    assert 1 <= len(chunks) <= header.iterations <= bitstream.MAX_ITERATIONS
    assert container.complete == (len(chunks) == header.iterations)
    assert container.complete or not strict
    assert sum(len(c) for c in chunks) + 8 * len(chunks) <= len(body)
    for chunk in chunks:
        assert isinstance(chunk, bytes) and len(chunk) <= header.max_chunk_bytes
        if header.entropy_mode == bitstream.EntropyMode.RAW:
            assert len(chunk) == header.raw_chunk_bytes
    # what the CLI's `info` does with a parsed file
    bitstream.info_dict(container)
    # a parsed file writes back to an equivalent file
    rewritten = bitstream.write(header, chunks) if container.complete else None
    if rewritten is not None:
        again = bitstream.read(rewritten, strict=True)
        assert again.header == header and again.chunks == chunks


# -- (b) the context-mode entropy decoder ---------------------------------------------------
_TABLE = None


def _table():
    global _TABLE
    if _TABLE is None:
        from tfrnncomp.entropy.coding.rangecoder import BinaryTable

        _TABLE = BinaryTable()
    return _TABLE


def entropy_input(shape, payload, previous=()):
    """The (b) input that decodes ``payload`` of ``shape`` after ``previous`` (t-1 first)."""
    h, w, depth = shape
    assert 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE and 1 <= depth <= MAX_DEPTH
    head = bytes((h - 1, w - 1, depth - 1, len(previous)))
    bits = b"".join(np.packbits(np.asarray(p, np.uint8).reshape(-1)).tobytes()
                    for p in previous)
    return head + bits + bytes(payload)


def parse_entropy_input(data):
    data = bytes(data).ljust(4, b"\0")
    shape = (data[0] % MAX_SIDE + 1, data[1] % MAX_SIDE + 1, data[2] % MAX_DEPTH + 1)
    count = math.prod(shape)
    size = math.ceil(count / 8)
    pos, previous = 4, []
    for _ in range(data[3] % 3):
        packed = data[pos:pos + size].ljust(size, b"\0")
        pos += size
        previous.append(np.unpackbits(np.frombuffer(packed, np.uint8), count=count)
                        .reshape(shape))
    previous += [None] * (2 - len(previous))
    return shape, tuple(previous), data[pos:]


def check_entropy(data):
    from tfrnncomp.entropy.coding import context

    shape, previous, payload = parse_entropy_input(data)
    _hint(shape[0])
    _hint(shape[1])
    _hint(shape[2])
    _hint(sum(p is not None for p in previous))
    _hint(len(payload))
    try:
        out = context.decode(_table(), payload, shape, previous)
    except TfrnncompError as error:
        _hint(len(str(error)) // 8)
        return
    assert isinstance(out, np.ndarray) and out.shape == shape and out.dtype == np.uint8
    assert ((out == 0) | (out == 1)).all()
    _hint(int(out.sum()).bit_length())


# -- (c) the whole decoder -----------------------------------------------------------------
def make_tiny_codec():
    """The tests' tiny untrained model (helpers.TINY_CONFIG) with fixed weights (seed 0)."""
    import keras

    from tests.helpers import TINY_CONFIG
    from tfrnncomp.codec import Codec
    from tfrnncomp.model.network import RNNCompressionModel

    keras.utils.set_random_seed(0)
    model = RNNCompressionModel(TINY_CONFIG).build_for_inference()
    return Codec(model, max_pixels=CODEC_MAX_PIXELS)


def check_codec(codec, data):
    control, body = _split_control(data)
    iterations = (control >> 1) & 3 or None
    progressive = bool(control & 8)
    try:
        if progressive:
            images = codec.decompress_progressive(body)
        else:
            images = [codec.decompress(body, iterations)]
    except TfrnncompError:
        return
    container = bitstream.read(body, max_pixels=codec.max_pixels)
    header = container.header
    # hints: keep decodable inputs of every size, mode, tiling and length in the corpus
    _hint(header.height)
    _hint(header.width)
    _hint(header.channels)
    _hint(int(header.entropy_mode))
    _hint(len(header.extensions))
    _hint(len(images))
    _hint(iterations or len(container.chunks))
    assert header.pixels <= codec.max_pixels
    assert len(images) == (len(container.chunks) if progressive else 1)
    expected = (header.height, header.width) + ((3,) if header.channels == 3 else ())
    for image in images:
        assert isinstance(image, np.ndarray) and image.dtype == np.uint8
        assert image.shape == expected, (image.shape, expected)
    # the model decodes the padded size: it must be what the image needs, no more
    # (else a 1x1 image may make the decoder allocate max_pixels of canvas and states)
    assert (header.pad_height, header.pad_width) == (-(-header.height // 32) * 32,
                                                     -(-header.width // 32) * 32), header


# -- (d) the BinaryRNN entropy decoder ------------------------------------------------------
_NET = None


def _binaryrnn_net():
    """The shipped integer BinaryRNN (``zoo/<default>/binaryrnn.bin``), loaded once."""
    global _NET
    if _NET is None:
        from tfrnncomp.model import zoo
        from tfrnncomp.entropy.coding import integer_net

        _NET = integer_net.IntegerNet.load(zoo.entropy_model_path(zoo.DEFAULT_MODEL))
    return _NET


def binaryrnn_input(shape, t, payload, previous=(), active=None):
    """The (d) input that decodes ``payload`` as 0-based iteration ``t`` of ``shape``."""
    h, w = shape
    assert 1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE and 0 <= t < 16
    head = bytes((h - 1, w - 1, t, len(previous) | (2 if active is not None else 0) << 1))
    signs = b"".join(np.packbits(np.asarray(p).reshape(-1) > 0).tobytes() for p in previous)
    mask = b"" if active is None else np.packbits(np.asarray(active, bool)).tobytes()
    return head + signs + mask + bytes(payload)


def parse_binaryrnn_input(data, depth=MAX_DEPTH):
    """``(shape (h, w, depth), t, previous int64[h, w, 2 depth], active or None, payload)``.

    Byte 3: bits 0-1 the number of earlier iterations given (at most ``t``), bit 2 an
    active mask; then the earlier iterations' signs (t-1 first, 1 bit per code), the mask
    (1 bit per position), the payload.
    """
    data = bytes(data).ljust(4, b"\0")
    h, w, t = data[0] % MAX_SIDE + 1, data[1] % MAX_SIDE + 1, data[2] % 16
    count = h * w * depth
    size, pos = math.ceil(count / 8), 4
    previous = np.zeros((2, h, w, depth), np.int64)
    for k in range(min(data[3] & 3, t, 2)):
        packed = data[pos:pos + size].ljust(size, b"\0")
        pos += size
        bits = np.unpackbits(np.frombuffer(packed, np.uint8), count=count)
        previous[k] = bits.reshape(h, w, depth).astype(np.int64) * 2 - 1
    active = None
    if data[3] & 4:
        size_mask = math.ceil(h * w / 8)
        packed = data[pos:pos + size_mask].ljust(size_mask, b"\0")
        pos += size_mask
        active = np.unpackbits(np.frombuffer(packed, np.uint8), count=h * w).reshape(h, w)
        active = active.astype(bool)
    return (h, w, depth), t, np.concatenate(list(previous), axis=-1), active, data[pos:]


def check_binaryrnn(data):
    from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder

    net = _binaryrnn_net()
    shape, t, previous, active, payload = parse_binaryrnn_input(data, net.config["bits"])
    _hint(shape[0])
    _hint(shape[1])
    _hint(t)
    _hint(0 if active is None else 1 + int(active.sum()))
    _hint(len(payload))
    try:
        out = binaryrnn_coder.decode_iteration(net, _table(), payload, t, previous, shape,
                                               active)
    except TfrnncompError as error:
        _hint(len(str(error)) // 8)
        return
    assert isinstance(out, np.ndarray) and out.shape == shape
    expected = np.ones(shape[:2], bool) if active is None else active
    assert np.isin(out[expected], (-1, 1)).all()
    assert (out[~expected] == 0).all()
    _hint(int((out > 0).sum()).bit_length())
