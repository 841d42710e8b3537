"""A GRU run's checkpoint as the start of a residual-GRU run that codes exactly as it did.

A residual GRU (:class:`tfrnncomp.model.layers.cells.ResidualGRUCell`) is a GRU whose fused
input convolution emits a fourth block ``x_res`` of ``units`` channels, added to the cell's
output.  :func:`residual_gru_warm_start` converts a training checkpoint of a GRU model (what
``BackupAndRestore`` writes: model and Adam variables) into one of the same model with residual
GRU cells in the encoder and the decoder: each cell's input-convolution kernel and bias get
that block appended as zeros along the output-channel axis, and the Adam moments of those two
variables zeros in the same place.  Every other variable, the optimizer's iteration count
included, is copied unchanged, so ``x_res`` is 0 and the converted model's reconstructions are
the GRU model's.
"""

import numpy as np
from keras import ops

from tfrnncomp.errors import ConfigError
from tfrnncomp.model.config import load_config
from tfrnncomp.training.setup import TrainingConfig, build_model


def residual_gru_config(config):
    """The model config of ``config`` (a GRU model) with residual GRU cells everywhere."""
    config = load_config(config)
    if (config.cell, config.decoder_cell_type) != ("gru", "gru"):
        raise ConfigError("a residual-GRU warm start needs a GRU model, got cell "
                          f"{config.cell!r} and decoder cell {config.decoder_cell_type!r}")
    return config.replace(cell="residual_gru", decoder_cell="residual_gru")


def _widened(value, shape, path):
    """``value`` with zeros appended along its last axis up to ``shape``."""
    extra = shape[-1] - value.shape[-1]
    if "input_conv" not in path or value.shape[:-1] != shape[:-1] or extra <= 0:
        raise ValueError(f"{path}: cannot widen {value.shape} to {shape}")
    return np.concatenate([value, np.zeros(shape[:-1] + (extra,), value.dtype)], axis=-1)


def residual_gru_warm_start(config, source, destination):
    """Write into ``destination`` (a ``.weights.h5`` path) the residual-GRU checkpoint of
    ``source``, a training checkpoint of the GRU model ``config``; returns the residual-GRU
    model config."""
    residual = residual_gru_config(config)
    gru, model = (build_model(c, TrainingConfig()) for c in (load_config(config), residual))
    gru.load_weights(source)
    olds = list(gru.variables) + list(gru.optimizer.variables)
    news = list(model.variables) + list(model.optimizer.variables)
    assert len(olds) == len(news), (len(olds), len(news))
    for old, new in zip(olds, news):
        value = ops.convert_to_numpy(old)
        if tuple(old.shape) != tuple(new.shape):
            value = _widened(value, tuple(new.shape), new.path)
        new.assign(value)
    model.save_weights(destination)
    return residual
