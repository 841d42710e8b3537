"""The Pillow plugin, through Pillow's public API only."""

import io

import numpy as np
import pytest
from PIL import Image, ImageFile

import tfrnncomp.pillow  # noqa: F401  (registers the format)
from tests.helpers import smooth_image


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


def test_the_search_option_writes_the_file_the_codec_writes_with_search(rgb_image,
                                                                        tiny_model_dir):
    from tfrnncomp.codec import Codec

    buffer = io.BytesIO()
    rgb_image.save(buffer, format="TRC", iterations=2, search=1, model=tiny_model_dir)
    assert buffer.getvalue() == Codec(tiny_model_dir).compress(np.asarray(rgb_image), 2,
                                                               search=1)


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


@pytest.fixture()
def coded(tmp_path, rgb_image, tiny_model_dir):
    """A 40x56 file of 3 iterations written through the plugin (context coding)."""
    path = tmp_path / "x.trc"
    rgb_image.save(path, iterations=3, model=tiny_model_dir, entropy="context")
    return path.read_bytes()


def test_image_max_image_pixels_warns_and_refuses_as_for_pillows_own_formats(coded, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 40 * 56 - 1)
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(io.BytesIO(coded)).close()
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(coded))
    with pytest.raises(Image.DecompressionBombError):
        tfrnncomp.pillow.open_iterations(coded, 1)


def test_load_errors_are_oserrors_and_verify_checks_every_chunk_crc(coded):
    damaged = bytearray(coded)
    damaged[-6] ^= 0xFF  # inside the last chunk's payload
    with Image.open(io.BytesIO(bytes(damaged))) as opened:
        with pytest.raises(SyntaxError, match="checksum"):
            opened.verify()
    with Image.open(io.BytesIO(bytes(damaged))) as opened:
        with pytest.raises(OSError, match="checksum"):
            opened.load()
    with Image.open(io.BytesIO(coded)) as opened:
        opened.verify()


def test_a_truncated_file_raises_unless_load_truncated_images_then_its_whole_iterations_decode(
        coded, monkeypatch, tiny_model_dir):
    cut = coded[:-10]  # inside the third chunk
    with Image.open(io.BytesIO(cut)) as opened:
        assert opened.info["iterations"] == 2
        with pytest.raises(OSError, match="file ends inside chunk 3 of 3"):
            opened.load()
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with Image.open(io.BytesIO(cut)) as opened:
        array = np.asarray(opened)
    expected = np.asarray(tfrnncomp.pillow.open_iterations(coded, 2, model=tiny_model_dir))
    np.testing.assert_array_equal(array, expected)
