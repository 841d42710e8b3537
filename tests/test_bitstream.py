"""Tests of the .trc bitstream v1 container."""

import json
import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from tests.helpers import chunk_starts
from tfrnncomp.format import container as bs
from tfrnncomp.errors import (
    BitstreamError,
    ChecksumError,
    LimitError,
    TruncatedError,
    UnsupportedVersionError,
)

MODEL_ID = "gru-w25@1a2b3c4d"


def make_header(**overrides):
    fields = dict(model_id=MODEL_ID, height=30, width=40, channels=3, pad_height=32,
                  pad_width=64, iterations=3, entropy_mode=bs.EntropyMode.RAW)
    fields.update(overrides)
    return bs.Header(**fields)


def make_chunks(header, seed=0):
    rng = np.random.default_rng(seed)
    return [bs.pack_codes(rng.choice([-1, 1], size=header.code_shape))
            for _ in range(header.iterations)]


def make_file(**overrides):
    header = make_header(**overrides)
    chunks = make_chunks(header)
    return header, chunks, bs.write(header, chunks)


def fixed_offset(model_id=MODEL_ID):
    """Offset of the height field (start of the fixed-size header part)."""
    return 7 + len(model_id)


def reforge(data, offset, new_bytes):
    """Patch header bytes and recompute the header CRC so only the patch is wrong."""
    _, end = bs.decode_header(data)
    body = bytearray(data[:end - 4])
    body[offset:offset + len(new_bytes)] = new_bytes
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body))) + data[end:]


# --- round trips -------------------------------------------------------------

def test_a_header_with_extensions_survives_encode_and_decode():
    header = make_header(extensions={7: b"hello", 1: b"", 200: bytes(range(40))})
    data = bs.encode_header(header)
    decoded, offset = bs.decode_header(data)
    assert decoded == header
    assert offset == len(data)
    assert dict(decoded.extensions) == {1: b"", 7: b"hello", 200: bytes(range(40))}


def test_a_greyscale_file_round_trips_header_and_chunks():
    header, chunks, data = make_file(channels=1, height=1, width=1, pad_height=32, pad_width=32)
    container = bs.read(data)
    assert container.header == header
    assert container.header.channels == 1
    assert container.chunks == chunks
    assert container.complete is True


def test_an_rgb_file_round_trips_chunks_in_order():
    header, chunks, data = make_file(iterations=5, extensions={3: b"q=8"})
    container = bs.read(data, strict=True)
    assert container.header == header
    assert container.chunks == chunks
    assert container.complete


def test_headers_compare_equal_and_hash_alike_whatever_the_extensions_mapping_type():
    a = make_header(extensions={2: b"b", 1: b"a"})
    b = make_header(extensions=[(1, b"a"), (2, b"b")])
    assert a == b and hash(a) == hash(b)
    assert a != make_header(extensions={1: b"a"})
    with pytest.raises(TypeError):
        make_header(extensions={1: 5})


def test_header_properties_describe_the_code_geometry():
    header = make_header(pad_height=64, pad_width=96)
    assert header.code_shape == (4, 6, 32)
    assert header.raw_chunk_bytes == 4 * 6 * 32 // 8
    assert header.pixels == 30 * 40
    odd = make_header(block_size=1, pad_height=2, pad_width=2, height=1, width=1, code_depth=3)
    assert odd.raw_chunk_bytes == 2  # 12 bits round up to 2 bytes


def test_codes_pack_and_unpack_to_the_same_values():
    rng = np.random.default_rng(1)
    codes = rng.choice([-1, 1], size=(3, 5, 7))  # 105 bits: not a multiple of 8
    payload = bs.pack_codes(codes)
    assert len(payload) == 14
    out = bs.unpack_codes(payload, codes.shape)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, codes)
    np.testing.assert_array_equal(bs.unpack_codes(bs.pack_codes(codes.astype(np.float32)),
                                                  codes.shape), codes)


def test_packing_puts_plus_one_as_a_set_bit_in_c_order_msb_first():
    codes = -np.ones((1, 2, 8), dtype=np.int64)
    codes[0, 0, 0] = 1
    codes[0, 1, 7] = 1
    assert bs.pack_codes(codes) == bytes([0b10000000, 0b00000001])


def test_packing_rejects_values_other_than_minus_one_and_plus_one():
    with pytest.raises(ValueError):
        bs.pack_codes(np.zeros((1, 1, 8)))
    with pytest.raises(ValueError):
        bs.pack_codes(np.array([[[1.0, -1.0, 0.5]]]))
    with pytest.raises(ValueError):
        bs.pack_codes(np.ones((4, 8)))


def test_unpacking_a_payload_of_the_wrong_length_raises_a_bitstream_error():
    with pytest.raises(BitstreamError, match="expected 4"):
        bs.unpack_codes(b"\x00" * 5, (1, 1, 32))


