"""The BinaryRNN entropy model: float training model, integer net, range coding, codec mode.

Fast tests use a tiny randomly initialized BinaryRNN (no shipped weights needed).
"""

import copy
import threading

import numpy as np
import pytest

from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder, integer_net
from tfrnncomp.entropy.training import binaryrnn
from tfrnncomp.entropy.training.quantize import quantize
from tfrnncomp.entropy.training.layers import LineLSTM, RowMaskedConv2D
from tfrnncomp.errors import BitstreamError, ChecksumError, ModelMismatchError

from tests.helpers import smooth_image
from tests.binaryrnn_fixtures import (  # noqa: F401 - fixtures
    TINY, float_model, net, structured_codes, table)


def test_random_and_structured_codes_round_trip_exactly(net, table):
    rng = np.random.default_rng(0)
    for codes in (np.where(rng.random((4, 5, 7, 32)) < 0.5, 1, -1).astype(np.int8),
                  structured_codes(5, 6, 9, seed=4)):
        payloads = binaryrnn_coder.encode(net, table, codes)
        assert np.array_equal(binaryrnn_coder.decode(net, table, payloads, codes.shape[1:]),
                              codes)


def test_the_encoder_gives_the_same_indices_whatever_its_row_blocks(net, table, monkeypatch):
    codes = structured_codes(3, 2 * binaryrnn_coder.ROW_BLOCK + 3, 5, seed=8)
    blocked = binaryrnn_coder.indices_for(net, codes)
    monkeypatch.setattr(binaryrnn_coder, "ROW_BLOCK", codes.shape[1])
    assert np.array_equal(binaryrnn_coder.indices_for(net, codes), blocked)
    payloads = binaryrnn_coder.encode(net, table, codes)
    assert np.array_equal(binaryrnn_coder.decode(net, table, payloads, codes.shape[1:]), codes)


def test_a_prefix_of_the_chunks_decodes_the_leading_iterations(net, table):
    codes = structured_codes(5, 4, 6, seed=5)
    payloads = binaryrnn_coder.encode(net, table, codes)
    for k in (1, 3):
        assert np.array_equal(binaryrnn_coder.decode(net, table, payloads[:k], codes.shape[1:]),
                              codes[:k])


def test_inactive_positions_are_not_coded_and_decode_to_zero(net, table):
    codes = structured_codes(3, 5, 6, seed=6)
    active = np.random.default_rng(2).random(codes.shape[:3]) < 0.5
    active[1] = False  # an iteration that codes nothing
    payloads = binaryrnn_coder.encode(net, table, codes, active)
    decoded = binaryrnn_coder.decode(net, table, payloads, codes.shape[1:], active)
    assert np.array_equal(decoded, codes * active[..., None])
    full = binaryrnn_coder.encode(net, table, codes)
    assert len(payloads[0]) < len(full[0])


def _row_change(first, second):
    """Rows (per iteration) where two probability tensors differ."""
    return np.abs(first - second).max(axis=(2, 3)) > 0


@pytest.mark.parametrize("row", [0, 2, 4])
def test_changing_a_bit_never_changes_probabilities_of_its_row_or_the_rows_above(
        float_model, net, row):
    codes = structured_codes(4, 6, 5, seed=7)
    changed = codes.copy()
    changed[2, row, 3, 7] *= -1
    float_diff = _row_change(binaryrnn.float_probabilities(float_model, codes),
                             binaryrnn.float_probabilities(float_model, changed))
    int_diff = _row_change(binaryrnn_coder.indices_for(net, codes),
                           binaryrnn_coder.indices_for(net, changed))
    for diff in (float_diff, int_diff):
        assert not diff[:2].any()                 # earlier iterations never change
        assert not diff[2, :row + 1].any()        # nor the row itself and the rows above
    assert float_diff[2, row + 1:].any()         # the rows below do see it
    assert int_diff[3].any()                      # the next iteration does see it


def test_integer_products_equal_their_int64_recomputation(net):
    codes = structured_codes(4, 7, 6, seed=8)
    assert np.array_equal(binaryrnn_coder.indices_for(net, codes),
                          binaryrnn_coder.indices_for(net, codes, exact=True))


