"""Depth groups of the BinaryRNN: a position's bits coded in groups, each conditioned on the
groups before it (float layer, integer net, coding order, model files, warm start)."""

import numpy as np
import pytest

from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder, integer_net
from tfrnncomp.entropy.training import binaryrnn
from tfrnncomp.entropy.training.layers import DepthGroupDense
from tfrnncomp.entropy.training.quantize import quantize
from tfrnncomp.errors import ConfigError, TfrnncompError

from tests.binaryrnn_fixtures import (  # noqa: F401 - fixtures
    requantized, structured_codes, table)

GROUPED = binaryrnn.BinaryRNNConfig(channels=16, depth_groups=4)


def correlated_codes(t, h, w, seed):
    """Structured codes whose second depth group repeats the first (a group can predict it)."""
    codes = structured_codes(t, h, w, seed=seed)
    codes[..., 8:16] = codes[..., 0:8]
    return codes


@pytest.fixture(scope="module")
def grouped_model():
    import tensorflow as tf

    tf.random.set_seed(5)
    model = binaryrnn.build_model(GROUPED)
    rng = np.random.default_rng(2)
    model.embedding.embeddings.assign(rng.normal(0, 0.3, (16, 16)))
    model.depth_group.kernel.assign(rng.normal(0, 0.5, (32, 32)))
    return model


@pytest.fixture(scope="module")
def grouped_net(grouped_model):
    return quantize(grouped_model, [correlated_codes(6, 6, 7, seed=9)], "tiny@00000000")


def test_grouped_codes_round_trip_exactly_with_and_without_inactive_positions(
        grouped_net, table):
    rng = np.random.default_rng(0)
    codes = correlated_codes(4, 5, 7, seed=3)
    for active in (None, rng.random(codes.shape[:3]) < 0.6):
        payloads = binaryrnn_coder.encode(grouped_net, table, codes, active)
        mask = np.ones(codes.shape[:3], bool) if active is None else active
        decoded = binaryrnn_coder.decode(grouped_net, table, payloads, codes.shape[1:], active)
        assert np.array_equal(decoded, codes * mask[..., None])
        decoded = binaryrnn_coder.decode(grouped_net, table, payloads[:2], codes.shape[1:],
                                         active)
        assert np.array_equal(decoded, (codes * mask[..., None])[:2])


def test_grouped_indices_equal_their_int64_recomputation(grouped_net):
    codes = correlated_codes(3, 5, 6, seed=8)
    assert np.array_equal(binaryrnn_coder.indices_for(grouped_net, codes),
                          binaryrnn_coder.indices_for(grouped_net, codes, exact=True))


def test_a_bit_changes_only_later_groups_of_its_own_position_and_the_rows_below(
        grouped_model, grouped_net):
    codes = correlated_codes(3, 5, 6, seed=4)
    changed = codes.copy()
    changed[1, 2, 3, 9] *= -1  # group 1 (bits 8-15) of position (2, 3)
    for before, after in ((binaryrnn.float_probabilities(grouped_model, codes),
                           binaryrnn.float_probabilities(grouped_model, changed)),
                          (binaryrnn_coder.indices_for(grouped_net, codes),
                           binaryrnn_coder.indices_for(grouped_net, changed))):
        diff = before != after
        assert not diff[0].any() and not diff[1, :2].any()
        row = diff[1, 2]
        assert not row[:, :16].any()                  # groups 0 and 1 never see it
        assert not np.delete(row, 3, axis=0).any()     # nor do the row's other positions
        assert row[3, 16:].any()                       # the later groups of its position do
        assert diff[1, 3:].any() and diff[2].any()     # and the rows and iteration after


def test_the_grouped_integer_net_codes_close_to_the_float_model_and_better_than_no_groups(
        grouped_model, grouped_net, table):
    codes = correlated_codes(5, 8, 8, seed=11)
    p1 = binaryrnn.float_probabilities(grouped_model, codes)
    float_bits = -np.log2(np.where(codes > 0, p1, 1 - p1)).sum()
    int_bits = binaryrnn_coder.code_length(grouped_net, codes).sum()
    assert abs(int_bits - float_bits) < 0.01 * float_bits
    sizes = [8 * len(p) for p in binaryrnn_coder.encode(grouped_net, table, codes)]
    assert sum(sizes) <= int_bits * 1.01 + 32 * len(sizes)


def test_training_learns_what_the_earlier_group_says_about_a_later_one():
    import keras

    keras.utils.set_random_seed(1)
    codes = np.where(np.random.default_rng(12).random((8, 16, 16, 32)) < 0.5, 1, -1)
    codes[..., 8:16] = codes[..., 0:8]  # random bits, but bits 8-15 repeat bits 0-7
    inputs, targets = binaryrnn.iteration_samples(codes)
    model = binaryrnn.compile_model(
        binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=8, depth_groups=4)),
        learning_rate=1e-2)
    model.fit(inputs, targets, epochs=30, batch_size=2, verbose=0)
    block = model.depth_group.kernel.numpy()[0:8, 8:16]  # bits 0-7 feeding bits 8-15
    diagonal = np.diag(block)
    assert diagonal.min() > 0.5                            # bit i predicts bit 8 + i
    assert np.abs(block - np.diag(diagonal)).mean() < 0.4 * diagonal.mean(), block


