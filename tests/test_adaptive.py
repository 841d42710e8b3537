"""Spatially adaptive bit allocation: the iteration map, masked coding, its file format."""

import dataclasses
import struct
import zlib

import numpy as np
import pytest

from tests.helpers import adaptive_file as write_adaptive, load_tool, smooth_image
from tfrnncomp.codec import adaptive
from tfrnncomp.format import blockmap, extensions
from tfrnncomp.format import container as bitstream
from tfrnncomp.format import header as header_module
from tfrnncomp.codec.adaptive import lagrangian_plan
from tfrnncomp.codec import Codec
from tfrnncomp.entropy.coding import context
from tfrnncomp.errors import BitstreamError, TfrnncompError, TruncatedError

HEIGHT, WIDTH = 70, 100  # padded 96x128: 6x8 code positions, a 3x4 map of 32x32 blocks


def block_mse(image, reconstruction, size=32):
    """Per-block MSE over the image's own pixels, as the encoder measures it."""
    error = np.square(reconstruction.astype(np.float64) - image).sum(-1)
    rows, cols = -(-image.shape[0] // size), -(-image.shape[1] // size)
    out = np.zeros((rows, cols))
    for by in range(rows):
        for bx in range(cols):
            tile = error[by * size:(by + 1) * size, bx * size:(bx + 1) * size]
            out[by, bx] = tile.sum() / (tile.size * 3)
    return out


@pytest.fixture(scope="module")
def image():
    return smooth_image(HEIGHT, WIDTH, seed=3)


@pytest.fixture(scope="module")
def varied(tiny_codec, image):
    """An adaptive encoding whose map is not constant: the target is the median block
    MSE after one iteration, so about half of the blocks stop there (any weights)."""
    _, first = tiny_codec.encode_codes(image, 1)
    mse = np.unique(block_mse(image, first))
    assert len(mse) > 2
    middle = len(mse) // 2
    threshold = (mse[middle - 1] + mse[middle]) / 2
    encoded = tiny_codec.compress_adaptive(
        image, adaptive.Allocation(adaptive.QUALITY, threshold, 2, 4), "raw")
    codes, the_map, reconstruction = encoded.codes, encoded.iteration_map, encoded.reconstruction
    assert the_map.shape == (3, 4) and the_map.min() == 1 and len(np.unique(the_map)) >= 2
    return codes, the_map, reconstruction


def adaptive_file(codec, varied, entropy):
    codes, the_map, _ = varied
    return write_adaptive(codec, codes, HEIGHT, WIDTH, entropy, 2, the_map)


# -- the map in the header ----------------------------------------------------------------------
@pytest.mark.parametrize("top", [3, 16, 40])
def test_the_iteration_map_round_trips_through_the_header(top):
    rng = np.random.default_rng(top)
    the_map = rng.integers(1, top + 1, size=(5, 7)).astype(np.uint8)
    the_map[0, 0] = top
    header = bitstream.Header(model_id="m@1", height=150, width=200, channels=3,
                              pad_height=160, pad_width=224, iterations=top,
                              extensions=extensions.iteration_map_extension(2, the_map))
    parsed, _ = bitstream.decode_header(bitstream.encode_header(header))
    block, values = parsed.iteration_map
    assert block == 2 and np.array_equal(values, the_map)
    if top > 16:  # too many iterations for 4-bit packing
        assert blockmap.encode(2, the_map)[0] == 0


def test_a_flat_map_costs_a_few_bytes_in_the_header():
    the_map = np.full((16, 24), 5, np.uint8)  # a Kodak image in 32x32 blocks
    assert len(blockmap.encode(2, the_map)) < 20


def test_active_positions_follow_the_map_and_never_restart():
    the_map = np.array([[1, 3], [2, 3]], np.uint8)
    shape = (3, 4, 32)  # a partial last block row
    masks = [blockmap.active_positions(the_map, 2, shape, t) for t in (1, 2, 3, 4)]
    assert masks[0].all() and not masks[3].any()
    assert np.array_equal(masks[1], [[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]])
    for earlier, later in zip(masks, masks[1:]):
        assert not np.any(later & ~earlier)


# -- invalid maps -------------------------------------------------------------------------------
def forged(value, iterations=3):
    return bitstream.Header(model_id="m@1", height=60, width=60, channels=3, pad_height=64,
                            pad_width=64, iterations=iterations,
                            extensions={extensions.Tag.ITERATION_MAP: value})


def raw_value(fmt, block, rows, cols, payload, compress=True):
    body = blockmap._deflate(payload) if compress else payload
    return struct.pack(">BBHH", fmt, block, rows, cols) + body


@pytest.mark.parametrize("value,message", [
    (raw_value(0, 2, 2, 2, bytes([1, 2, 3, 0])), "span 0..3"),
    (raw_value(0, 2, 2, 2, bytes([1, 2, 3, 4])), "span 1..4"),
    (raw_value(0, 2, 2, 2, bytes([1, 2, 2, 2])), "reaching 3"),
    (raw_value(0, 2, 2, 3, bytes([1, 2, 3, 3, 3, 3])), "expected 2x2"),
    (raw_value(0, 0, 2, 2, bytes([1, 2, 3, 3])), "block size"),
    (raw_value(7, 2, 2, 2, bytes([1, 2, 3, 3])), "format 7"),
    (raw_value(0, 2, 2, 2, bytes([1, 2, 3])), "expected 4"),
    (raw_value(0, 2, 2, 2, bytes([1, 2, 3, 3, 3])), "expected 4"),
    (raw_value(0, 2, 2, 2, b"\xff\xff\xff\xff", compress=False), "not valid deflate"),
    (raw_value(0, 2, 2, 2, bytes([1, 2, 3, 3]))[:-3], "expected 4"),
    (raw_value(0, 2, 2, 2, bytes([1, 2, 3, 3])) + b"x", "trailing"),
    (b"\x00\x02", "shorter"),
])
def test_an_invalid_iteration_map_raises_bitstream_error(value, message):
    header = forged(value)
    with pytest.raises(BitstreamError, match=message):
        header.validate()
    with pytest.raises(BitstreamError, match=message):
        bitstream.decode_header(_bytes(header))


def _bytes(header):
    """The header's bytes without validating its extensions (to test the reader)."""
    data = bitstream.encode_header(dataclasses.replace(header, extensions={}))
    ext = header_module._encode_extensions(header.extensions)
    body = bytearray(data[:-6]) + struct.pack(">H", len(ext)) + ext
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)))


