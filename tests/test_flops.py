"""Tests of the MAC count (tfrnncomp.eval.flops) against the convolutions in the traced graph."""

import numpy as np
import pytest
import tensorflow as tf

from tfrnncomp.eval import flops
from tfrnncomp.model.config import REFERENCE
from tfrnncomp.model.network import RNNCompressionModel

HEIGHT, WIDTH = 64, 96


def _graph_macs(fn, *specs):
    """MACs of every Conv2D and MatMul in the graph of ``fn`` traced at static shapes."""
    graph = tf.function(fn).get_concrete_function(*specs).graph
    total = 0
    for op in graph.get_operations():
        if op.type == "Conv2D":
            out, kernel = op.outputs[0].shape, op.inputs[1].shape
            total += int(np.prod(out[:-1]) * np.prod(kernel))
        elif op.type in ("MatMul", "BatchMatMulV2"):
            a, b = op.inputs[0].shape, op.inputs[1].shape
            total += int(np.prod(a) * b[-1])
    return total


def _traced_macs(config):
    model = RNNCompressionModel(config).build_for_inference()
    image = tf.TensorSpec([1, HEIGHT, WIDTH, 3], tf.float32)
    codes = tf.zeros([1, HEIGHT // 16, WIDTH // 16, model.config.bits])

    canvas = tf.zeros([1, HEIGHT, WIDTH, 3])
    # zero states are made outside the traced functions (they run E-Conv for its shape)
    encoder_states = model.initial_encoder_state(canvas)
    decoder_states, gain = model.initial_decoder_state(codes), model.initial_gain(canvas)

    def encoder(x):
        return model.encoder_step(x, encoder_states)[0]

    def decoder(bits):
        output, _ = model.decoder_step(bits, decoder_states)
        return model.reconstruct(output, canvas, gain)[0]

    return (_graph_macs(encoder, image),
            _graph_macs(decoder, tf.TensorSpec(codes.shape, tf.float32)))


@pytest.mark.parametrize("changes", [
    {"cell": "gru", "width": 0.25},
    {"cell": "lstm", "width": 0.125, "decoder_hidden_kernels": [1, 1, 1, 1]},
    {"cell": "residual_gru", "decoder_cell": "associative_lstm", "width": 0.125},
    {"cell": "gru", "width": 0.125, "gdn": True, "reconstruction": "residual_scaling"},
], ids=["gru", "lstm-1x1", "assoc-decoder", "gdn-scaling"])
def test_the_counted_macs_equal_the_convolutions_of_the_traced_graph(changes):
    config = dict(REFERENCE.to_dict(), **changes)
    assert flops.iteration_macs(config, HEIGHT, WIDTH) == _traced_macs(config)


def test_the_paper_size_lstm_costs_four_thirds_of_the_gru_in_every_rnn():
    gru = dict(REFERENCE.to_dict(), cell="gru")
    lstm = dict(gru, cell="lstm")
    for part in ("encoder", "decoder"):
        for c_gru, c_lstm in zip(flops.convolutions(gru, 512, 768)[part],
                                 flops.convolutions(lstm, 512, 768)[part]):
            m_gru, m_lstm = c_gru.macs, c_lstm.macs
            assert m_lstm * 3 == m_gru * 4 if "RNN" in c_gru.stage else m_lstm == m_gru


def test_encoding_skips_the_last_decoder_and_decoding_runs_every_one():
    encoder, decoder = flops.iteration_macs(REFERENCE, 512, 768)
    assert flops.codec_macs(REFERENCE, 512, 768, 8) == (8 * encoder + 7 * decoder, 8 * decoder)
    assert flops.codec_macs(REFERENCE, 512, 768, 1) == (encoder, decoder)


def test_sizes_that_are_not_padded_or_no_iterations_are_refused():
    with pytest.raises(ValueError, match="multiple of 32"):
        flops.convolutions(REFERENCE, 500, 768)
    with pytest.raises(ValueError, match="iterations must be >= 1"):
        flops.codec_macs(REFERENCE, 512, 768, 0)
