"""Tiled coding of large images: same codes per tile, one progressive file, bounded graphs."""

import numpy as np
import pytest

from tests.helpers import smooth_image
from tfrnncomp.codec import tiling
from tfrnncomp.codec import Codec
from tfrnncomp.format import extensions


@pytest.fixture(scope="module")
def tiled_codec(tiny_model):
    return Codec(tiny_model, tile=64)


def test_a_tiled_file_records_its_tile_size_and_decodes_tile_by_tile(tiled_codec, tiny_codec):
    image = smooth_image(100, 150, seed=2)
    data = tiled_codec.compress(image, iterations=3)
    header = tiled_codec.read(data).header
    assert extensions.tile_of(header) == 64
    decoded = tiled_codec.decompress(data)
    # each tile's block of the code tensor decodes to that tile of the image
    codes = tiled_codec.decode_chunks(header, tiled_codec.read(data).chunks)
    padded = np.pad(image, ((0, 28), (0, 10), (0, 0)), mode="edge")
    for y in range(0, 128, 64):
        for x in range(0, 160, 64):
            block = codes[:, y // 16:(y + 64) // 16, x // 16:(x + 64) // 16]
            h, w = block.shape[1] * 16, block.shape[2] * 16
            tile_codes, _ = tiny_codec.encode_codes(padded[y:y + h, x:x + w], 3)
            np.testing.assert_array_equal(block, tile_codes)
            expected = tiny_codec.decode_codes(block, h, w)[:100 - y, :150 - x]
            np.testing.assert_array_equal(decoded[y:y + h, x:x + w], expected)


def test_tiled_files_stay_progressive(tiled_codec):
    data = tiled_codec.compress(smooth_image(70, 90), iterations=3)
    images = tiled_codec.decompress_progressive(data)
    for k in (1, 2, 3):
        np.testing.assert_array_equal(images[k - 1], tiled_codec.decompress(data, k))


def test_an_untiled_codec_reads_tiled_files_the_same_way(tiled_codec, tiny_codec):
    data = tiled_codec.compress(smooth_image(70, 90), iterations=2)
    np.testing.assert_array_equal(tiny_codec.decompress(data), tiled_codec.decompress(data))


def test_tiles_of_different_sizes_compile_nothing_new(tiled_codec):
    tiled_codec.compress(smooth_image(64, 64), iterations=2)
    before = tiled_codec.functions.encode_codes.experimental_get_tracing_count()
    tiled_codec.compress(smooth_image(100, 170), iterations=2)
    assert tiled_codec.functions.encode_codes.experimental_get_tracing_count() == before


def test_large_images_are_tiled_automatically_and_small_ones_not(monkeypatch):
    assert tiling.choose_tile(512, 768) is None
    assert tiling.choose_tile(3000, 4000) == tiling.DEFAULT_TILE
    assert tiling.choose_tile(3000, 4000, tile=None) is None
    assert tiling.choose_tile(100, 100, tile=96) == 96
    with pytest.raises(ValueError, match="multiple of 32"):
        tiling.choose_tile(100, 100, tile=100)