# --- truncation --------------------------------------------------------------

def test_a_file_cut_at_every_byte_offset_behaves_progressively():
    header, chunks, data = make_file()
    starts, end = chunk_starts(data)
    assert end == len(data)
    for cut in range(len(data)):
        piece = data[:cut]
        if cut < starts[0]:
            with pytest.raises(TruncatedError, match="inside the header"):
                bs.read(piece)
            continue
        k = sum(1 for s in starts if s <= cut)  # the file ends inside chunk k
        with pytest.raises(TruncatedError, match=f"inside chunk {k} of 3"):
            bs.read(piece, strict=True)
        if k == 1:
            with pytest.raises(TruncatedError, match="inside chunk 1 of 3"):
                bs.read(piece)
        else:
            container = bs.read(piece)
            assert container.complete is False
            assert container.chunks == chunks[:k - 1]
            assert container.header == header


def test_a_file_cut_after_any_whole_chunk_reads_that_many_chunks():
    header, chunks, data = make_file(iterations=4)
    starts, _ = chunk_starts(data)
    for whole in (1, 2, 3):
        container = bs.read(data[:starts[whole]])
        assert container.chunks == chunks[:whole]
        assert not container.complete


def test_a_file_with_only_a_header_raises_truncated_error():
    header = make_header()
    with pytest.raises(TruncatedError, match="file ends inside chunk 1 of 3"):
        bs.read(bs.encode_header(header))


def test_an_empty_file_raises_truncated_error():
    with pytest.raises(TruncatedError, match=r"inside the header \(0 bytes\)"):
        bs.read(b"")


# --- corruption ----------------------------------------------------------------

def test_a_flipped_bit_in_every_header_byte_raises_a_bitstream_error():
    header, _, data = make_file(extensions={5: b"xyz"})
    _, end = bs.decode_header(data)
    for pos in range(end):
        for bit in range(8):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            with pytest.raises(BitstreamError):
                bs.read(bytes(bad))
            with pytest.raises(BitstreamError):
                bs.decode_header(bytes(bad[:end]))


def test_a_corrupted_chunk_payload_raises_a_checksum_error_naming_the_chunk():
    header, _, data = make_file()
    starts, _ = chunk_starts(data)
    bad = bytearray(data)
    bad[starts[1] + 4 + 3] ^= 0x10
    with pytest.raises(ChecksumError, match="chunk 2 of 3: checksum mismatch"):
        bs.read(bytes(bad))


def test_a_corrupted_chunk_crc_raises_a_checksum_error():
    header, _, data = make_file()
    starts, end = chunk_starts(data)
    bad = bytearray(data)
    bad[end - 1] ^= 0x01
    with pytest.raises(ChecksumError, match="chunk 3 of 3"):
        bs.read(bytes(bad))


def test_reordered_chunks_are_detected():
    header, _, data = make_file()
    starts, end = chunk_starts(data)
    first, second = data[starts[0]:starts[1]], data[starts[1]:starts[2]]
    swapped = data[:starts[0]] + second + first + data[starts[2]:]
    assert len(swapped) == len(data)
    with pytest.raises(ChecksumError, match="chunk 1 of 3"):
        bs.read(swapped)


def test_a_chunk_length_above_the_bound_is_rejected_before_reading_it():
    header, _, data = make_file()
    starts, _ = chunk_starts(data)
    bad = bytearray(data)
    struct.pack_into(">I", bad, starts[0], 0xFFFFFFFF)
    with pytest.raises(BitstreamError, match="chunk 1 of 3: length 4294967295") as info:
        bs.read(bytes(bad))
    assert not isinstance(info.value, TruncatedError)


def test_a_raw_chunk_of_the_wrong_length_is_rejected():
    header, _, data = make_file()
    starts, _ = chunk_starts(data)
    bad = bytearray(data)
    struct.pack_into(">I", bad, starts[2], header.raw_chunk_bytes - 1)
    with pytest.raises(BitstreamError, match="chunk 3 of 3"):
        bs.read(bytes(bad))


def test_trailing_data_after_the_last_chunk_is_rejected():
    _, _, data = make_file()
    with pytest.raises(BitstreamError, match="^5 bytes of trailing data$"):
        bs.read(data + b"extra")


def test_a_future_format_version_raises_unsupported_version_error():
    _, _, data = make_file()
    future = data[:4] + bytes([2]) + data[5:]
    with pytest.raises(UnsupportedVersionError) as info:
        bs.read(future)
    assert str(info.value) == ("format version 2 is newer than this reader (1); "
                               "upgrade tfrnncomp")


def test_a_file_with_bad_magic_is_rejected():
    _, _, data = make_file()
    with pytest.raises(BitstreamError, match=r"not a tfrnncomp file \(bad magic\)"):
        bs.read(b"PNG\x00" + data[4:])
    with pytest.raises(BitstreamError, match="bad magic"):
        bs.read(b"TX")


