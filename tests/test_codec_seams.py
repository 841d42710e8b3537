"""The codec's parts take values and functions, not the codec: rate control, adaptive
allocation on any backend, the options, the file layout; no model needed."""

import dataclasses

import numpy as np
import pytest

from tfrnncomp.codec import adaptive, rate, tiling
from tfrnncomp.codec.layout import FileLayout
from tfrnncomp.codec.options import CompressOptions, check_iterations
from tfrnncomp.errors import (BitstreamError, ModelMismatchError, TargetNotMetError,
                              TfrnncompError)
from tfrnncomp.format import container as bitstream

IMAGE = np.zeros((16, 24, 3), np.uint8)


def prefixes(sizes, images=()):
    return rate.Prefixes(np.asarray(sizes), lambda: iter(images))


def test_a_size_budget_is_compared_in_whole_bytes():
    budget = rate.goal(CompressOptions(target_size=588), IMAGE, 3)
    assert budget.bits == 588 * 8
    assert budget.iterations(prefixes([588, 900])) == 1
    assert budget.iterations(prefixes([588, 900]), best_effort=False) == 1
    with pytest.raises(TargetNotMetError, match="the smallest file is 589 bytes"):
        budget.iterations(prefixes([589, 900]), best_effort=False)
    assert budget.iterations(prefixes([589, 900])) == 1  # best effort: the smallest file


def test_a_quality_goal_keeps_the_fewest_iterations_that_reach_it_and_decodes_lazily():
    goal = rate.goal(CompressOptions(target_psnr=30), IMAGE, 3)
    decoded = [IMAGE + 40, IMAGE + 1, IMAGE]  # PSNR about 16 dB, 48 dB, infinite
    assert goal.iterations(prefixes([10, 20, 30], decoded)) == 2
    unreached = rate.goal(CompressOptions(target_psnr=99), IMAGE, 3)
    assert unreached.iterations(prefixes([10, 20], decoded[:2])) == 2
    with pytest.raises(TargetNotMetError, match=r"the most iterations \(2\) reach PSNR"):
        unreached.iterations(prefixes([10, 20], decoded[:2]), best_effort=False)
    assert rate.goal(CompressOptions(iterations=3), IMAGE, 3) is None


@pytest.mark.parametrize("options,message", [
    (CompressOptions(iterations=2, bpp=1.0), "give one rate setting, not iterations and bpp"),
    (CompressOptions(target_size=0), "target size must be a positive number"),
    (CompressOptions(bpp=float("nan")), "bpp must be a positive number"),
    (CompressOptions(target_msssim=1.0), "below 1"),
])
def test_rate_goals_are_checked_before_any_encode(options, message):
    with pytest.raises(TfrnncompError, match=message):
        rate.goal(options, IMAGE, 3)


class FakeBackend:
    """An adaptive backend that stops every block after one iteration."""

    def __init__(self):
        self.calls = []

    def encode_adaptive(self, image, iterations, block, rule, threshold, plan):
        self.calls.append((int(iterations), int(block), int(rule), plan.copy()))
        h, w = plan.shape
        return {"codes": np.ones((1, 2, 2, 4), np.int8), "map": np.ones((h, w), np.int32),
                "reconstruction": image, "block_mse": np.zeros((int(iterations), h, w))}


def test_adaptive_allocation_runs_on_any_backend():
    backend = FakeBackend()
    plan = adaptive.allocation(CompressOptions(adaptive=True, slope=1.0, iterations=3), 16)
    assert (plan.rule, plan.block, plan.iterations) == ("lagrangian", 2, 3)
    codes, the_map, _ = adaptive.encode(backend, FileLayout("m@1", 32, 16, 4), IMAGE,
                                        plan.iterations, plan.block, plan.rule, plan.threshold)
    assert codes.shape == (1, 2, 2, 4) and the_map.dtype == np.uint8
    assert [call[2] for call in backend.calls] == [adaptive.PLAN, adaptive.PLAN]
    assert adaptive.allocation(CompressOptions(adaptive=True, target_psnr=30), 16).iterations == 16


@pytest.mark.parametrize("pad_multiple,block_size,grid", [
    (32, 16, (1, 1)),  # 16x24 pixels pad to 32x32: 2x2 code positions, one 2x2 block
    (64, 8, (4, 4)),  # pad to 64x64: 8x8 code positions
    (16, 4, (2, 4)),  # pad to 16x32: 4x8 code positions
])
def test_the_adaptive_plan_covers_the_code_grid_of_the_models_layout(pad_multiple, block_size,
                                                                     grid):
    backend = FakeBackend()
    layout = FileLayout("m@1", pad_multiple, block_size, 4)
    adaptive.encode(backend, layout, IMAGE, 3, 2, adaptive.QUALITY, 10.0)
    [(_, _, _, plan)] = backend.calls
    assert plan.shape == grid and (plan == 3).all()
    assert layout.code_grid(16, 24) == tuple(2 * n for n in grid)


