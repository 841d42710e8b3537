"""Multiply-accumulates (MACs) of one iteration, from a model config alone.

Every convolution of Toderici et al. 2017, Figure 1, at the resolution it runs
at for a padded ``height x width`` image: E-Conv and E-RNN#1-3 (input and
hidden convolution of each cell, all gates fused) and the binarizer in the
encoder; D-Conv#1, D-RNN#1-4 and D-Conv#2 in the decoder.  GDN counts as the
1x1 convolution it is; the residual-scaling gain estimator is counted with
the decoder (it runs in the reconstruction step, after each decoder output).
Element-wise gate arithmetic is not counted: it is a few operations per
output, against hundreds of MACs per output in every convolution.

Encoding ``T`` iterations runs the encoder ``T`` times and the decoder
``T - 1`` times (the last decoder output is never read); decoding runs the
decoder ``T`` times.
"""

import collections

from tfrnncomp.model.config import ModelConfig
from tfrnncomp.model.layers.cells import CELLS


class Conv(collections.namedtuple(
        "Conv", "stage height width kernel stride c_in c_out")):
    """One convolution: its output size ``height x width``, kernel, stride and channels."""

    @property
    def macs(self):
        return self.height * self.width * self.kernel * self.kernel * self.c_in * self.c_out


def _cell_convs(prefix, kind, units, c_in, hidden_kernel, height, width, stride):
    cell = CELLS[kind]
    gates_in = cell.conv_channels(units, cell.input_blocks)
    gates_hidden = cell.conv_channels(units, cell.hidden_blocks)
    return [Conv(f"{prefix} input conv 3x3/{stride}", height, width, 3, stride, c_in, gates_in),
            Conv(f"{prefix} hidden conv {hidden_kernel}x{hidden_kernel}", height, width,
                 hidden_kernel, 1, units, gates_hidden)]


def convolutions(config, height, width):
    """``{"encoder": [Conv], "decoder": [Conv]}``: the convolutions of one iteration.

    ``height`` and ``width`` are the padded image size (multiples of the config's
    ``pad_multiple``, 32).
    """
    c = ModelConfig.from_dict(config) if isinstance(config, dict) else config
    if height % c.pad_multiple or width % c.pad_multiple:
        raise ValueError(f"the padded size must be a multiple of {c.pad_multiple}, "
                         f"got {height}x{width}")
    encoder, decoder = [], []
    h, w = height // 2, width // 2
    channels = c.scaled(c.encoder_conv)
    encoder.append(Conv("E-Conv 3x3/2", h, w, 3, 2, 3, channels))
    if c.gdn:
        encoder.append(Conv("encoder GDN", h, w, 1, 1, channels, channels))
    for i, (units, kernel) in enumerate(zip(c.encoder_units, c.encoder_hidden_kernels)):
        h, w = h // 2, w // 2
        units = c.scaled(units)
        encoder += _cell_convs(f"E-RNN#{i + 1}", c.cell, units, channels, kernel, h, w, 2)
        channels = units
    encoder.append(Conv("binarizer 1x1", h, w, 1, 1, channels, c.bits))
    channels = c.scaled(c.decoder_conv)
    decoder.append(Conv("D-Conv#1 1x1", h, w, 1, 1, c.bits, channels))
    for i, (units, kernel) in enumerate(zip(c.decoder_units, c.decoder_hidden_kernels)):
        units = c.scaled(units)
        decoder += _cell_convs(f"D-RNN#{i + 1}", c.decoder_cell_type, units, channels, kernel,
                               h, w, 1)
        h, w, channels = h * 2, w * 2, units // 4  # depth-to-space x2
    if c.gdn:
        decoder.append(Conv("decoder IGDN", h, w, 1, 1, channels, channels))
    decoder.append(Conv("D-Conv#2 1x1", h, w, 1, 1, channels, 3))
    if c.reconstruction == "residual_scaling":  # GainEstimator: 3 convs 3x3/2
        decoder += [Conv("gain estimator conv 1", height // 2, width // 2, 3, 2, 3, 16),
                    Conv("gain estimator conv 2", height // 4, width // 4, 3, 2, 16, 16),
                    Conv("gain estimator gain", height // 8, width // 8, 3, 2, 16, 1)]
    return {"encoder": encoder, "decoder": decoder}


def iteration_macs(config, height, width):
    """``(encoder MACs, decoder MACs)`` of one iteration."""
    convs = convolutions(config, height, width)
    return (sum(c.macs for c in convs["encoder"]), sum(c.macs for c in convs["decoder"]))


def codec_macs(config, height, width, iterations):
    """``(encode MACs, decode MACs)`` of a whole ``iterations``-iteration image."""
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    encoder, decoder = iteration_macs(config, height, width)
    return iterations * encoder + (iterations - 1) * decoder, iterations * decoder