def test_a_map_that_does_not_fit_the_chunk_sizes_is_refused(tiny_codec, varied):
    data = adaptive_file(tiny_codec, varied, "raw")
    header, start = bitstream.decode_header(data)
    longer = np.full_like(varied[1], varied[1].max())  # same top, every block active
    forged_header = dataclasses.replace(
        header, extensions=extensions.iteration_map_extension(2, longer))
    with pytest.raises(BitstreamError, match="expected .* for RAW codes"):
        tiny_codec.read(bitstream.encode_header(forged_header) + data[start:])


def test_a_tiled_and_adaptive_file_is_refused(tiny_codec, varied):
    data = adaptive_file(tiny_codec, varied, "raw")
    header, start = bitstream.decode_header(data)
    both = dict(header.extensions)
    both[1] = struct.pack(">II", 64, 64)
    forged_header = dataclasses.replace(header, extensions=both)
    with pytest.raises(BitstreamError, match="tiled and spatially adaptive"):
        tiny_codec.decompress(bitstream.encode_header(forged_header) + data[start:])


# -- coding -------------------------------------------------------------------------------------
@pytest.mark.parametrize("entropy", ["raw", "context"])
def test_an_adaptive_file_decodes_to_exactly_the_encoders_reconstruction(tiny_codec, varied,
                                                                         entropy):
    codes, the_map, reconstruction = varied
    data = adaptive_file(tiny_codec, varied, entropy)
    assert np.array_equal(tiny_codec.decompress(data), reconstruction)
    # stopped positions carry codes 0, the others +-1
    header = tiny_codec.read(data).header
    for t in range(len(codes)):
        active = header.active_positions(t)
        assert np.all(np.abs(codes[t][active]) == 1) and not codes[t][~active].any()
    assert np.array_equal(tiny_codec.decode_chunks(header, tiny_codec.read(data).chunks), codes)


