"""Hostile and unusual ``.trc`` files through ``Codec.decompress``: exact error types and messages.

Real files of the tiny model (conftest.py), a 20x30 RGB image at 3 iterations, in both entropy
modes.  What tests/test_bitstream.py and tests/test_codec.py already pin is not repeated here:
they check the container alone on synthetic files, or only the error type.
"""

import dataclasses
import struct
import time
import tracemalloc

import numpy as np
import pytest

from tests.helpers import smooth_image
from tests.fuzz.harnesses import fix_crcs
from tfrnncomp.codec import tiling
from tfrnncomp.format import container as bitstream
from tfrnncomp.format.extensions import Tag
from tfrnncomp.codec import Codec
from tfrnncomp.errors import (
    BitstreamError,
    ChecksumError,
    LimitError,
    ModelMismatchError,
    TfrnncompError,
    TruncatedError,
    UnsupportedVersionError,
)

HEIGHT, WIDTH, ITERATIONS = 20, 30, 3
MODES = ["raw", "context"]


@pytest.fixture(scope="module")
def image():
    return smooth_image(HEIGHT, WIDTH, seed=21)


@pytest.fixture(scope="module")
def files(tiny_codec, image):
    """``{mode: bytes}``: the 3-iteration file in each entropy mode."""
    return {mode: tiny_codec.compress(image, ITERATIONS, entropy=mode) for mode in MODES}


@pytest.fixture(scope="module")
def prefixes(tiny_codec, files):
    """``{mode: [image after 1, 2, 3 iterations]}``."""
    return {mode: [tiny_codec.decompress(data, k) for k in range(1, ITERATIONS + 1)]
            for mode, data in files.items()}


def raises_exactly(error_type, message, function, *args, **kwargs):
    with pytest.raises(TfrnncompError) as info:
        function(*args, **kwargs)
    assert type(info.value) is error_type, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value) == message
    return info.value


def chunk_ends(data):
    """End offsets of the header and of every whole chunk, read from the length fields."""
    header, pos = bitstream.decode_header(data)
    ends = [pos]
    for _ in range(header.iterations):
        pos += 8 + struct.unpack_from(">I", data, pos)[0]
        ends.append(pos)
    assert pos == len(data)
    return ends


def header_fields(model_id):
    """``{field: (offset, size)}`` of a v1 header (big-endian), as documented in bitstream.py."""
    fixed = 7 + len(model_id)
    return {
        "magic": (0, 4), "version": (4, 1), "flags": (5, 1), "model_id_length": (6, 1),
        "model_id": (7, len(model_id)), "height": (fixed, 4), "width": (fixed + 4, 4),
        "channels": (fixed + 8, 1), "pad_height": (fixed + 9, 4), "pad_width": (fixed + 13, 4),
        "block_size": (fixed + 17, 1), "code_depth": (fixed + 18, 1),
        "iterations": (fixed + 19, 1), "entropy": (fixed + 20, 1),
        "extensions_length": (fixed + 21, 2), "header_crc": (fixed + 23, 4),
    }


def flip(data, model_id, field, byte, bit, recompute_crcs):
    offset, size = header_fields(model_id)[field]
    assert 0 <= byte < size
    bad = bytearray(data)
    bad[offset + byte] ^= 1 << bit
    return fix_crcs(bytes(bad)) if recompute_crcs else bytes(bad)


# -- truncation at every byte offset ---------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_a_file_cut_at_every_byte_offset_decodes_its_whole_chunks_or_raises_truncated_error(
        tiny_codec, files, prefixes, mode):
    data = files[mode]
    ends = chunk_ends(data)  # header end, then the end of chunk 1, 2, 3
    assert np.array_equal(tiny_codec.decompress(data), prefixes[mode][-1])
    for cut in range(len(data)):
        piece = data[:cut]
        if cut < ends[0]:
            raises_exactly(TruncatedError, f"file ends inside the header ({cut} bytes)",
                           tiny_codec.decompress, piece)
            continue
        k = sum(1 for end in ends[:-1] if end <= cut)  # the file ends inside chunk k
        raises_exactly(TruncatedError, f"file ends inside chunk {k} of {ITERATIONS}",
                       tiny_codec.decompress, piece, strict=True)
        if k == 1:
            raises_exactly(TruncatedError, f"file ends inside chunk 1 of {ITERATIONS}",
                           tiny_codec.decompress, piece)
        else:
            assert np.array_equal(tiny_codec.decompress(piece), prefixes[mode][k - 2]), cut
            raises_exactly(TfrnncompError,
                           f"file holds {k - 1} whole iterations, {k} were asked for",
                           tiny_codec.decompress, piece, k)