def test_float32_products_are_exact_even_for_the_worst_inputs_of_the_shipped_model():
    from tfrnncomp.model import zoo

    shipped = integer_net.IntegerNet.load(zoo.entropy_model_path("gru-w25"))
    for layer, peak in integer_net.INPUT_PEAKS.items():
        name = f"{layer}_w"
        if name not in shipped.arrays:  # the depth-group layer of a one-group model
            continue
        w = shipped.arrays[name].reshape(-1, shipped.arrays[name].shape[-1])
        worst = peak * np.sign(w).T  # each output's largest possible accumulator
        for lo, hi, chunk in shipped._plans[name]:
            assert peak * np.abs(chunk.astype(np.int64)).sum(axis=0).max() < 2 ** 24
        assert np.array_equal(shipped._matmul(worst, name, exact=False), worst @ w), layer


def test_indices_are_the_same_across_calls_and_threads(net):
    codes = structured_codes(3, 5, 6, seed=10)
    expected = binaryrnn_coder.indices_for(net, codes)
    results = [None] * 4

    def work(i):
        results[i] = binaryrnn_coder.indices_for(net, codes)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.array_equal(result, expected) for result in results)


def test_every_accumulator_fits_in_31_bits_so_float64_products_are_exact(net):
    bounds = integer_net.accumulator_bounds(net)
    assert set(bounds) == {"masked", "previous", "lstm_x", "lstm_h", "hidden", "logits"}
    for layer, bound in bounds.items():
        assert bound["accumulator"] < 2 ** 31, layer
        assert bound["product"] < 2 ** 62, layer


def test_the_shipped_integer_model_binds_to_the_shipped_codec_and_has_bounded_accumulators(
        shipped_codec):
    from tfrnncomp.model import zoo

    if zoo.entropy_model_path() is None:
        pytest.skip("no shipped BinaryRNN")
    shipped = shipped_codec.entropy_net  # raises ModelMismatchError if it belongs elsewhere
    assert shipped_codec.default_entropy == "binaryrnn"
    for layer, bound in integer_net.accumulator_bounds(shipped).items():
        assert bound["accumulator"] < 2 ** 31 and bound["product"] < 2 ** 62, layer


def test_the_integer_nets_cross_entropy_is_close_to_the_float_models(float_model, net):
    codes = structured_codes(6, 6, 8, seed=11)
    p1 = binaryrnn.float_probabilities(float_model, codes)
    bits = codes > 0
    float_bits = -np.log2(np.where(bits, p1, 1 - p1)).sum()
    int_bits = binaryrnn_coder.code_length(net, codes).sum()
    assert abs(int_bits - float_bits) < 0.01 * float_bits


def test_the_coded_size_is_close_to_the_integer_models_cross_entropy(net, table):
    codes = structured_codes(4, 16, 16, seed=12)
    ideal = binaryrnn_coder.code_length(net, codes)
    sizes = [8 * len(p) for p in binaryrnn_coder.encode(net, table, codes)]
    assert np.all(np.array(sizes) <= ideal * 1.01 + 32)


def test_the_integer_file_round_trips_and_names_its_own_hash(net):
    data = net.to_bytes()
    again = integer_net.IntegerNet.from_bytes(data)
    assert again.to_bytes() == data
    assert again.entropy_id == net.entropy_id == integer_net.entropy_id_of(data)
    with pytest.raises(Exception, match="bad magic"):
        integer_net.IntegerNet.from_bytes(b"XXXX" + data[4:])


def with_entropy_model(codec, entropy_model, **changes):
    """A copy of ``codec`` (sharing its traced functions) with another entropy model."""
    clone = copy.copy(codec)
    clone._entropy_model = entropy_model
    clone.__dict__.update(changes)
    return clone


@pytest.fixture(scope="module")
def brnn_codec(tiny_codec, float_model):
    entropy = quantize(float_model, [structured_codes(3, 4, 4)], tiny_codec.model_id)
    return with_entropy_model(tiny_codec, entropy)


def test_a_binaryrnn_file_decodes_like_a_raw_file_and_cut_files_decode_their_chunks(brnn_codec):
    from tfrnncomp.format import container as bitstream

    image = smooth_image(40, 70)
    data = brnn_codec.compress(image, 3, entropy="binaryrnn")
    raw = brnn_codec.compress(image, 3, entropy="raw")
    assert np.array_equal(brnn_codec.decompress(data), brnn_codec.decompress(raw))
    header = bitstream.read(data).header
    assert header.extensions[3] == brnn_codec.entropy_net.entropy_id.encode()
    cut = data[:-3]
    assert np.array_equal(brnn_codec.decompress(cut), brnn_codec.decompress(raw, 2))