def test_raw_chunks_pack_only_the_active_positions(tiny_codec, varied):
    codes, the_map, _ = varied
    container = tiny_codec.read(adaptive_file(tiny_codec, varied, "raw"))
    for t, chunk in enumerate(container.chunks):
        active = blockmap.active_positions(the_map, 2, codes.shape[1:], t + 1)
        assert len(chunk) == -(-int(active.sum()) * 32 // 8)
    full = tiny_codec.compress(smooth_image(HEIGHT, WIDTH, seed=3), len(codes), entropy="raw")
    assert sum(map(len, container.chunks)) < sum(map(len, tiny_codec.read(full).chunks))


def test_stopped_blocks_keep_their_pixels_after_their_last_iteration(tiny_codec, varied):
    codes, the_map, _ = varied
    images = tiny_codec.decompress_progressive(adaptive_file(tiny_codec, varied, "context"))
    changed_later = False
    for by, bx in np.ndindex(the_map.shape):
        last = the_map[by, bx]
        area = np.s_[by * 32:(by + 1) * 32, bx * 32:(bx + 1) * 32]
        for later in images[last:]:
            assert np.array_equal(later[area], images[last - 1][area])
        changed_later |= any(not np.array_equal(images[t][area], images[t - 1][area])
                             for t in range(1, last))
    assert changed_later  # some block did change while it was active


@pytest.mark.parametrize("entropy", ["raw", "context"])
def test_a_cut_adaptive_file_decodes_its_whole_iterations(tiny_codec, varied, entropy):
    data = adaptive_file(tiny_codec, varied, entropy)
    images = tiny_codec.decompress_progressive(data)
    sizes = [len(c) for c in tiny_codec.read(data).chunks]
    end = len(data) - sum(sizes) - 8 * len(sizes)
    for k in range(1, len(sizes)):
        end += sizes[k - 1] + 8
        assert np.array_equal(tiny_codec.decompress(data[:end + 3]), images[k - 1])
        assert np.array_equal(tiny_codec.decompress(data, k), images[k - 1])
        with pytest.raises(TruncatedError):
            tiny_codec.decompress(data[:end + 3], strict=True)


def test_the_context_model_codes_only_active_positions_and_ignores_the_others():
    from tfrnncomp.entropy.coding.rangecoder import BinaryTable

    table = BinaryTable()
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2, size=(6, 5, 32)).astype(np.uint8)
    previous = (rng.integers(0, 2, size=bits.shape).astype(np.uint8), None)
    active = rng.random((6, 5)) < 0.5
    payload = context.encode(table, bits, previous, active)
    decoded = context.decode(table, payload, bits.shape, previous, active)
    assert np.array_equal(decoded[active], bits[active]) and not decoded[~active].any()
    scrambled = bits.copy()
    scrambled[~active] ^= 1  # bits at inactive positions, also as `up` neighbours, are unused
    assert context.encode(table, scrambled, previous, active) == payload
    assert len(context.indices_for(bits, previous, active)) == active.sum() * 32


# -- behaviour with the shipped model -------------------------------------------------------------
def test_a_flat_region_gets_fewer_iterations_than_a_textured_one(shipped_codec):
    image = smooth_image(64, 128, seed=1)
    image[:, :64] = (90, 140, 200)  # flat sky on the left half
    data = shipped_codec.compress(image, target_psnr=30, adaptive=True, entropy="raw")
    block, the_map = shipped_codec.read(data).header.iteration_map
    assert block == 2 and the_map.shape == (2, 4)
    assert the_map[:, :2].max() < the_map[:, 2:].min()
    fixed = shipped_codec.compress(image, iterations=int(the_map.max()), entropy="raw")
    assert len(data) < len(fixed)


# -- API ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,message", [
    (dict(adaptive=True), "target_psnr or slope"),
    (dict(adaptive=True, bpp=0.5), "not bpp"),
    (dict(adaptive=True, target_msssim=0.9), "not target_msssim"),
    (dict(adaptive=True, target_psnr=30, slope=1.0), "not target_psnr"),
    (dict(adaptive=True, target_psnr=-3), "positive"),
    (dict(adaptive=True, slope=1.0, block=0), "block"),
    (dict(slope=1.0), "adaptive=True"),
])
def test_invalid_adaptive_settings_raise_a_clear_error(tiny_codec, image, kwargs, message):
    with pytest.raises(TfrnncompError, match=message):
        tiny_codec.compress(image, **kwargs)


def test_adaptive_coding_refuses_tiled_images(tiny_model, image):
    with pytest.raises(TfrnncompError, match="does not support tiled images"):
        Codec(tiny_model, tile=64).compress(image, adaptive=True, slope=1.0)


def test_the_slope_rule_with_an_iteration_cap_stops_at_the_cap(tiny_codec, image):
    data = tiny_codec.compress(image, iterations=3, adaptive=True, slope=-1e9, block=1)
    block, the_map = tiny_codec.read(data).header.iteration_map
    assert block == 1 and the_map.shape == (6, 8) and (the_map == 3).all()


