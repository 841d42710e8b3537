"""Tests of the Codec API: exact round trips, progressive prefixes, errors, sizes, compilation.

Everything here uses the tiny untrained model of conftest.py (fast); only the Kodak test
uses the shipped model.
"""

import dataclasses
import math
import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.helpers import TINY_CONFIG, kodak_or_skip, smooth_image
from tfrnncomp.eval import metrics
from tfrnncomp.format import container as bitstream
from tfrnncomp.codec import Codec
from tfrnncomp.errors import (
    BitstreamError,
    ChecksumError,
    ConfigError,
    InputImageError,
    LimitError,
    ModelMismatchError,
    TfrnncompError,
    TruncatedError,
)

ODD_SIZES = [(1, 1), (17, 33), (37, 50), (64, 96)]


def header_bytes(model_id):
    """Size of a v1 header without extensions, counted field by field (not via the encoder)."""
    magic, version, flags, id_len = 4, 1, 1, 1
    # height, width, channels, pad height, pad width, block, depth, iterations, entropy, ext len
    fixed = 4 + 4 + 1 + 4 + 4 + 1 + 1 + 1 + 1 + 2
    crc = 4
    return magic + version + flags + id_len + len(model_id) + fixed + crc


def raw_chunk_bytes(height, width, bits=32):
    """Packed bytes of one iteration: one ``bits``-bit code per 16x16 block of the padded image."""
    pad_h, pad_w = -(-height // 32) * 32, -(-width // 32) * 32
    return (pad_h // 16) * (pad_w // 16) * bits // 8


@pytest.fixture(scope="module")
def image_37x50():
    return smooth_image(37, 50, seed=3)


def chunk_bounds(data):
    """(end of the header, end of every chunk), read from the chunks' length fields."""
    header, pos = bitstream.decode_header(data)
    ends = []
    for _ in range(header.iterations):
        pos += 8 + struct.unpack_from(">I", data, pos)[0]
        ends.append(pos)
    return bitstream.decode_header(data)[1], ends


@pytest.fixture(scope="module")
def file_37x50(tiny_codec, image_37x50):
    """Five iterations, raw (fixed-size) chunks."""
    return tiny_codec.compress(image_37x50, iterations=5, entropy="raw")


@pytest.fixture(scope="module", params=["raw", "context"])
def any_file_37x50(request, tiny_codec, image_37x50):
    """Five iterations in each entropy mode."""
    return tiny_codec.compress(image_37x50, iterations=5, entropy=request.param)


# -- exactness ------------------------------------------------------------------------------
@pytest.mark.parametrize("height,width", ODD_SIZES)
def test_decoding_the_codes_gives_exactly_the_encoder_side_reconstruction(tiny_codec, height,
                                                                          width):
    image = smooth_image(height, width, seed=height + width)
    codes, reconstruction = tiny_codec.encode_codes(image, 3)
    assert codes.dtype == np.int8
    assert codes.shape == (3, -(-height // 32) * 2, -(-width // 32) * 2, 32)
    assert set(np.unique(codes)) <= {-1, 1}
    assert reconstruction.shape == (height, width, 3) and reconstruction.dtype == np.uint8
    decoded = tiny_codec.decode_codes(codes, height, width)
    assert decoded.dtype == np.uint8
    assert np.array_equal(decoded, reconstruction)
    # and through the file format too, in each entropy mode
    for entropy in ("raw", "context"):
        data = tiny_codec.compress(image, 3, entropy=entropy)
        assert np.array_equal(tiny_codec.decompress(data), reconstruction)


def test_the_first_k_codes_of_a_long_encoding_equal_a_k_iteration_encoding(tiny_codec,
                                                                           image_37x50):
    codes_long, _ = tiny_codec.encode_codes(image_37x50, 5)
    codes_short, reconstruction_short = tiny_codec.encode_codes(image_37x50, 2)
    assert np.array_equal(codes_long[:2], codes_short)
    assert np.array_equal(tiny_codec.decode_codes(codes_long[:2], 37, 50), reconstruction_short)


# -- progressive prefixes -------------------------------------------------------------------
def test_decompressing_k_iterations_equals_decoding_the_first_k_codes(tiny_codec, image_37x50,
                                                                      any_file_37x50):
    codes, _ = tiny_codec.encode_codes(image_37x50, 5)
    for k in (1, 2, 4, 5):
        expected = tiny_codec.decode_codes(codes[:k], 37, 50)
        assert np.array_equal(tiny_codec.decompress(any_file_37x50, k), expected)


def test_the_prefix_images_differ_so_the_prefix_test_is_meaningful(tiny_codec, file_37x50):
    one, five = tiny_codec.decompress(file_37x50, 1), tiny_codec.decompress(file_37x50, 5)
    assert not np.array_equal(one, five)
    assert np.array_equal(tiny_codec.decompress(file_37x50), five)


def test_a_file_cut_after_k_whole_chunks_decodes_like_the_first_k_iterations_of_the_full_file(
        tiny_codec, any_file_37x50):
    data = any_file_37x50
    head, ends = chunk_bounds(data)
    assert ends[-1] == len(data) and head == header_bytes(tiny_codec.model_id)
    for k in (1, 3, 4):
        expected = tiny_codec.decompress(data, k)
        cut = data[:ends[k - 1]]
        assert np.array_equal(tiny_codec.decompress(cut), expected)
        # a cut inside the next chunk drops only that chunk
        for size in (ends[k - 1] + 1, ends[k - 1] + 4, ends[k - 1] + 5, ends[k] - 1):
            assert np.array_equal(tiny_codec.decompress(data[:size]), expected)
        with pytest.raises(TruncatedError):
            tiny_codec.decompress(cut, strict=True)
        with pytest.raises(TfrnncompError, match="whole iterations"):
            tiny_codec.decompress(cut, k + 1)


def test_a_file_cut_inside_the_header_raises_truncated_error(tiny_codec, any_file_37x50):
    head = header_bytes(tiny_codec.model_id)
    for size in (0, 1, 3, 4, 5, 7, 12, head - 5, head - 1):
        with pytest.raises(TruncatedError):
            tiny_codec.decompress(any_file_37x50[:size])


def test_a_file_cut_inside_the_first_chunk_raises_truncated_error(tiny_codec, any_file_37x50):
    head, ends = chunk_bounds(any_file_37x50)
    for size in (head, head + 1, head + 3, head + 4, (head + ends[0]) // 2, ends[0] - 1):
        with pytest.raises(TruncatedError):
            tiny_codec.decompress(any_file_37x50[:size])


@pytest.mark.parametrize("chunk_index", [0, 4])
def test_a_flipped_payload_byte_raises_checksum_error(tiny_codec, any_file_37x50, chunk_index):
    head, ends = chunk_bounds(any_file_37x50)
    start = ([head] + ends)[chunk_index]
    corrupt = bytearray(any_file_37x50)
    corrupt[start + 4 + 7] ^= 0x10
    with pytest.raises(ChecksumError):
        tiny_codec.decompress(bytes(corrupt))


def test_a_flipped_header_byte_raises_checksum_error(tiny_codec, file_37x50):
    corrupt = bytearray(file_37x50)
    corrupt[header_bytes(tiny_codec.model_id) - 8] ^= 0x01  # inside the fixed fields
    with pytest.raises(ChecksumError):
        tiny_codec.decompress(bytes(corrupt))


def test_trailing_garbage_after_the_last_chunk_is_refused(tiny_codec, file_37x50):
    with pytest.raises(BitstreamError):
        tiny_codec.decompress(file_37x50 + b"\0")


# -- decompression bomb guard ---------------------------------------------------------------
def bomb_header(model_id, side=100000):
    header = bitstream.Header(model_id=model_id, height=side, width=side, channels=3,
                              pad_height=-(-side // 32) * 32, pad_width=-(-side // 32) * 32,
                              iterations=16)
    return bitstream.encode_header(header)


def test_a_header_claiming_100000x100000_pixels_raises_limit_error_without_allocating(
        tiny_codec):
    data = bomb_header(tiny_codec.model_id) + struct.pack(">I", 10 ** 9)
    tracemalloc.start()
    try:
        with pytest.raises(LimitError):
            tiny_codec.decompress(data)
        with pytest.raises(LimitError):
            tiny_codec.decompress_image(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"refusing a bomb allocated {peak} bytes"


def test_a_codec_with_a_small_max_pixels_refuses_a_file_above_it(tiny_model, tiny_codec,
                                                                 file_37x50):
    small = Codec(tiny_model, max_pixels=37 * 50 - 1)
    assert small.model_id == tiny_codec.model_id
    with pytest.raises(LimitError, match="max_pixels"):
        small.decompress(file_37x50)
    # the padded size (64x64) counts too
    padded_only = Codec(tiny_model, max_pixels=64 * 64 - 1)
    with pytest.raises(LimitError, match="padded"):
        padded_only.decompress(file_37x50)
    # and it refuses to compress an image above the limit
    with pytest.raises(InputImageError, match="max_pixels"):
        small.compress(smooth_image(37, 50), 1)
    assert np.array_equal(Codec(tiny_model, max_pixels=64 * 64).decompress(file_37x50),
                          tiny_codec.decompress(file_37x50))


# -- sizes and rates ------------------------------------------------------------------------
@pytest.mark.parametrize("height,width,iterations", [(1, 1, 1), (37, 50, 3), (64, 96, 16)])
def test_a_raw_file_is_exactly_header_plus_iterations_times_chunk_plus_eight_bytes(
        tiny_codec, height, width, iterations):
    data = tiny_codec.compress(smooth_image(height, width), iterations, entropy="raw")
    expected = (header_bytes(tiny_codec.model_id)
                + iterations * (raw_chunk_bytes(height, width) + 8))
    assert len(data) == expected
    assert tiny_codec.file_size(height, width, iterations) == expected
    assert bitstream.read(data).header.iterations == iterations


def test_bpp_picks_the_most_raw_iterations_whose_file_fits_the_budget(tiny_codec):
    height, width = 64, 96
    image = smooth_image(height, width)
    head, chunk = header_bytes(tiny_codec.model_id), raw_chunk_bytes(height, width) + 8
    for budget in (0.5, 1.0, 0.9, 2.3):
        data = tiny_codec.compress(image, bpp=budget, entropy="raw")
        iterations = bitstream.read(data).header.iterations
        assert len(data) * 8 / (height * width) <= budget
        assert (head + (iterations + 1) * chunk) * 8 / (height * width) > budget
        assert data == tiny_codec.compress(image, iterations, entropy="raw")
    # exactly on the boundary of 3 iterations
    exact = (head + 3 * chunk) * 8 / (height * width)
    assert bitstream.read(
        tiny_codec.compress(image, bpp=exact, entropy="raw")).header.iterations == 3
    # a budget below one iteration still codes one; a huge budget is capped at the maximum
    for entropy in ("raw", "context"):
        assert bitstream.read(
            tiny_codec.compress(image, bpp=0.01, entropy=entropy)).header.iterations == 1
        assert bitstream.read(
            tiny_codec.compress(image, bpp=100, entropy=entropy)).header.iterations == 16


@pytest.mark.parametrize("budget", [0.4, 0.8, 1.2])
def test_bpp_picks_the_most_context_coded_iterations_whose_file_fits_the_budget(tiny_codec,
                                                                                budget):
    height, width = 64, 96
    image = smooth_image(height, width)
    data = tiny_codec.compress(image, bpp=budget, entropy="context")
    iterations = bitstream.read(data).header.iterations
    assert len(data) * 8 / (height * width) <= budget
    assert data == tiny_codec.compress(image, iterations, entropy="context")
    assert iterations < tiny_codec.max_iterations  # the budgets are below the cap
    longer = tiny_codec.compress(image, iterations + 1, entropy="context")
    assert len(longer) * 8 / (height * width) > budget


@pytest.mark.parametrize("bpp", [0, -1, float("nan"), float("inf")])
def test_a_non_positive_or_non_finite_bpp_raises(tiny_codec, bpp):
    with pytest.raises(TfrnncompError):
        tiny_codec.compress(smooth_image(8, 8), bpp=bpp)


def test_giving_both_iterations_and_bpp_raises(tiny_codec):
    with pytest.raises(TfrnncompError, match="give one rate setting, not iterations and bpp"):
        tiny_codec.compress(smooth_image(8, 8), 2, bpp=1.0)


@pytest.mark.parametrize("iterations", [0, -1, 17, 100, 2.0, True, "3"])
def test_iterations_outside_one_to_sixteen_raise_tfrnncomp_error(tiny_codec, file_37x50,
                                                                 iterations):
    with pytest.raises(TfrnncompError):
        tiny_codec.compress(smooth_image(8, 8), iterations)
    with pytest.raises(TfrnncompError):
        tiny_codec.decompress(file_37x50, iterations)


def test_iterations_default_to_eight(tiny_codec):
    data = tiny_codec.compress(smooth_image(8, 8))
    assert bitstream.read(data).header.iterations == 8


# -- model identity -------------------------------------------------------------------------
def test_a_file_from_another_model_raises_model_mismatch_error(tiny_model, tiny_codec,
                                                               file_37x50):
    from tfrnncomp.model.network import RNNCompressionModel

    other = RNNCompressionModel(TINY_CONFIG).build_for_inference()
    for target, source in zip(other.weights, tiny_model.weights):
        target.assign(source)
    other.weights[0].assign(other.weights[0] + 1e-3)
    other_codec = Codec(other)
    assert other_codec.model_id != tiny_codec.model_id
    assert other_codec.model_id.startswith(TINY_CONFIG["name"] + "@")
    with pytest.raises(ModelMismatchError, match=tiny_codec.model_id):
        other_codec.decompress(file_37x50)
    # the other way round: the same chunks under the other model's id
    container = bitstream.read(file_37x50)
    other_file = bitstream.write(
        dataclasses.replace(container.header, model_id=other_codec.model_id), container.chunks)
    with pytest.raises(ModelMismatchError, match=other_codec.model_id):
        tiny_codec.decompress(other_file)


def test_a_long_model_id_in_a_file_is_cut_short_in_the_mismatch_error(tiny_codec, file_37x50):
    container = bitstream.read(file_37x50)
    long_id = "m" * bitstream.MAX_MODEL_ID_BYTES
    data = bitstream.write(dataclasses.replace(container.header, model_id=long_id),
                           container.chunks)
    with pytest.raises(ModelMismatchError) as error:
        tiny_codec.decompress(data)
    message = str(error.value)
    assert f"'{long_id[:60]}'... ({len(long_id)} characters)" in message
    assert long_id[:61] not in message and len(message) < 200
    assert repr(tiny_codec.model_id) in message  # short ids stay whole


@pytest.mark.parametrize("tile", [7, 33, -32, 64.0, True, "big"])
def test_an_invalid_tile_size_raises_config_error_when_the_codec_is_made(tiny_model, tile):
    with pytest.raises(ConfigError, match="tile size must be 'auto', None or a positive "
                                          "multiple of 32"):
        Codec(tiny_model, tile=tile)


def test_the_model_id_survives_saving_and_loading_the_model(tiny_codec, tiny_model_dir,
                                                            file_37x50):
    loaded = Codec(tiny_model_dir)
    assert loaded.model_id == tiny_codec.model_id
    assert np.array_equal(loaded.decompress(file_37x50), tiny_codec.decompress(file_37x50))


# -- determinism and compilation ------------------------------------------------------------
@pytest.mark.parametrize("entropy", ["raw", "context"])
def test_compressing_the_same_image_twice_gives_identical_bytes(tiny_codec, entropy):
    image = smooth_image(45, 31, seed=9)
    first = tiny_codec.compress(image, 6, entropy=entropy)
    assert tiny_codec.compress(image.copy(), 6, entropy=entropy) == first
    assert (tiny_codec.compress(image, bpp=2.0, entropy=entropy)
            == tiny_codec.compress(image, bpp=2.0, entropy=entropy))


def test_new_images_of_the_same_or_other_sizes_compile_nothing_new(tiny_codec):
    warm = tiny_codec.compress(smooth_image(37, 50, seed=10), 2)
    tiny_codec.decompress(warm)
    encode, decode = tiny_codec.functions.encode, tiny_codec.functions.decode
    assert encode.experimental_get_tracing_count() == 1
    assert decode.experimental_get_tracing_count() == 1
    for (height, width), iterations in zip([(37, 50), (64, 96), (1, 1), (97, 13)], [2, 3, 1, 5]):
        data = tiny_codec.compress(smooth_image(height, width, seed=11), iterations)
        tiny_codec.decompress(data)
        tiny_codec.decompress(data, 1)
    assert encode.experimental_get_tracing_count() == 1
    assert decode.experimental_get_tracing_count() == 1


# -- inputs and outputs ---------------------------------------------------------------------
def test_pil_images_and_paths_are_accepted_and_give_the_same_bytes_as_arrays(tiny_codec,
                                                                             tmp_path):
    image = smooth_image(26, 39, seed=12)
    expected = tiny_codec.compress(image, 2)
    assert tiny_codec.compress(Image.fromarray(image), 2) == expected
    path = tmp_path / "image.png"
    Image.fromarray(image).save(path)
    assert tiny_codec.compress(str(path), 2) == expected
    assert tiny_codec.compress(path, 2) == expected
    with pytest.raises(InputImageError, match="no such file"):
        tiny_codec.compress(tmp_path / "missing.png", 2)


def test_decompress_image_returns_a_pil_image_equal_to_decompress(tiny_codec, file_37x50):
    image = tiny_codec.decompress_image(file_37x50)
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB" and image.size == (50, 37)
    assert np.array_equal(np.asarray(image), tiny_codec.decompress(file_37x50))
    assert np.array_equal(np.asarray(tiny_codec.decompress_image(file_37x50, 2)),
                          tiny_codec.decompress(file_37x50, 2))


def test_decompress_accepts_bytearray_and_memoryview(tiny_codec, file_37x50):
    expected = tiny_codec.decompress(file_37x50)
    assert np.array_equal(tiny_codec.decompress(bytearray(file_37x50)), expected)
    assert np.array_equal(tiny_codec.decompress(memoryview(file_37x50)), expected)


def test_garbage_bytes_raise_a_bitstream_error(tiny_codec):
    with pytest.raises(BitstreamError, match="magic"):
        tiny_codec.decompress(b"\x89PNG\r\n\x1a\n" + bytes(100))
    header_only = bytearray(bomb_header(tiny_codec.model_id, side=64))
    header_only[4] = 9  # a future format version
    body = bytes(header_only[:-4])
    with pytest.raises(BitstreamError, match="version"):
        tiny_codec.decompress(body + struct.pack(">I", zlib.crc32(body)))


# -- the shipped model on Kodak -------------------------------------------------------------
def test_the_shipped_model_codes_kodim23_at_one_bpp_into_a_recognisable_image(shipped_codec):
    path = os.path.join(kodak_or_skip(), "kodim23.png")
    if not os.path.isfile(path):
        pytest.skip(f"{path} not found")
    original = np.asarray(Image.open(path).convert("RGB"))
    height, width = original.shape[:2]
    assert (height, width) == (512, 768)
    data = shipped_codec.compress(original, 8, entropy="raw")
    payload = 768 * 512 // 256 * 32 // 8
    assert payload * 8 / (768 * 512) == 0.125
    assert len(data) == header_bytes(shipped_codec.model_id) + 8 * (payload + 8)
    decoded = shipped_codec.decompress(data)
    assert decoded.shape == original.shape
    quality = metrics.psnr(original, decoded)
    assert math.isfinite(quality)
    assert quality > 20.0, f"kodim23 at 8 iterations: PSNR {quality:.2f} dB (bar: 20 dB)"


def test_the_codes_only_encoder_gives_the_same_codes_as_the_full_encoder(tiny_codec):
    image = smooth_image(45, 70, seed=3)
    for iterations in (1, 4):
        full, _ = tiny_codec.encode_codes(image, iterations)
        codes_only = tiny_codec.functions.encode_codes(image, np.int32(iterations)).numpy()
        np.testing.assert_array_equal(codes_only, full)


def test_progressive_decoding_gives_every_prefix_exactly_in_one_pass(tiny_codec):
    data = tiny_codec.compress(smooth_image(37, 61, seed=4), iterations=4)
    images = tiny_codec.decompress_progressive(data)
    assert len(images) == 4
    for k, image in enumerate(images, start=1):
        np.testing.assert_array_equal(image, tiny_codec.decompress(data, k))
