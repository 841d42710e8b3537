"""Entropy mode ``context``: exact round trips, causality, golden bytes, corrupt chunks."""

import os

import numpy as np
import pytest

from tfrnncomp.entropy.coding import context, rangecoder
from tfrnncomp.entropy.coding.context import previous_bits
from tfrnncomp.errors import BitstreamError

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "context_v1.npz")
REGENERATE = os.environ.get("TFRNNCOMP_REGENERATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def table():
    return rangecoder.BinaryTable()


def _structured_codes(t=4, h=6, w=9, d=32, seed=0):
    """Codes with the kind of redundancy real codes have: biased, persistent bits."""
    rng = np.random.default_rng(seed)
    bias = rng.uniform(0.05, 0.95, size=d)
    bits = [(rng.uniform(size=(h, w, d)) < bias).astype(np.uint8)]
    for _ in range(t - 1):
        flip = rng.uniform(size=(h, w, d)) < 0.2
        bits.append(np.where(flip, 1 - bits[-1], bits[-1]).astype(np.uint8))
    return np.stack(bits)


def _roundtrip(table, bits):
    chunks = [context.encode(table, bits[t], previous_bits(bits, t)) for t in range(len(bits))]
    decoded = []
    for t, chunk in enumerate(chunks):
        decoded.append(context.decode(table, chunk, bits.shape[1:], previous_bits(decoded, t)))
    return chunks, np.stack(decoded)


@pytest.mark.parametrize("shape", [(1, 1, 1, 32), (3, 2, 3, 32), (2, 5, 4, 8)])
def test_uniformly_random_codes_round_trip_exactly(table, shape):
    bits = np.random.default_rng(1).integers(0, 2, size=shape).astype(np.uint8)
    _, decoded = _roundtrip(table, bits)
    np.testing.assert_array_equal(decoded, bits)


def test_structured_codes_round_trip_and_cost_fewer_bits_than_raw(table):
    bits = _structured_codes(h=24, w=32)
    chunks, decoded = _roundtrip(table, bits)
    np.testing.assert_array_equal(decoded, bits)
    assert sum(len(c) for c in chunks) * 8 < 0.85 * bits.size


def test_the_coded_size_is_within_half_a_percent_of_the_models_cross_entropy(table):
    bits = _structured_codes(t=3, h=24, w=32)
    for t in range(3):
        ideal = context.code_length(bits[t], previous_bits(bits, t))
        actual = len(context.encode(table, bits[t], previous_bits(bits, t))) * 8
        assert ideal - 32 <= actual <= ideal * 1.005 + 32


def test_the_context_model_is_causal_in_raster_row_order():
    bits = _structured_codes(t=3, h=5, w=4, d=8)
    base = [context.indices_for(bits[t], previous_bits(bits, t)) for t in range(3)]
    rng = np.random.default_rng(3)
    for _ in range(20):
        t, y, x, d = (rng.integers(n) for n in bits.shape)
        changed = bits.copy()
        changed[t, y, x, d] ^= 1
        for u in range(3):
            idx = context.indices_for(changed[u], previous_bits(changed, u))
            if u < t:  # earlier iterations never see a later bit
                np.testing.assert_array_equal(idx, base[u])
            elif u == t:  # the same iteration: rows up to y are unchanged
                np.testing.assert_array_equal(idx[:y + 1], base[u][:y + 1])


def test_probabilities_come_from_integer_counts_with_the_documented_formula():
    n0, n1 = np.array([0, 10, 0, 5000]), np.array([0, 0, 10, 1])
    cdf0 = context.cdf0_from_counts(n0, n1)
    expected = [min(max(((2 * a + 1) << 12) // (2 * (a + b) + 2), 1), 4095)
                for a, b in zip(n0, n1)]
    assert cdf0.tolist() == expected
    assert cdf0.tolist() == [2048, 3909, 186, 4094]


def test_golden_bytes_pin_the_context_format(table):
    """The portable format: these bytes must never change (Java decodes them too)."""
    bits = _structured_codes(t=3, h=4, w=6, seed=7)
    chunks = [context.encode(table, bits[t], previous_bits(bits, t)) for t in range(3)]
    if REGENERATE or not os.path.exists(GOLDEN):
        if not REGENERATE:
            pytest.fail(f"golden file {GOLDEN} is missing; run with "
                        "TFRNNCOMP_REGENERATE_GOLDEN=1 to create it")
        np.savez(GOLDEN, bits=bits, **{f"chunk{t}": np.frombuffer(c, np.uint8)
                                       for t, c in enumerate(chunks)})
    golden = np.load(GOLDEN)
    np.testing.assert_array_equal(golden["bits"], bits)
    for t, chunk in enumerate(chunks):
        assert golden[f"chunk{t}"].tobytes() == chunk


def test_a_garbage_payload_decodes_to_valid_bits_or_a_bitstream_error_in_bounded_time(table):
    rng = np.random.default_rng(5)
    for size in (0, 1, 7, 300):
        payload = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        try:
            out = context.decode(table, payload, (3, 4, 32))
        except BitstreamError:
            continue
        assert out.shape == (3, 4, 32) and set(np.unique(out)) <= {0, 1}


def test_encoding_rejects_values_other_than_zero_and_one(table):
    with pytest.raises(ValueError, match="0/1 array"):
        context.encode(table, np.full((2, 2, 32), 2, np.uint8))


def test_dumped_code_tensors_read_back_exactly(tmp_path, tiny_codec):
    from PIL import Image

    from tests.helpers import smooth_image
    from tfrnncomp.entropy.training.codes_data import codes_dataset, dump_codes

    paths = []
    for i, size in enumerate([(40, 56), (70, 33)]):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.fromarray(smooth_image(*size, seed=i)).save(paths[-1])
    out = str(tmp_path / "codes.tfrecord")
    assert dump_codes(tiny_codec, paths, out, iterations=3) == 2
    for path, codes in zip(paths, codes_dataset(out)):
        expected, _ = tiny_codec.encode_codes(np.asarray(Image.open(path)), 3)
        np.testing.assert_array_equal(codes.numpy(), expected)