# -- a bit flip in every header field --------------------------------------------------------
NOT_NEWER = "format version 3 is newer than this reader (1); upgrade tfrnncomp"
LIMIT = "above the limit of 67108864; pass max_pixels= to raise it"

# (field, byte, bit, recompute CRCs) -> (error type, message) or {mode: (type, message)};
# messages are formatted with: id (the model id), other (the id with the flip), size (file
# bytes), last (bytes of the last chunk with its length and CRC)
FLIPS = [
    # the CRC still covers the old bytes
    (("flags", 0, 0, False), (ChecksumError, "header checksum mismatch")),
    # id length 13 -> 12 shifts the fixed fields by one byte: the extensions length then
    # reads the entropy byte (raw 0: the CRC is read one byte early; context 2: 512 bytes)
    (("model_id_length", 0, 0, False), {
        "raw": (ChecksumError, "header checksum mismatch"),
        "context": (TruncatedError, "file ends inside the header ({size} bytes)")}),
    (("model_id_length", 0, 7, False), (TruncatedError, "file ends inside the header ({size} bytes)")),
    (("model_id", 0, 0, False), (ChecksumError, "header checksum mismatch")),
    (("height", 3, 0, False), (ChecksumError, "header checksum mismatch")),
    (("width", 3, 0, False), (ChecksumError, "header checksum mismatch")),
    (("channels", 0, 1, False), (ChecksumError, "header checksum mismatch")),
    (("pad_height", 3, 6, False), (ChecksumError, "header checksum mismatch")),
    (("pad_width", 3, 6, False), (ChecksumError, "header checksum mismatch")),
    (("block_size", 0, 0, False), (ChecksumError, "header checksum mismatch")),
    (("code_depth", 0, 0, False), (ChecksumError, "header checksum mismatch")),
    (("iterations", 0, 0, False), (ChecksumError, "header checksum mismatch")),
    (("entropy", 0, 0, False), (ChecksumError, "header checksum mismatch")),
    (("extensions_length", 1, 0, False), (ChecksumError, "header checksum mismatch")),
    (("header_crc", 3, 0, False), (ChecksumError, "header checksum mismatch")),
    # magic and version are checked before the CRC
    (("magic", 0, 0, False), (BitstreamError, "not a tfrnncomp file (bad magic)")),
    (("magic", 3, 7, True), (BitstreamError, "not a tfrnncomp file (bad magic)")),
    (("version", 0, 0, False), (BitstreamError, "unknown format version 0")),
    (("version", 0, 1, False), (UnsupportedVersionError, NOT_NEWER)),
    # with the CRCs recomputed, each field's own check speaks
    (("flags", 0, 0, True), (BitstreamError, "reserved flags byte is 0x01, expected 0")),
    (("flags", 0, 7, True), (BitstreamError, "reserved flags byte is 0x80, expected 0")),
    # ... and with the CRC recomputed, the entropy byte reads the iterations (3)
    (("model_id_length", 0, 0, True), {
        "raw": (BitstreamError, "unknown entropy mode 3"),
        "context": (TruncatedError, "file ends inside the header ({size} bytes)")}),
    (("model_id_length", 0, 7, True), (TruncatedError, "file ends inside the header ({size} bytes)")),
    (("model_id", 0, 0, True), (ModelMismatchError, "file was written by model {other!r}, this "
                                                    "codec is {id!r}; decode it with that model")),
    (("model_id", 0, 7, True), (BitstreamError, "model id is not ASCII")),
    (("model_id", 4, 6, True), (BitstreamError, "model id must be 1..200 printable ASCII "
                                                "characters, got {other!r}")),  # '@' -> '\x00'
    (("height", 0, 7, True), (LimitError, f"header claims 2147483668x30 pixels (64424510040), {LIMIT}")),
    (("height", 3, 5, True), (BitstreamError, "padded size 32x32 must be multiples of 32 and at "
                                              "least the image size 52x30")),
    (("width", 3, 5, True), (BitstreamError, "padded size 32x32 must be multiples of 32 and at "
                                             "least the image size 20x62")),
    (("channels", 0, 0, True), (BitstreamError, "channels must be 1 or 3, got 2")),
    (("channels", 0, 7, True), (BitstreamError, "channels must be 1 or 3, got 131")),
    (("pad_height", 0, 7, True), (LimitError, "header claims a padded size of 2147483680x32 "
                                              f"pixels (68719477760), {LIMIT}")),
    (("pad_height", 3, 0, True), (BitstreamError, "padded size 33x32 must be multiples of 32 and "
                                                  "at least the image size 20x30")),
    # 32 -> 96 rows: a valid container, but not this image's padding
    (("pad_height", 3, 6, True), {
        "raw": (BitstreamError, "chunk 1 of 3: length 16, expected 48 for RAW codes"),
        "context": (BitstreamError, "padded size 96x32 does not match the image size 20x30 "
                                    "(expected 32x32)")}),
    (("pad_width", 3, 0, True), (BitstreamError, "padded size 32x33 must be multiples of 32 and "
                                                 "at least the image size 20x30")),
    (("pad_width", 3, 6, True), {
        "raw": (BitstreamError, "chunk 1 of 3: length 16, expected 48 for RAW codes"),
        "context": (BitstreamError, "padded size 32x96 does not match the image size 20x30 "
                                    "(expected 32x32)")}),
    (("block_size", 0, 0, True), (BitstreamError, "padded size 32x32 must be multiples of 34 and "
                                                  "at least the image size 20x30")),
    (("block_size", 0, 4, True), (BitstreamError, "block size must be 1..255, got 0")),
    (("code_depth", 0, 0, True), {
        "raw": (BitstreamError, "chunk 1 of 3: length 16, expected 17 for RAW codes"),
        "context": (ModelMismatchError, "file's code depth or block size does not match the "
                                        "model")}),
    (("code_depth", 0, 5, True), (BitstreamError, "code depth must be 1..255, got 0")),
    (("iterations", 0, 0, True), (BitstreamError, "{last} bytes of trailing data")),
    (("iterations", 0, 6, True), (BitstreamError, "iterations must be 1..64, got 67")),
    # entropy byte: raw is 0, context is 2
    (("entropy", 0, 0, True), {
        "raw": (BitstreamError, "binaryrnn file has no entropy model id (extension 3)"),
        "context": (BitstreamError, "unknown entropy mode 3")}),
    (("entropy", 0, 2, True), {"raw": (BitstreamError, "unknown entropy mode 4"),
                               "context": (BitstreamError, "unknown entropy mode 6")}),
    (("entropy", 0, 7, True), {"raw": (BitstreamError, "unknown entropy mode 128"),
                               "context": (BitstreamError, "unknown entropy mode 130")}),
    (("extensions_length", 1, 0, True), (BitstreamError, "extension block ends inside a record "
                                                         "header")),
    (("extensions_length", 0, 7, True), (TruncatedError, "file ends inside the header ({size} "
                                                         "bytes)")),
]


