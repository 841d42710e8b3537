"""Code search: the encoder flips bits where that lowers the decoded error; files stay
ordinary files for the unchanged decoder."""

import numpy as np
import pytest

from tests.helpers import smooth_image
from tfrnncomp.errors import TfrnncompError
from tfrnncomp.runtime import search


def _mse(a, b):
    return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def test_search_lowers_the_error_of_the_first_iteration_with_the_shipped_model(shipped_codec):
    image = smooth_image(64, 96, seed=3)
    plain = shipped_codec.decompress(shipped_codec.compress(image, iterations=1, entropy="raw"))
    searched = shipped_codec.decompress(
        shipped_codec.compress(image, iterations=1, entropy="raw", search=1))
    assert _mse(image, searched) < _mse(image, plain)


def test_a_searched_file_decodes_to_the_image_the_encoder_reconstructed(shipped_codec):
    image = smooth_image(48, 80, seed=4)
    encoded = shipped_codec._encoder(1).encode(image, 3)
    data = shipped_codec.compress(image, iterations=3, search=1)
    np.testing.assert_array_equal(shipped_codec.decompress(data),
                                  np.asarray(encoded["reconstruction"]))
    assert shipped_codec.read(data).header.iterations == 3


def test_search_zero_writes_the_same_file_as_no_search(tiny_codec):
    image = smooth_image(40, 56, seed=5)
    assert tiny_codec.compress(image, iterations=2, search=0) == tiny_codec.compress(
        image, iterations=2)


def test_searched_tiles_decode_and_never_lose_to_plain_tiles_after_one_iteration(tiny_model):
    from tfrnncomp.codec import Codec

    codec = Codec(tiny_model, tile=32)
    image = smooth_image(64, 96, seed=6)
    plain = codec.decompress(codec.compress(image, iterations=1, entropy="raw"))
    searched = codec.decompress(codec.compress(image, iterations=1, entropy="raw", search=2))
    assert searched.shape == image.shape
    assert _mse(image, searched) <= _mse(image, plain) + 0.5  # uint8 rounding per tile


def test_a_budget_with_search_keeps_to_the_budget(shipped_codec):
    image = smooth_image(64, 64, seed=7)
    budget = shipped_codec.file_size(64, 64, 3)
    data = shipped_codec.compress(image, target_size=budget, entropy="raw", search=1)
    assert len(data) <= budget


@pytest.mark.parametrize("value", [-1, search.MAX_SWEEPS + 1, 1.5, True, "2"])
def test_search_refuses_what_is_not_a_sweep_count(tiny_codec, value):
    with pytest.raises(TfrnncompError, match="search must"):
        tiny_codec.compress(smooth_image(32, 32), iterations=1, search=value)


def test_search_refuses_adaptive_coding(tiny_codec):
    with pytest.raises(TfrnncompError, match="adaptive"):
        tiny_codec.compress(smooth_image(32, 32), adaptive=True, target_psnr=30, search=1)


def test_the_candidate_is_the_bit_whose_flip_is_predicted_to_help_most():
    bits = np.array([[[[1.0, -1.0, 1.0]]]], np.float32)
    # predicted change of flipping bit b: -2 b g -> [-2, -4, +2]
    gradient = np.array([[[[1.0, -2.0, -1.0]]]], np.float32)
    np.testing.assert_array_equal(search._candidates(bits, gradient), [[[[False, True, False]]]])
    # no flip predicted to help (changes +2, +4, +2): no candidate
    no_help = np.array([[[[-1.0, 2.0, -1.0]]]], np.float32)
    np.testing.assert_array_equal(search._candidates(bits, no_help), np.zeros((1, 1, 1, 3), bool))


def test_the_groups_cover_every_code_position_once():
    total = sum(mask.astype(int) for mask in search._groups((5, 7)))
    np.testing.assert_array_equal(total, np.ones((5, 7), int))


def test_the_neighbourhood_sums_the_three_by_three_positions_around_each():
    error = np.zeros((4, 4))
    error[1, 1] = 1.0
    expected = np.zeros((4, 4))
    expected[0:3, 0:3] = 1.0
    np.testing.assert_array_equal(search._neighbourhood(error), expected)
