"""A GRU run's checkpoint as the start of a residual-GRU run that codes exactly as it did.

A residual GRU (:class:`tfrnncomp.model.layers.cells.ResidualGRUCell`) is a GRU whose fused
input convolution emits a fourth block ``x_res`` of ``units`` channels, added to the cell's
output.  :func:`residual_gru_warm_start` converts a training checkpoint of a GRU model (what
``BackupAndRestore`` writes: model and Adam variables) into one of the same model with residual
GRU cells in the encoder and the decoder: each cell's input-convolution kernel and bias get
that block appended as zeros along the output-channel axis, and the Adam moments of those two
variables zeros in the same place.  Every other variable, the optimizer's iteration count
included, is copied unchanged, so ``x_res`` is 0 and the converted model's reconstructions are
the GRU model's.  :func:`convert_checkpoint` is the conversion both this warm start and the
widening of :mod:`tfrnncomp.training.widen` go through.
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


def convert_checkpoint(config, new_config, source, destination, converter):
    """Write into ``destination`` (a ``.weights.h5`` path, replaced atomically) a training
    checkpoint of the model ``new_config`` converted from ``source``, one of ``config``.

    Both models are built with their Adam variables and ``source`` is loaded into the first;
    ``converter(old_model, new_model)`` returns ``convert(value, new_variable, optimizer)``, which
    gives the new value of every variable (``optimizer``: an Adam variable) whose shape differs.
    Every other variable, the optimizer's iteration count included, is copied unchanged."""
    from tfrnncomp.atomic import atomic_path

    old, new = (build_model(load_config(c), TrainingConfig()) for c in (config, new_config))
    old.load_weights(source)
    convert = converter(old, new)
    for olds, news, optimizer in ((old.variables, new.variables, False),
                                  (old.optimizer.variables, new.optimizer.variables, True)):
        assert len(olds) == len(news), (len(olds), len(news))
        for old_variable, variable in zip(olds, news):
            value = ops.convert_to_numpy(old_variable)
            if tuple(old_variable.shape) != tuple(variable.shape):
                value = convert(value, variable, optimizer)
            variable.assign(value)
    with atomic_path(destination, suffix=".weights.h5") as tmp:
        new.save_weights(tmp)


def residual_gru_warm_start(config, source, destination):
    """Write into ``destination`` (a ``.weights.h5`` path) the residual-GRU checkpoint of
    ``source``, a training checkpoint of the GRU model ``config``; returns the residual-GRU
    model config."""
    residual = residual_gru_config(config)
    convert_checkpoint(config, residual, source, destination, lambda old, new: (
        lambda value, variable, optimizer: _widened(value, tuple(variable.shape), variable.path)))
    return residual