def test_the_flip_table_touches_every_header_field(tiny_codec):
    touched = {field for (field, _, _, _), _ in FLIPS}
    assert touched == set(header_fields(tiny_codec.model_id))
    fixed = {field for (field, _, _, fix), _ in FLIPS if fix or field in ("magic", "version")}
    assert fixed == touched - {"header_crc"}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("flip_at, expected", FLIPS,
                         ids=[f"{f}[{b}]bit{i}{'-crc' if c else ''}" for (f, b, i, c), _ in FLIPS])
def test_a_bit_flip_in_a_header_field_raises_its_exact_error(tiny_codec, files, mode, flip_at,
                                                             expected):
    data = files[mode]
    model_id = tiny_codec.model_id
    field, byte, bit, recompute = flip_at
    bad = flip(data, model_id, field, byte, bit, recompute)
    error_type, message = expected[mode] if isinstance(expected, dict) else expected
    other = model_id
    if field == "model_id":
        other = bytes(bad[7:7 + len(model_id)]).decode("latin-1")
    last = len(data) - chunk_ends(data)[-2]
    message = message.format(id=model_id, other=other, size=len(data), last=last)
    raises_exactly(error_type, message, tiny_codec.decompress, bad)


@pytest.mark.parametrize("mode", MODES)
def test_header_flips_that_leave_a_valid_file_decode_to_what_the_header_claims(
        tiny_codec, files, prefixes, mode):
    data, full = files[mode], prefixes[mode][-1]
    model_id = tiny_codec.model_id
    # height 20 -> 21 (the padding still covers it): one more row of the same decode
    taller = tiny_codec.decompress(flip(data, model_id, "height", 3, 0, True))
    assert taller.shape == (21, WIDTH, 3) and np.array_equal(taller[:HEIGHT], full)
    # channels 3 -> 1: the greyscale view of the same decode
    grey = tiny_codec.decompress(flip(data, model_id, "channels", 0, 1, True))
    assert grey.shape == (HEIGHT, WIDTH)
    assert np.array_equal(grey, np.round(full.astype(np.float32).mean(-1)).astype(np.uint8))
    # iterations 3 -> 7: the file looks cut after chunk 3, which decodes progressively
    longer = flip(data, model_id, "iterations", 0, 2, True)
    assert not tiny_codec.read(longer).complete
    assert np.array_equal(tiny_codec.decompress(longer), full)
    raises_exactly(TruncatedError, "file ends inside chunk 4 of 7", tiny_codec.decompress, longer,
                   strict=True)