@pytest.mark.parametrize("options,message", [
    (CompressOptions(adaptive=True, slope=1.0, bpp=0.5), "not bpp"),
    (CompressOptions(adaptive=True, slope=1.0, iterations=17), r"iterations must be in 1\.\.16"),
    (CompressOptions(adaptive=True), "target_psnr or slope"),
])
def test_adaptive_settings_are_checked(options, message):
    with pytest.raises(TfrnncompError, match=message):
        adaptive.allocation(options, 16)


def test_the_iteration_count_is_checked_in_one_place_under_the_name_given():
    assert check_iterations(np.int64(3), 16) == 3
    for bad in (0, 17, True, 2.0):
        with pytest.raises(TfrnncompError, match="iterations must be"):
            check_iterations(bad, 16)
    with pytest.raises(TfrnncompError, match=r"--iterations must be in 1\.\.8, got 9"):
        check_iterations(9, 8, "--iterations")


def test_options_name_their_goal():
    assert CompressOptions().goal is None and CompressOptions(iterations=3).goal is None
    assert CompressOptions(target_size=100).goal == "target_size"
    assert CompressOptions(adaptive=True, target_psnr=30).rate_settings() == ["target_psnr"]


def test_prefix_sizes_are_the_sizes_of_the_files_written():
    layout = FileLayout("m@1", 32, 16, 4)
    header = layout.header(40, 70, 3, 3, bitstream.EntropyMode.CONTEXT)
    chunks = [b"a" * 5, b"", b"b" * 9]
    sizes = bitstream.prefix_sizes(header, chunks)
    for k in (1, 2, 3):
        shorter = bitstream.write(dataclasses.replace(header, iterations=k), chunks[:k])
        assert sizes[k - 1] == len(shorter)


def test_the_layout_refuses_headers_of_another_model_or_size():
    layout = FileLayout("m@1", 32, 16, 4)
    header = layout.header(40, 70, 3, 1, bitstream.EntropyMode.RAW)
    assert (header.pad_height, header.pad_width) == (64, 96)
    layout.check(header)
    with pytest.raises(ModelMismatchError, match="written by model"):
        FileLayout("other@1", 32, 16, 4).check(header)
    with pytest.raises(ModelMismatchError, match="code depth"):
        FileLayout("m@1", 32, 16, 8).check(header)
    with pytest.raises(BitstreamError, match="padded size"):
        FileLayout("m@1", 64, 16, 4).check(header)


class BlockBackend:
    """A backend whose code at each position is the first pixel of its block, and whose
    decoder paints each block with its code: codes and images show where every tile went."""

    def __init__(self, layout):
        self.layout = layout

    def encode_codes(self, image, iterations):
        size = self.layout.block_size
        padded = np.pad(image, [(0, -n % self.layout.pad_multiple) for n in image.shape[:2]]
                        + [(0, 0)], mode="edge")
        corners = padded[::size, ::size, :1].astype(np.int8)
        return np.broadcast_to(corners, (int(iterations),) + corners.shape[:2]
                               + (self.layout.code_depth,)).copy()

    def decode(self, codes, height, width):
        size = self.layout.block_size
        pixels = np.repeat(np.repeat(codes[-1, :, :, :1], size, axis=0), size, axis=1)
        return np.repeat(pixels, 3, axis=2)[:int(height), :int(width)].astype(np.uint8)

    def decode_all(self, codes, height, width):
        return np.stack([self.decode(codes[:t + 1], height, width) for t in range(len(codes))])


@pytest.mark.parametrize("pad_multiple,block_size", [(32, 16), (8, 4), (16, 2)])
def test_tiles_find_their_codes_on_the_code_grid_of_the_models_layout(pad_multiple, block_size):
    layout = FileLayout("m@1", pad_multiple, block_size, 3)
    backend = BlockBackend(layout)
    image = (np.arange(40 * 52).reshape(40, 52, 1) % 101).astype(np.uint8).repeat(3, axis=2)
    whole = tiling.encode_codes(backend, layout, image, 2, None)
    tiled = tiling.encode_codes(backend, layout, image, 2, pad_multiple)
    assert tiled.shape == (2,) + layout.code_grid(40, 52) + (3,)
    np.testing.assert_array_equal(tiled, whole)
    for every_iteration in (False, True):
        np.testing.assert_array_equal(
            tiling.decode(backend, layout, tiled, 40, 52, pad_multiple, every_iteration),
            tiling.decode(backend, layout, whole, 40, 52, None, every_iteration))
