"""Rate control: budgets and quality targets from one encode."""

import numpy as np
import pytest

from tests.helpers import smooth_image
from tfrnncomp.eval import metrics
from tfrnncomp.apps.parser import parse_size
from tfrnncomp.errors import InputImageError, TargetNotMetError, TfrnncompError


@pytest.fixture(scope="module")
def image():
    return smooth_image(176, 192, seed=11)


def test_a_size_budget_gives_the_longest_prefix_that_fits(tiny_codec, image):
    full = tiny_codec.compress(image, iterations=16)
    for budget in (900, 2500, 6000):
        data = tiny_codec.compress(image, target_size=budget)
        assert len(data) <= budget or tiny_codec.read(data).header.iterations == 1
        k = tiny_codec.read(data).header.iterations
        if k < 16:  # one more iteration would not have fitted
            longer = tiny_codec.compress(image, iterations=k + 1)
            assert len(longer) > budget
        # the budgeted file is a prefix of the full encode
        np.testing.assert_array_equal(tiny_codec.decompress(data),
                                      tiny_codec.decompress(full, k))


def test_a_psnr_target_gives_the_fewest_iterations_that_reach_it(tiny_codec, image):
    images = tiny_codec.decompress_progressive(tiny_codec.compress(image, iterations=16))
    scores = [metrics.psnr(image, decoded) for decoded in images]
    target = sorted(scores)[len(scores) // 2]
    data = tiny_codec.compress(image, target_psnr=target)
    k = tiny_codec.read(data).header.iterations
    assert scores[k - 1] >= target
    assert all(score < target for score in scores[:k - 1])


def test_an_msssim_target_is_met_when_reachable(tiny_codec, image):
    data = tiny_codec.compress(image, target_msssim=0.01)
    assert tiny_codec.read(data).header.iterations == 1
    unreachable = tiny_codec.compress(image, target_msssim=0.999999)
    assert tiny_codec.read(unreachable).header.iterations == 16


def test_a_budget_below_one_iteration_raises_naming_the_smallest_file_unless_best_effort(
        tiny_codec, image):
    smallest = tiny_codec.compress(image, iterations=1)
    for setting in (dict(target_size=10), dict(bpp=0.001)):
        assert tiny_codec.compress(image, **setting) == smallest  # best effort by default
        expected = rf"the smallest file is {len(smallest)} bytes \(.* 1 iteration\)"
        with pytest.raises(TargetNotMetError, match=expected):
            tiny_codec.compress(image, best_effort=False, **setting)
    assert tiny_codec.compress(image, target_size=len(smallest), best_effort=False) == smallest


def test_an_unreachable_quality_target_raises_naming_what_all_iterations_reach_unless_best_effort(
        tiny_codec, image):
    last = metrics.psnr(image, tiny_codec.decompress(tiny_codec.compress(image, iterations=16)))
    with pytest.raises(TargetNotMetError,
                       match=rf"the most iterations \(16\) reach PSNR {last:.2f} dB, below the "
                             r"target PSNR 99 dB"):
        tiny_codec.compress(image, target_psnr=99, best_effort=False)
    with pytest.raises(TargetNotMetError, match=r"reach MS-SSIM 0\.\d{4}, below the target "
                                                r"MS-SSIM 0\.999999"):
        tiny_codec.compress(image, target_msssim=0.999999, best_effort=False)
    reached = tiny_codec.compress(image, target_psnr=1, best_effort=False)
    assert tiny_codec.read(reached).header.iterations == 1


def test_rate_settings_are_validated(tiny_codec, image):
    with pytest.raises(TfrnncompError, match="one rate setting"):
        tiny_codec.compress(image, iterations=3, target_size=1000)
    with pytest.raises(TfrnncompError, match="positive"):
        tiny_codec.compress(image, bpp=-1)
    with pytest.raises(InputImageError, match="too small for an MS-SSIM target"):
        tiny_codec.compress(image[:100, :100], target_msssim=0.9)


def test_sizes_parse_with_decimal_and_binary_units():
    assert parse_size("40KB") == 40000 and parse_size("40kib") == 40960
    assert parse_size("1.5MB") == 1500000 and parse_size("123") == 123