def test_a_tiled_binaryrnn_file_round_trips(brnn_codec):
    codec = with_entropy_model(brnn_codec, brnn_codec.entropy_net, tile=32)
    image = smooth_image(50, 70, seed=3)
    data = codec.compress(image, 2, entropy="binaryrnn")
    assert np.array_equal(codec.decompress(data),
                          codec.decompress(codec.compress(image, 2, entropy="raw")))


def test_a_corrupted_binaryrnn_chunk_is_a_checksum_error(brnn_codec):
    data = bytearray(brnn_codec.compress(smooth_image(40, 40), 2, entropy="binaryrnn"))
    data[-10] ^= 0x20
    with pytest.raises(ChecksumError):
        brnn_codec.decompress(bytes(data))


def test_another_entropy_model_or_codec_model_is_refused(brnn_codec, float_model):
    data = brnn_codec.compress(smooth_image(32, 32), 1, entropy="binaryrnn")
    other = quantize(float_model, [structured_codes(2, 3, 3, seed=1)], brnn_codec.model_id)
    assert other.entropy_id != brnn_codec.entropy_net.entropy_id
    with pytest.raises(ModelMismatchError, match="entropy-coded with"):
        with_entropy_model(brnn_codec, other).decompress(data)
    foreign = quantize(float_model, [structured_codes(2, 3, 3)], "gru-w25@00000000")
    with pytest.raises(ModelMismatchError, match="belongs to codec model"):
        with_entropy_model(brnn_codec, foreign).compress(smooth_image(32, 32), 1,
                                                         entropy="binaryrnn")


def test_a_60_kb_entropy_model_id_in_a_file_is_cut_short_in_the_error(brnn_codec):
    import dataclasses

    from tfrnncomp.format import container as bitstream
    from tfrnncomp.format.extensions import Tag

    container = bitstream.read(brnn_codec.compress(smooth_image(32, 32), 1, entropy="binaryrnn"))
    extensions = dict(container.header.extensions)
    extensions[Tag.ENTROPY_MODEL] = b"e" * 60000
    header = dataclasses.replace(container.header, extensions=extensions)
    with pytest.raises(ModelMismatchError) as error:
        brnn_codec.decompress(bitstream.write(header, container.chunks))
    message = str(error.value)
    assert message.startswith(f"file was entropy-coded with '{'e' * 60}'... (60000 characters), "
                              "this codec has ")
    assert len(message) < 200


def test_a_garbage_payload_decodes_to_valid_codes_or_fails_the_range_decoder_check(net, table):
    """Garbage never crashes the decoder: a short payload decodes to codes in {-1, +1} (the
    range decoder reads any bytes); one longer than any coding of the chunk (384 bits at
    most 12 bits each) fails the decoder's final check."""
    payload = bytes(np.random.default_rng(5).integers(0, 256, 40, dtype=np.uint8))
    decoded = binaryrnn_coder.decode(net, table, [payload], (3, 4, 32))
    assert decoded.shape == (1, 3, 4, 32) and np.isin(decoded, (-1, 1)).all()
    with pytest.raises(BitstreamError, match="range decoder check failed"):
        binaryrnn_coder.decode(net, table, [payload * 100], (3, 4, 32))


def test_model_fit_runs_and_the_bit_loss_drops(tmp_path):
    import tensorflow as tf

    model = binaryrnn.compile_model(binaryrnn.build_model(TINY), 1e-2, run_eagerly=True)
    codes = structured_codes(8, 4, 4, seed=13)
    inputs, targets = binaryrnn.iteration_samples(codes)
    data = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(8)
    history = model.fit(data, epochs=3, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]
    model.save_weights(str(tmp_path / "w.weights.h5"))


def test_the_layers_and_the_model_round_trip_through_get_config():
    import keras

    for layer in (RowMaskedConv2D(8, rows=2, width=5), LineLSTM(6, kernel=3)):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
    model = binaryrnn.BinaryRNN(TINY)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert clone.config_ == TINY
    with pytest.raises(Exception, match="unknown keys"):
        binaryrnn.BinaryRNNConfig.from_dict({"bogus": 1})