# -- command line and evaluation harness ----------------------------------------------------------
def test_the_cli_compresses_adaptively_and_info_reports_the_map(run, shared_codecs, tmp_path,
                                                               image, tiny_codec):
    from tests.helpers import assert_one_error_line, save

    source = save(tmp_path / "in.png", image)
    target = tmp_path / "out.trc"
    assert run("compress", source, target, "--adaptive", "--slope=-1e9", "--iterations", "2",
               "--block", "1", "--entropy", "raw")[0] == 0
    block, the_map = bitstream.read(target.read_bytes()).header.iteration_map
    assert block == 1 and (the_map == 2).all()
    code, out, err = run("info", target)
    assert code == 0 and "adaptive      blocks of 1x1 codes, 6x8 map, mean 2.0" in out
    assert run("decompress", target, tmp_path / "out.png")[0] == 0
    assert_one_error_line(*run("compress", source, tmp_path / "x.trc", "--adaptive",
                               "--bpp", "0.5")[::2])
    assert not (tmp_path / "x.trc").exists()


def test_the_harness_sweeps_adaptive_settings_and_the_tool_reports_bd_rate(tiny_codec, tmp_path):
    import json

    from PIL import Image

    from tfrnncomp.eval import evaluate, schema
    from tfrnncomp.eval.evaluate_adaptive import run_adaptive

    Image.fromarray(smooth_image(64, 96, seed=2)).save(tmp_path / "a.png")
    dataset = evaluate.load_dataset(str(tmp_path))
    result = run_adaptive(tiny_codec, dataset, [1e9, -1e9], rule="slope", block=2,
                          entropy="raw")
    first, last = result["points"]
    assert result["description"].startswith(evaluate.model_description(tiny_codec, "raw"))
    assert first["per_image"][0]["mean_iterations"] == 1.0
    assert last["per_image"][0]["mean_iterations"] == tiny_codec.max_iterations
    assert first["per_image"][0]["map_bytes"] < 20 < first["per_image"][0]["bytes"]
    fixed = evaluate.run_model(tiny_codec, dataset, iterations=[1, 16], entropy="raw",
                               one_pass=True)
    # all blocks stop after one iteration: the same codes as a 1-iteration file, plus the map
    assert first["bpp"] > fixed["points"][0]["bpp"]
    assert first["psnr"] == fixed["points"][0]["psnr"]
    paths = [schema.write_result(str(tmp_path / f"{r['name']}.json"), r)
             for r in (result, fixed)]
    tool = load_tool("research/adaptive_bdrate.py")
    assert tool.main([paths[0], "--fixed", paths[1], "--out", str(tmp_path / "bd")]) == 0
    report = json.loads((tmp_path / "bd.json").read_text())
    assert report["results"][0]["rule"] == "slope" and report["results"][0]["images"] == 1
    assert "| map bytes / image |" in (tmp_path / "bd.md").read_text()


def test_the_lagrangian_plan_minimises_distortion_plus_slope_times_iterations():
    block_mse = np.array([[[9.0, 50.0]], [[8.5, 20.0]], [[8.4, 5.0]]])  # [T=3, 1, 2]
    assert lagrangian_plan(block_mse, 1.0).tolist() == [[1, 3]]
    assert lagrangian_plan(block_mse, 0.05).tolist() == [[3, 3]]
    assert lagrangian_plan(block_mse, 100.0).tolist() == [[1, 1]]


def test_the_lagrangian_rule_codes_each_block_with_its_planned_iterations(tiny_codec, image):
    found = tiny_codec.adaptive_history(image, 5, 2)
    assert found.shape == (5, 3, 4)
    slope = float(np.median(np.abs(np.diff(found, axis=0))))
    plan = lagrangian_plan(found, slope)
    encoded = tiny_codec.compress_adaptive(
        image, adaptive.Allocation("lagrangian", slope, 2, 5), "raw", block_mse=found)
    codes, the_map, reconstruction = encoded.codes, encoded.iteration_map, encoded.reconstruction
    assert np.array_equal(the_map, plan) and len(codes) == plan.max()
    data = tiny_codec.compress(image, iterations=5, adaptive=True, slope=slope, entropy="raw")
    assert np.array_equal(tiny_codec.decompress(data), reconstruction)


