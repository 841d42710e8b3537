"""The Pillow plugin, through Pillow's public API only."""

import io

import numpy as np
import pytest
from PIL import Image

import tfrnncomp.pillow  # noqa: F401  (registers the format)
from tests.conftest import smooth_image


@pytest.fixture()
def rgb_image():
    return Image.fromarray(smooth_image(40, 56))


def test_saving_by_extension_and_opening_gives_a_trc_image_of_the_same_size(tmp_path, rgb_image,
                                                                             tiny_model_dir):
    path = tmp_path / "x.trc"
    rgb_image.save(path, iterations=3, model=tiny_model_dir)
    with Image.open(path) as opened:
        assert opened.format == "TRC"
        assert opened.size == (56, 40) and opened.mode == "RGB"
        assert opened.info["iterations"] == 3
        opened.load()
        array = np.asarray(opened)
    assert array.shape == (40, 56, 3) and array.dtype == np.uint8


def test_the_decoded_pixels_equal_the_codecs_output(tmp_path, rgb_image, tiny_model_dir):
    from tfrnncomp.codec import Codec

    buffer = io.BytesIO()
    rgb_image.save(buffer, format="TRC", iterations=2, model=tiny_model_dir)
    data = buffer.getvalue()
    expected = Codec(tiny_model_dir).decompress(data)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(data))), expected)


def test_greyscale_images_reopen_as_mode_l(tmp_path, tiny_model_dir):
    image = Image.fromarray(smooth_image(33, 20)[..., 0])
    path = tmp_path / "g.trc"
    image.save(path, quality=25, model=tiny_model_dir)
    with Image.open(path) as opened:
        assert opened.mode == "L"
        assert np.asarray(opened).shape == (33, 20)
        assert opened.info["iterations"] == 4  # quality 25 -> 25% of 16 iterations


def test_bpp_and_iterations_options_control_the_file_size(tmp_path, rgb_image, tiny_model_dir):
    sizes = []
    for iterations in (1, 4):
        buffer = io.BytesIO()
        rgb_image.save(buffer, format="TRC", iterations=iterations, model=tiny_model_dir,
                       entropy="raw")
        sizes.append(len(buffer.getvalue()))
    assert sizes[1] > sizes[0]
    buffer = io.BytesIO()
    rgb_image.save(buffer, format="TRC", bpp=1.0, model=tiny_model_dir)
    assert len(buffer.getvalue()) * 8 / (40 * 56) <= 1.0


def test_the_extension_and_mime_type_are_registered():
    assert Image.registered_extensions()[".trc"] == "TRC"
    assert Image.MIME["TRC"] == "image/x-tfrnncomp"


def test_a_non_trc_file_is_not_claimed_by_the_plugin(tmp_path):
    path = tmp_path / "fake.trc"
    path.write_bytes(b"not an image at all")
    with pytest.raises(Image.UnidentifiedImageError):
        Image.open(path)