def test_a_model_file_whose_depth_group_sees_its_own_bits_is_refused(grouped_net):
    arrays = dict(grouped_net.arrays)
    arrays["group_w"] = arrays["group_w"].copy()
    arrays["group_w"][9, 8] = 5  # bit 9 feeding bit 8: both in group 1
    with pytest.raises(TfrnncompError, match="sees its own or later bits"):
        integer_net.IntegerNet(arrays, grouped_net.meta)
    del arrays["group_w"]
    with pytest.raises(TfrnncompError, match="do not match depth_groups"):
        integer_net.IntegerNet(arrays, grouped_net.meta)
    data = grouped_net.to_bytes()
    assert integer_net.IntegerNet.from_bytes(data).to_bytes() == data


def test_depth_groups_must_divide_the_bits_and_one_group_keeps_the_old_config_form():
    with pytest.raises(ConfigError, match="must divide bits"):
        binaryrnn.BinaryRNNConfig(depth_groups=5)
    assert "depth_groups" not in binaryrnn.BinaryRNNConfig().to_dict()
    assert binaryrnn.BinaryRNNConfig.from_dict(GROUPED.to_dict()) == GROUPED
    layer = DepthGroupDense(4)
    assert DepthGroupDense.from_config(layer.get_config()).get_config() == layer.get_config()


def test_a_warm_start_with_added_groups_predicts_exactly_as_the_loaded_model(tmp_path):
    import tensorflow as tf

    tf.random.set_seed(2)
    plain = binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=8))
    path = str(tmp_path / "float.weights.h5")
    plain.save_weights(path)
    grouped = binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=8, depth_groups=8))
    binaryrnn.warm_start(grouped, path, plain.config_)
    inputs, _ = binaryrnn.iteration_samples(structured_codes(3, 4, 5, seed=1))
    assert np.array_equal(plain(inputs).numpy(), grouped(inputs).numpy())
    with pytest.raises(ConfigError, match="only depth_groups may differ"):
        binaryrnn.warm_start(binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=16)),
                             path, plain.config_)


def test_the_depth_group_probe_scores_groups_and_history_on_a_frozen_run_and_refuses_a_missing_one(
        tmp_path, tiny_codec, capsys):
    from tests.helpers import load_tool
    from tests.binaryrnn_fixtures import code_file

    codes = code_file(tmp_path, tiny_codec, iterations=4)
    run = tmp_path / "run"
    run.mkdir()
    config = binaryrnn.BinaryRNNConfig(channels=8)
    (run / "config.json").write_text(config.to_json())
    binaryrnn.build_model(config).save_weights(str(run / "float.weights.h5"))
    tool = load_tool("research/depth_group_probe.py")
    out = tmp_path / "probe.md"
    assert tool.main(["--run", str(run), "--codes", codes, "--settings", "2x1,4x3,h4",
                      "--out", str(out)]) == 0
    table = [line for line in out.read_text().splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in table[1:]] == [
        "| 2 depth groups, 1x1", "| 4 depth groups, 1x3", "| iterations t-3..t-4, 1x1"]
    capsys.readouterr()
    assert tool.main(["--run", str(tmp_path), "--codes", codes, "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_grouped_net_dequantizes_with_a_zero_first_group_and_quantizes_back_to_itself(
        grouped_net):
    from tfrnncomp.entropy.training.quantize import dequantize

    kernel = dequantize(grouped_net).depth_group.kernel.numpy()
    assert not kernel[:, :8].any() and kernel[:8, 8:].any()
    again = requantized(grouped_net)
    assert again.shifts == grouped_net.shifts
    for name, value in grouped_net.arrays.items():
        assert np.abs(again.arrays[name] - value).max() <= 1, name


def test_per_file_refinement_saves_bits_only_where_the_probabilities_are_off():
    from tests.helpers import load_tool

    probe = load_tool("research/adaptive_entropy_probe.py")
    rng = np.random.default_rng(0)
    shape = (2, 16, 40, 32)
    # calibrated: every bit is one with the probability it is given
    p_one = rng.uniform(0.05, 0.95, shape)
    ones = rng.uniform(size=shape) < p_one
    plain = probe._bits(p_one, ones).sum(axis=(1, 2, 3))
    for kind, settings in probe.REFINEMENTS:
        refined = probe.refined_bits(p_one, ones, kind, **settings)
        assert abs(refined.sum() / plain.sum() - 1.0) < 0.01, kind
    # off: half the depths are almost always one but are given even odds; the refinements
    # learn it from the rows already coded
    skewed = p_one.copy()
    skewed[..., :16] = 0.5
    ones[..., :16] = rng.uniform(size=shape[:3] + (16,)) < 0.97
    plain = probe._bits(skewed, ones).sum()
    for kind, settings in probe.REFINEMENTS:
        assert probe.refined_bits(skewed, ones, kind, **settings).sum() < 0.9 * plain, kind


def test_the_reconstruction_context_probe_gives_each_code_position_its_block_of_the_image_before():
    from tests.helpers import load_tool

    probe = load_tool("research/reconstruction_context_probe.py")
    codes = np.ones((3, 2, 3, 32), np.int8)
    decodes = np.random.default_rng(0).integers(0, 256, (3, 4, 6, 3), dtype=np.uint8)
    f = probe.features(codes, decodes, block=2)
    assert f.shape == (3, 2, 3, 2 * 2 * 3 + 3)
    np.testing.assert_allclose(f[0, ..., :12], 128 / 255.0 - 0.5, atol=1e-6)  # mid-grey before the first
    # iteration 3 sees the image after iteration 2; position (1, 2) holds pixels rows 2-3, cols 4-5
    block = decodes[1, 2:4, 4:6].astype(np.float32) / 255.0 - 0.5
    np.testing.assert_allclose(f[2, 1, 2, :12], block.reshape(-1), atol=1e-6)
    np.testing.assert_array_equal(f[:, 0, 0, 12:], np.eye(3))
