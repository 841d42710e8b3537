"""Tests of what the Codec API accepts: colour modes, alpha, 16-bit images, EXIF orientation,
wrong shapes. Everything here uses the tiny untrained model of conftest.py.
"""

import numpy as np
import pytest
from PIL import Image

from tests.helpers import png16, save_oriented, smooth_image, wide_image
from tfrnncomp.format import container as bitstream
from tfrnncomp.errors import InputImageError, InputImageWarning


# -- colour modes ---------------------------------------------------------------------------
def test_a_greyscale_array_decodes_to_a_greyscale_array(tiny_codec):
    grey = smooth_image(21, 34, seed=5)[..., 1]
    data = tiny_codec.compress(grey, 2)
    decoded = tiny_codec.decompress(data)
    assert decoded.shape == (21, 34) and decoded.dtype == np.uint8
    assert bitstream.read(data).header.channels == 1
    # coded as three equal channels, decoded as their mean
    rgb = tiny_codec.decode_codes(tiny_codec.encode_codes(np.repeat(grey[..., None], 3, -1), 2)[0],
                                  21, 34)
    assert np.array_equal(decoded, np.round(rgb.astype(np.float32).mean(-1)).astype(np.uint8))
    # HxWx1 is greyscale too, and gives the same file
    assert tiny_codec.compress(grey[..., None], 2) == data
    # and a rate budget keeps it greyscale, in each entropy mode
    for entropy in ("raw", "context"):
        budgeted = tiny_codec.compress(grey, bpp=3.0, entropy=entropy)
        assert bitstream.read(budgeted).header.channels == 1
        assert tiny_codec.decompress(budgeted).shape == (21, 34)


def test_a_pil_greyscale_image_decodes_to_a_greyscale_array_and_l_image(tiny_codec):
    grey = smooth_image(19, 40, seed=6)[..., 0]
    data = tiny_codec.compress(Image.fromarray(grey, mode="L"), 2)
    assert data == tiny_codec.compress(grey, 2)
    assert tiny_codec.decompress(data).shape == (19, 40)
    image = tiny_codec.decompress_image(data)
    assert image.mode == "L" and image.size == (40, 19)


def test_rgba_input_raises_input_image_error_unless_alpha_is_dropped(tiny_codec):
    rgb = smooth_image(23, 29, seed=7)
    alpha = np.full((23, 29, 1), 128, np.uint8)
    rgba = np.concatenate([rgb, alpha], -1)
    with pytest.raises(InputImageError, match="drop_alpha"):
        tiny_codec.compress(rgba, 2)
    with pytest.raises(InputImageError, match="drop_alpha"):
        tiny_codec.compress(Image.fromarray(rgba, mode="RGBA"), 2)
    expected = tiny_codec.compress(rgb, 2)
    assert tiny_codec.compress(rgba, 2, drop_alpha=True) == expected
    assert tiny_codec.compress(Image.fromarray(rgba, mode="RGBA"), 2, drop_alpha=True) == expected


def test_greyscale_with_alpha_raises_unless_alpha_is_dropped(tiny_codec):
    la = Image.fromarray(smooth_image(12, 14)[..., :2].copy(), mode="LA")
    with pytest.raises(InputImageError):
        tiny_codec.compress(la, 1)
    data = tiny_codec.compress(la, 1, drop_alpha=True)
    assert tiny_codec.decompress(data).shape == (12, 14)


def test_sixteen_bit_arrays_and_pil_i16_images_are_coded_as_their_high_bytes_with_a_warning(
        tiny_codec):
    wide, high = wide_image(16, 16, seed=3)
    i16 = Image.frombytes("I;16", (16, 16), wide[..., 0].astype("<u2").tobytes())
    i32 = Image.fromarray(wide[..., 0].astype(np.int32))
    assert (i16.mode, i32.mode) == ("I;16", "I")
    for image, expected in ((wide, high), (wide.astype(">u2"), high), (wide[..., 0], high[..., 0]),
                            (i16, high[..., 0]), (i32, high[..., 0])):
        with pytest.warns(InputImageWarning, match="16-bit image converted to 8 bits per sample"):
            assert tiny_codec.compress(image, 1) == tiny_codec.compress(expected, 1)
    with pytest.raises(InputImageError, match="outside 0..65535"):
        tiny_codec.compress(Image.fromarray(np.full((4, 4), 70000, np.int32)), 1)
    with pytest.raises(InputImageError, match="float"):
        tiny_codec.compress(smooth_image(8, 8).astype(np.float32), 1)


@pytest.mark.parametrize("grey", [False, True], ids=["rgb", "greyscale"])
def test_a_16_bit_png_path_is_coded_as_its_high_bytes_with_a_warning_naming_the_file(
        tiny_codec, tmp_path, grey):
    wide, high = wide_image(20, 13, seed=4, grey=grey)
    path = tmp_path / "wide.png"
    path.write_bytes(png16(wide))
    with pytest.warns(InputImageWarning) as caught:
        data = tiny_codec.compress(str(path), 2)
    assert [str(w.message) for w in caught] == [
        f"{path}: 16-bit image converted to 8 bits per sample (the codec codes 8-bit images)"]
    assert data == tiny_codec.compress(high, 2)
    assert bitstream.read(data).header.channels == (1 if grey else 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_an_image_file_is_opened_upright_by_its_exif_orientation(tmp_path, orientation):
    from PIL import ImageOps

    from tfrnncomp.codec import image_io

    path = save_oriented(tmp_path / "photo.png", smooth_image(12, 20, seed=orientation),
                         orientation)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert upright.shape[:2] == ((12, 20) if orientation < 5 else (20, 12))
    assert np.array_equal(np.asarray(image_io.open_image(path)), upright)


def test_a_path_with_an_exif_orientation_is_compressed_upright(tiny_codec, tmp_path):
    original = smooth_image(24, 40, seed=6)
    path = save_oriented(tmp_path / "turned.png", original, 6)  # shown turned 90 degrees right
    data = tiny_codec.compress(path, 2)
    assert bitstream.read(data).header.height == 40
    assert data == tiny_codec.compress(np.rot90(original, -1), 2)


def test_an_exif_block_that_does_not_parse_leaves_the_image_as_stored(tmp_path):
    from tfrnncomp.codec import image_io

    original = smooth_image(6, 9, seed=7)
    path = tmp_path / "junk-exif.png"
    Image.fromarray(original).save(path, exif=b"garbage")
    assert np.array_equal(np.asarray(image_io.open_image(path)), original)


def test_images_of_wrong_shape_raise_input_image_error(tiny_codec):
    for bad in (np.zeros((4, 4, 2), np.uint8), np.zeros((0, 5, 3), np.uint8),
                np.zeros((5,), np.uint8), np.zeros((2, 2, 2, 3), np.uint8)):
        with pytest.raises(InputImageError):
            tiny_codec.compress(bad, 1)


def test_a_palette_image_is_coded_as_rgb(tiny_codec):
    rgb = smooth_image(20, 30, seed=8)
    palette = Image.fromarray(rgb).quantize(16)
    assert palette.mode == "P"
    data = tiny_codec.compress(palette, 2)
    assert data == tiny_codec.compress(np.asarray(palette.convert("RGB")), 2)
    assert tiny_codec.decompress(data).shape == (20, 30, 3)