def test_nonzero_reserved_flags_are_rejected():
    _, _, data = make_file()
    with pytest.raises(BitstreamError, match="flags"):
        bs.read(reforge(data, 5, b"\x01"))


def test_duplicate_extension_tags_are_rejected():
    _, _, data = make_file(extensions={1: b"a", 5: b"b"})  # tag 2 is the iteration map
    second_tag = fixed_offset() + 23 + 4  # first record is 4 bytes (tag, len 1, value)
    with pytest.raises(BitstreamError, match="duplicate extension tag 1"):
        bs.read(reforge(data, second_tag, b"\x01"))


# --- limits and field validation ---------------------------------------------

def test_a_header_claiming_100000x100000_pixels_raises_limit_error_before_allocation():
    huge = make_header(height=100000, width=100000, pad_height=100000, pad_width=100000,
                       iterations=64)
    data = bs.encode_header(huge) + b"\x00" * 64  # no chunk data behind it
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as info:
            bs.read(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert str(info.value) == (
        "header claims 100000x100000 pixels (10000000000), above the limit of 67108864; "
        "pass max_pixels= to raise it")
    decoded, _ = bs.decode_header(data, max_pixels=10 ** 10)
    assert decoded == huge


def test_the_pixel_limit_also_bounds_the_padded_size():
    header = make_header(height=1, width=1, pad_height=3200, pad_width=3200)
    with pytest.raises(LimitError, match="padded size"):
        header.validate(max_pixels=1000)


def test_zero_iterations_are_rejected():
    with pytest.raises(BitstreamError, match="iterations must be 1..64, got 0"):
        bs.encode_header(make_header(iterations=0))
    _, _, data = make_file()
    with pytest.raises(BitstreamError, match="iterations must be 1..64, got 0"):
        bs.read(reforge(data, fixed_offset() + 19, b"\x00"))
    with pytest.raises(BitstreamError, match="got 65"):
        make_header(iterations=65).validate()


def test_an_unknown_entropy_mode_is_rejected():
    _, _, data = make_file()
    with pytest.raises(BitstreamError, match="unknown entropy mode 9"):
        bs.read(reforge(data, fixed_offset() + 20, b"\x09"))
    with pytest.raises(BitstreamError, match="unknown entropy mode"):
        make_header(entropy_mode=9).validate()


@pytest.mark.parametrize("fields, message", [
    (dict(model_id=""), "model id"),
    (dict(model_id="x" * 201), "model id"),
    (dict(model_id="caf\u00e9"), "model id"),
    (dict(channels=2), "channels must be 1 or 3"),
    (dict(height=0), "image size"),
    (dict(pad_height=48), "padded size"),
    (dict(pad_width=32), "padded size"),
])
def test_invalid_header_fields_are_rejected_with_a_clear_message(fields, message):
    with pytest.raises(BitstreamError, match=message):
        bs.encode_header(make_header(**fields))


def test_write_checks_the_chunk_count_and_raw_chunk_sizes():
    header = make_header()
    chunks = make_chunks(header)
    with pytest.raises(ValueError, match="3 iterations"):
        bs.write(header, chunks[:2])
    with pytest.raises(ValueError, match="RAW chunks must be"):
        bs.write(header, chunks[:2] + [chunks[2] + b"\x00"])


def test_non_raw_modes_accept_variable_chunk_sizes_up_to_the_bound():
    header = make_header(entropy_mode=bs.EntropyMode.BINARYRNN)
    chunks = [b"", b"abc", b"\x01" * (4 * header.raw_chunk_bytes + 1024)]
    container = bs.read(bs.write(header, chunks))
    assert container.chunks == chunks
    assert container.header.entropy_mode is bs.EntropyMode.BINARYRNN
    with pytest.raises(ValueError, match="bound"):
        bs.write(header, chunks[:2] + [chunks[2] + b"\x01"])


# --- info ------------------------------------------------------------------------

def test_info_dict_summarises_a_partial_file_as_json():
    header, chunks, data = make_file(extensions={4: b"\xff"})
    starts, _ = chunk_starts(data)
    info = bs.info_dict(bs.read(data[:starts[2] + 5]))
    json.dumps(info)
    assert info["model_id"] == MODEL_ID
    assert info["iterations_declared"] == 3
    assert info["iterations_present"] == 2
    assert info["complete"] is False
    assert info["chunk_bytes"] == [header.raw_chunk_bytes] * 2
    assert info["code_shape"] == [2, 4, 32]
    assert info["entropy_mode"] == "raw"
    assert info["extensions"] == {"4": "ff"}
    assert info["header_bytes"] == starts[0]
    assert info["total_bytes"] == starts[2]