def test_texture_weights_favour_flat_blocks_and_average_one():
    tool = load_tool("research/adaptive_weighting.py")
    rng = np.random.default_rng(0)
    image = np.full((64, 96, 3), 128, np.uint8)  # three 32x32 blocks a row, two rows
    image[:, 32:64] = rng.integers(0, 256, (64, 32, 3))  # the middle column is noise
    weights = tool.block_weights(image, (2, 3), 32)
    assert weights.shape == (2, 3) and weights.mean() == pytest.approx(1.0)
    assert weights[:, 1].max() < 0.1 * weights[:, 0].min()
    assert np.allclose(weights[:, 0], weights[:, 2])
    flatter = tool.block_weights(image, (2, 3), 32, power=0.5)
    assert weights[:, 1].max() < flatter[:, 1].min()


def test_the_weighting_tool_changes_only_the_first_pass(tiny_codec, image):
    tool = load_tool("research/adaptive_weighting.py")
    weighted = tool.WeightedFirstPass(tiny_codec, 8, 1, 1.0)
    plain, found = tiny_codec.adaptive_history(image, 3, 2), weighted.adaptive_history(image, 3, 2)
    ratio = found / plain
    assert found.shape == plain.shape and np.allclose(ratio, ratio[:1], rtol=1e-5)
    assert not np.allclose(ratio, 1.0)
    assert weighted.model_id == tiny_codec.model_id


def test_the_headroom_composite_takes_each_block_from_its_own_iteration():
    tool = load_tool("research/adaptive_headroom.py")
    decodes = np.stack([np.full((40, 70, 3), k, np.float32) for k in range(1, 4)])  # [T=3]
    plan = np.array([[1, 3, 2], [2, 1, 3]], np.int32)  # 32x32 blocks, the last ones partial
    mixed = tool.composite(decodes, plan, 32)
    assert mixed.shape == (40, 70, 3)
    assert mixed[0, 0, 0] == 1 and mixed[0, 40, 0] == 3 and mixed[31, 69, 0] == 2
    assert mixed[39, 0, 0] == 2 and mixed[39, 33, 0] == 1 and mixed[39, 69, 0] == 3
    sums = tool.block_sums(np.ones((40, 70)), 32)
    assert sums.tolist() == [[1024, 1024, 192], [256, 256, 48]]


def test_headroom_swaps_keep_the_bits_and_move_iterations_where_ms_ssim_gains():
    tool = load_tool("research/adaptive_headroom.py")
    rng = np.random.default_rng(1)
    image = rng.integers(60, 200, (192, 192, 3)).astype(np.uint8)
    # left half: later iterations remove its large error; right half: they change nothing
    error = rng.normal(0, 1, (192, 192, 3)).astype(np.float32)
    scale = np.where(np.arange(192) < 96, 40.0, 4.0)[None, :, None].astype(np.float32)
    decodes = np.stack([image + error * scale * 0.5 ** k for k in range(4)])
    decodes[:, :, 96:] = image[None, :, 96:] + error[None, :, 96:] * 4.0  # right: no gain
    start = np.full((6, 6), 2, np.int32)
    best, plan, trace = tool.swap_rounds(image, decodes, start, 32, rounds=6)
    assert plan.sum() == start.sum()
    assert best == max(trace) and best > trace[0]
    assert plan[:, :3].mean() > 2 > plan[:, 3:].mean()


def test_the_headroom_tool_skips_with_a_message_without_training_data(tmp_path, capsys):
    tool = load_tool("research/adaptive_headroom.py")
    assert tool.main(["--validation", str(tmp_path / "absent"), "--out", str(tmp_path)]) == 0
    assert "skipped: training folder" in capsys.readouterr().out
    assert not (tmp_path / "headroom.md").exists()


def test_a_headroom_gain_counts_in_iterations_of_the_step_to_the_next_start():
    tool = load_tool("research/adaptive_headroom.py")
    rows = [{"iterations": 2, "fixed_ms_ssim": 0.90, "swapped_ms_ssim": 0.901},
            {"iterations": 4, "fixed_ms_ssim": 0.94, "swapped_ms_ssim": 0.942},
            {"iterations": 8, "fixed_ms_ssim": 0.96, "swapped_ms_ssim": 0.961}]
    gains = tool.iteration_gains(rows)
    assert gains[0] == pytest.approx(0.001 / 0.02) and gains[1] == pytest.approx(0.002 / 0.005)
    assert gains[2] is None