# -- decompression bombs ---------------------------------------------------------------------
def bomb(model_id, height, width, pad_height, pad_width, entropy=bitstream.EntropyMode.RAW,
         chunk_length=0xFFFFFFFF):
    header = bitstream.Header(model_id=model_id, height=height, width=width, channels=3,
                              pad_height=pad_height, pad_width=pad_width, iterations=16,
                              entropy_mode=entropy)
    # a chunk length field follows (by default claiming 4 GB), and nothing else
    return bitstream.encode_header(header) + struct.pack(">I", chunk_length)


def peak_bytes_while_refusing(codec, data, error_type, message):
    tracemalloc.start()
    try:
        raises_exactly(error_type, message, codec.decompress, data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("entropy", list(bitstream.EntropyMode))
def test_a_100000x100000_header_raises_limit_error_before_allocating(tiny_codec, entropy):
    data = bomb(tiny_codec.model_id, 100000, 100000, 100000, 100000, entropy)
    message = f"header claims 100000x100000 pixels (10000000000), {LIMIT}"
    peak = peak_bytes_while_refusing(tiny_codec, data, LimitError, message)
    assert peak < 10 << 20, f"refusing the bomb allocated {peak} bytes"


def test_a_1x1_image_with_a_100000x100000_padding_raises_limit_error_before_allocating(
        tiny_codec):
    data = bomb(tiny_codec.model_id, 1, 1, 100000, 100000)
    message = f"header claims a padded size of 100000x100000 pixels (10000000000), {LIMIT}"
    peak = peak_bytes_while_refusing(tiny_codec, data, LimitError, message)
    assert peak < 10 << 20, f"refusing the bomb allocated {peak} bytes"


def test_with_the_limit_raised_a_bomb_without_chunk_data_still_allocates_nothing(tiny_model,
                                                                                 tiny_codec):
    generous = Codec(tiny_model, max_pixels=10 ** 10)
    raw_bytes = 6250 * 6250 * 32 // 8  # one iteration's codes of a 100000x100000 image
    cases = [
        (bitstream.EntropyMode.RAW, 0xFFFFFFFF, BitstreamError,
         f"chunk 1 of 16: length 4294967295, expected {raw_bytes} for RAW codes"),
        (bitstream.EntropyMode.RAW, raw_bytes, TruncatedError, "file ends inside chunk 1 of 16"),
        (bitstream.EntropyMode.CONTEXT, 0xFFFFFFFF, BitstreamError,
         f"chunk 1 of 16: length 4294967295 is above the bound of {4 * raw_bytes + 1024}"),
        (bitstream.EntropyMode.CONTEXT, 10 ** 6, TruncatedError, "file ends inside chunk 1 of 16"),
    ]
    for entropy, length, error_type, message in cases:
        data = bomb(tiny_codec.model_id, 100000, 100000, 100000, 100000, entropy, length)
        peak = peak_bytes_while_refusing(generous, data, error_type, message)
        assert peak < 10 << 20, f"{entropy.name}: {peak} bytes"


@pytest.mark.parametrize("entropy", ["context", "binaryrnn"])
def test_range_coded_chunks_shorter_than_any_encoding_of_their_codes_are_refused_at_once(
        tiny_codec, entropy):
    """An 8192x8192 file of 16 empty chunks would make the decoder run 16 iterations on 67 Mpx."""
    header = tiny_codec.header_for(8192, 8192, 3, 16, "context")
    header = dataclasses.replace(header, entropy_mode=bitstream.EntropyMode[entropy.upper()])
    floor = header.min_chunk_bytes_at(0)
    data = bitstream.write(header, [b""] * 16)
    assert len(data) < 300
    message = f"chunk 1 of 16: length 0 is below the {floor} bytes any encoding of its codes takes"
    start = time.process_time()
    tracemalloc.start()
    try:
        raises_exactly(BitstreamError, message,
                       lambda: bitstream.check_chunk_floors(bitstream.read(data)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20 and time.process_time() - start < 1.0  # refused before any work
    if entropy == "context":  # the codec refuses it the same way, before decoding
        raises_exactly(BitstreamError, message, tiny_codec.decompress, data)
    # a chunk at the floor passes (the coder decides what it holds)
    bitstream.check_chunk_floors(bitstream.read(bitstream.write(header, [b"\0" * floor] * 16)))
    # the work bound: padded pixel-iterations per payload byte
    assert header.pad_height * header.pad_width / floor < (1 << 18)


@pytest.mark.parametrize("entropy", ["context", "binaryrnn"])
def test_honest_chunks_of_flat_and_noisy_images_are_above_the_floor(shipped_codec, entropy):
    rng = np.random.default_rng(3)
    images = [np.zeros((48, 160, 3), np.uint8), np.full((64, 64, 3), 255, np.uint8),
              rng.integers(0, 256, (64, 96, 3), dtype=np.uint8)]
    for image in images:
        container = shipped_codec.read(shipped_codec.compress(image, iterations=16,
                                                             entropy=entropy))
        floors = [container.header.min_chunk_bytes_at(i) for i in range(16)]
        assert all(len(c) >= f for c, f in zip(container.chunks, floors))
        assert max(floors) > 0 or entropy == "binaryrnn"  # its floor needs >= ~2000 positions


def test_an_adaptive_chunk_floor_counts_only_its_active_positions(tiny_codec):
    image = smooth_image(96, 128, seed=4)
    data = tiny_codec.compress(image, adaptive=True, target_psnr=14, entropy="context")
    container = tiny_codec.read(data)
    header = container.header
    for i, chunk in enumerate(container.chunks):
        active = header.active_positions(i)
        assert len(chunk) >= header.min_chunk_bytes_at(i)
        first = active.sum(axis=1)[active.sum(axis=1) > 0]
        assert header.min_chunk_bytes_at(i) == max(
            0, int(first[0]) * header.code_depth // 8 - bitstream.RANGE_FLOOR_SLACK
        ) if len(first) else header.min_chunk_bytes_at(i) == 0


def test_an_oversized_padding_within_the_limit_is_refused_before_decoding(tiny_codec):
    """A 1x1 image may not make the decoder work on (and allocate) an 8192x8192 canvas."""
    header = tiny_codec.header_for(1, 1, 3, 1, "context")
    header = dataclasses.replace(header, pad_height=8192, pad_width=8192)
    data = bitstream.write(header, [b""])  # an empty context chunk decodes to all-zero codes
    peak = peak_bytes_while_refusing(
        tiny_codec, data, BitstreamError,
        "padded size 8192x8192 does not match the image size 1x1 (expected 32x32)")
    assert peak < 10 << 20


# -- other unusual files ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_zero_iterations_in_a_real_file_raise_a_bitstream_error(tiny_codec, files, mode):
    data = files[mode]
    offset, _ = header_fields(tiny_codec.model_id)["iterations"]
    bad = bytearray(data)
    bad[offset] = 0
    raises_exactly(BitstreamError, "iterations must be 1..64, got 0", tiny_codec.decompress,
                   fix_crcs(bytes(bad)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("model_id", ["nosuch@00000000", "gru-w25@ffffffff", "x"])
def test_an_unknown_model_id_raises_model_mismatch_error(tiny_codec, files, mode, model_id):
    container = bitstream.read(files[mode])
    header = dataclasses.replace(container.header, model_id=model_id)
    raises_exactly(ModelMismatchError,
                   f"file was written by model {model_id!r}, this codec is "
                   f"{tiny_codec.model_id!r}; decode it with that model",
                   tiny_codec.decompress, bitstream.write(header, container.chunks))


@pytest.mark.parametrize("version", [2, 255])
def test_a_future_format_version_raises_unsupported_version_error(tiny_codec, files, version):
    for data in files.values():
        future = bytearray(data)
        future[4] = version
        for candidate in (bytes(future), fix_crcs(bytes(future))):
            raises_exactly(UnsupportedVersionError,
                           f"format version {version} is newer than this reader (1); "
                           "upgrade tfrnncomp", tiny_codec.decompress, candidate)


@pytest.mark.parametrize("mode", MODES)
def test_files_of_the_shipped_model_and_the_tiny_model_are_refused_by_each_other(
        tiny_codec, shipped_codec, image, mode):
    shipped_file = shipped_codec.compress(image, 2, entropy=mode)
    raises_exactly(ModelMismatchError,
                   f"file was written by model {shipped_codec.model_id!r}, this codec is "
                   f"{tiny_codec.model_id!r}; decode it with that model",
                   tiny_codec.decompress, shipped_file)
    tiny_file = tiny_codec.compress(image, 2, entropy=mode)
    raises_exactly(ModelMismatchError,
                   f"file was written by model {tiny_codec.model_id!r}, this codec is "
                   f"{shipped_codec.model_id!r}; decode it with that model",
                   shipped_codec.decompress, tiny_file)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value, message", [
    (1, "binaryrnn file has no entropy model id (extension 3)"),
    (3, "unknown entropy mode 3"),
    (255, "unknown entropy mode 255"),
])
def test_an_unknown_entropy_mode_value_raises_a_bitstream_error(tiny_codec, files, mode, value,
                                                                message):
    offset, _ = header_fields(tiny_codec.model_id)["entropy"]
    bad = bytearray(files[mode])
    bad[offset] = value
    raises_exactly(BitstreamError, message, tiny_codec.decompress, fix_crcs(bytes(bad)))


@pytest.mark.parametrize("value, message", [
    (b"\x00\x00\x00\x40", "tile extension must hold 8 bytes"),
    (b"", "tile extension must hold 8 bytes"),
    (struct.pack(">II", 32, 64), "invalid tile size 32x64 in the header"),
    (struct.pack(">II", 0, 0), "invalid tile size 0x0 in the header"),
    (struct.pack(">II", 16, 16), "invalid tile size 16x16 in the header"),
    (struct.pack(">II", 48, 48), "invalid tile size 48x48 in the header"),
])
def test_an_invalid_tile_extension_raises_a_bitstream_error(tiny_codec, files, value, message):
    container = bitstream.read(files["raw"])
    header = dataclasses.replace(container.header, extensions={Tag.TILE: value})
    raises_exactly(BitstreamError, message, tiny_codec.decompress,
                   bitstream.write(header, container.chunks))


@pytest.mark.parametrize("mode", MODES)
def test_a_tile_extension_larger_than_the_image_decodes_as_one_tile(tiny_codec, files, prefixes,
                                                                    mode):
    container = bitstream.read(files[mode])
    for tile in (32, 0xFFFFFFE0):  # the whole 32x32 padded image, and the largest u32 tile
        header = dataclasses.replace(container.header,
                                     extensions={Tag.TILE: struct.pack(">II", tile, tile)})
        data = bitstream.write(header, container.chunks)
        assert np.array_equal(tiny_codec.decompress(data), prefixes[mode][-1])