def test_a_binaryrnn_config_file_sets_the_architecture_and_bad_ones_fail_in_one_line(
        tmp_path, capsys):
    from tests.helpers import load_tool

    path = tmp_path / "binaryrnn.json"
    path.write_text('{"channels": 96, "previous_kernel": 5}')
    config = binaryrnn.load_config(str(path), progressive=False)
    assert (config.channels, config.previous_kernel, config.progressive) == (96, 5, False)
    assert config.masked_rows == binaryrnn.BinaryRNNConfig().masked_rows
    assert binaryrnn.load_config() == binaryrnn.BinaryRNNConfig()
    tool = load_tool("training/train_entropy.py")
    for text in ('{"channels": 0}', "[1]", "{not json"):
        path.write_text(text)
        with pytest.raises(ValueError):
            binaryrnn.load_config(str(path))
    codes = tmp_path / "codes.tfrecord"
    codes.write_bytes(b"")
    argv = ["--train", str(codes), "--validation", str(codes), "--out", str(tmp_path / "run"),
            "--config", str(path)]
    assert tool.main(argv) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert tool.main(argv[:-1] + [str(tmp_path / "absent.json")]) == 2
    assert "no config file" in capsys.readouterr().err


def test_the_committed_port_vectors_still_match_this_package(table):
    import os

    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "android_demo", "codec-core", "src", "test", "resources",
                        "vectors_binaryrnn")
    with open(os.path.join(root, "index.txt")) as handle:
        lines = [line.rstrip("\n").split("\t") for line in handle if not line.startswith("#")]
    models = {}
    for kind, name, *fields in lines:
        fields = dict(field.split("=", 1) for field in fields)
        if kind == "model":
            models[name] = integer_net.IntegerNet.load(os.path.join(root, name))
            assert models[name].entropy_id == fields["entropy_id"]
            continue
        net, data = models[fields["model"]], np.load(os.path.join(root, name))
        active = data["active"]
        codes = np.where(data["codes"] == 0, 1, data["codes"])
        indices = binaryrnn_coder.indices_for(net, codes, active)
        assert np.array_equal(np.where(active[..., None], indices, -1), data["indices"])
        chunks = binaryrnn_coder.encode(net, table, codes, active)
        assert [bytes(data[f"chunk_{t}"]) for t in range(len(chunks))] == chunks


def test_the_litert_backend_decodes_binaryrnn_chunks_like_the_codec(brnn_codec):
    import types

    from tfrnncomp.export.litert_backend import _entropy_net
    from tfrnncomp.entropy import coding
    from tfrnncomp.format import container as bitstream

    data = brnn_codec.compress(smooth_image(32, 48), 2, entropy="binaryrnn")
    header, chunks = (container := bitstream.read(data)).header, container.chunks
    expected = brnn_codec.decode_chunks(header, chunks)
    steps = types.SimpleNamespace(model_id=brnn_codec.model_id,
                                  entropy_model=brnn_codec.entropy_net)
    coder = coding.coder_for(header.entropy_mode, net=_entropy_net(steps, header))
    assert np.array_equal(coder.decode(chunks, header.code_shape), expected)
    with pytest.raises(ValueError, match="needs entropy_model"):
        _entropy_net(types.SimpleNamespace(model_id=brnn_codec.model_id, entropy_model=None),
                     header)



def test_an_adaptive_binaryrnn_file_codes_only_active_positions_and_decodes_exactly(brnn_codec):
    from tfrnncomp.codec import adaptive

    image = smooth_image(48, 64, seed=5)
    _, first = brnn_codec.encode_codes(image, 1)
    error = ((image.astype(float) - first) ** 2).reshape(3, 16, 4, 16, 3).mean(axis=(1, 3, 4))
    threshold = float(np.median(error))  # about half of the 32x32 blocks stop after one
    encoded = brnn_codec.compress_adaptive(
        image, adaptive.Allocation(adaptive.QUALITY, threshold, 2, 3), "binaryrnn")
    codes, the_map, reconstruction = encoded.codes, encoded.iteration_map, encoded.reconstruction
    assert the_map.min() < the_map.max()
    data = encoded.data
    assert np.array_equal(brnn_codec.decompress(data), reconstruction)
    container = brnn_codec.read(data)
    assert np.array_equal(brnn_codec.decode_chunks(container.header, container.chunks), codes)
    assert not codes[2][~container.header.active_positions(2)].any()
