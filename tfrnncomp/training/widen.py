"""A training checkpoint as the start of a wider model that codes as it did (Net2WiderNet).

Chen et al. 2016 ("Net2Net") widen a layer by copying units: a new unit copies the incoming
weights of an old one, and every layer reading the copies divides its weights for them by the
number of copies, so the wider network computes the same function.  :func:`widen_checkpoint`
does this for the whole :class:`~tfrnncomp.model.network.RNNCompressionModel` at a larger
``width``:

* new unit ``k`` of a layer with ``n`` old units copies old unit ``k mod n``;
* a recurrent cell's fused convolutions copy every gate block of the unit, and its hidden
  convolution, which reads the cell's own state, divides like any other reader;
* the decoder's cells feed a depth-to-space, which turns channel ``p * C + c`` into channel ``c``
  of sub-pixel ``p``: their units are copied within each of the four sub-pixel groups, so the
  channels after the depth-to-space are copies too;
* the binarizer keeps its ``bits`` outputs and the output convolution its 3.

Copies of one unit would stay equal under training (their gradients are the same), so the
incoming kernels of the copies of a unit get Gaussian perturbations that sum to zero over the
copies (``noise`` times the old kernel's standard deviation): readers see the mean of the
copies, which moves only at second order.  ``noise=0`` gives exactly the old reconstructions.

The Adam moments are copied along the same maps, undivided, and the optimizer's iteration count
is kept, so the learning-rate schedule continues.  Only GRU, residual-GRU and LSTM cells without
GDN are supported (their fused convolutions are whole blocks of ``units`` channels).
"""

import os

import numpy as np

from tfrnncomp.atomic import atomic_write_bytes
from tfrnncomp.errors import ConfigError
from tfrnncomp.model.config import load_config
from tfrnncomp.training.run_dir import append_phase
from tfrnncomp.training.warm_start import convert_checkpoint

#: cells whose fused convolutions emit whole blocks of ``units`` channels
WIDENABLE_CELLS = ("gru", "residual_gru", "lstm")
#: sub-pixel groups of the decoder's depth-to-space (block size 2)
SUBPIXELS = 4


def widened_config(config, width):
    """``config`` at the larger ``width`` (a ``ConfigError`` where it cannot be widened)."""
    config = load_config(config)
    cells = {config.cell, config.decoder_cell_type}
    if not cells <= set(WIDENABLE_CELLS) or config.gdn:
        raise ConfigError(f"only models of {WIDENABLE_CELLS} cells without GDN can be widened, "
                          f"got cells {sorted(cells)} and gdn={config.gdn}")
    if not float(width) >= float(config.width):
        raise ConfigError(f"the new width must be at least the old {config.width}, got {width}")
    return config.replace(width=float(width))


def _copies(old, new):
    return np.arange(new) % old


def _subpixel_copies(old, new):
    """Copies within each sub-pixel group of a depth-to-space's input."""
    return np.concatenate([p * (old // SUBPIXELS) + _copies(old // SUBPIXELS, new // SUBPIXELS)
                           for p in range(SUBPIXELS)])


def _layer_maps(old_model, new_model):
    """``{layer: (input map, unit map)}``: new input channel / unit -> the old one it copies."""
    def units(layer):
        return layer.units if hasattr(layer, "units") else layer.filters

    def pairs(name):
        return units(getattr(old_model, name)), units(getattr(new_model, name))

    maps = {"encoder_conv": (np.arange(3), _copies(*pairs("encoder_conv")))}
    previous = maps["encoder_conv"][1]
    for old, new in zip(old_model.encoder_rnns, new_model.encoder_rnns):
        maps[new.name] = (previous, _copies(old.units, new.units))
        previous = maps[new.name][1]
    bits = np.arange(new_model.config.bits)
    maps["binarizer"] = (previous, bits)
    maps["decoder_conv"] = (bits, _copies(*pairs("decoder_conv")))
    previous = maps["decoder_conv"][1]
    for old, new in zip(old_model.decoder_rnns, new_model.decoder_rnns):
        maps[new.name] = (previous, _subpixel_copies(old.units, new.units))
        previous = _copies(old.units // SUBPIXELS, new.units // SUBPIXELS)
    maps["output_conv"] = (previous, np.arange(3))
    return maps


def _variable_maps(path, maps):
    """(input map, output map) of the variable at ``path`` (``None``: not widened)."""
    parts = path.split("/")
    layer = next((p for p in parts if p in maps), None)
    if layer is None:
        return None
    inputs, unit_map = maps[layer]
    if "hidden_conv" in parts:
        inputs = unit_map
    return inputs, unit_map


def _blocks(unit_map, old_channels):
    """The output map of a fused convolution: ``unit_map`` repeated for every gate block."""
    old_units = int(unit_map.max()) + 1
    return np.concatenate([b * old_units + unit_map for b in range(old_channels // old_units)])


def _widen(value, in_map, unit_map, divide, noise, rng):
    """``value`` (a kernel ``[kh, kw, in, out]`` or a bias ``[out]``) along the maps."""
    out_map = _blocks(unit_map, value.shape[-1])
    if value.ndim == 1:
        return value[out_map]
    new = value[:, :, in_map][..., out_map]
    if divide:
        new = new / np.bincount(in_map)[in_map][:, None]
    if noise:
        one_hot = (out_map[:, None] == np.arange(value.shape[-1])[None]).astype(new.dtype)
        delta = rng.normal(0.0, noise * float(np.std(value)), new.shape).astype(new.dtype)
        new = new + delta - (delta @ one_hot / one_hot.sum(0)) @ one_hot.T
    return new


def _optimizer_variable_maps(path, model_paths, maps):
    """The maps of the model variable whose Adam moment is at ``path``."""
    name = path.split("/", 1)[-1]
    for model_path in model_paths:
        if name.startswith(model_path.replace("/", "_") + "_"):
            return _variable_maps(model_path, maps)
    return None


def widen_checkpoint(config, source, destination, width, noise=0.01, seed=0):
    """Write into ``destination`` (a ``.weights.h5`` path, replaced atomically) the checkpoint
    of ``config`` at ``width`` widened from ``source``, a training checkpoint of ``config`` (model
    and Adam variables); returns the wider model config."""
    wide_config = widened_config(config, width)

    def converter(old, new):
        maps, rng = _layer_maps(old, new), np.random.default_rng(seed)
        model_paths = [v.path for v in new.variables]

        def convert(value, variable, optimizer):
            variable_maps = (_optimizer_variable_maps(variable.path, model_paths, maps)
                             if optimizer else _variable_maps(variable.path, maps))
            if variable_maps is None:
                raise ValueError(f"{variable.path}: no map widens {value.shape} to "
                                 f"{tuple(variable.shape)}")
            return _widen(value, *variable_maps, divide=not optimizer,
                          noise=0.0 if optimizer else noise, rng=rng)
        return convert

    convert_checkpoint(config, wide_config, source, destination, converter)
    return wide_config


def widen_run(run_dir, width, name=None, noise=0.01, seed=0):
    """Widen a training run in place: its ``backup/latest.weights.h5`` (replaced atomically) and
    its ``config.json`` become those of the model at ``width`` (named ``name``), and
    ``phases.log`` records the change, so the run resumes as the wider model with its logs
    (epochs, validation history) continued.  The weight average of the narrower model, if any,
    no longer fits and starts afresh when the run resumes.  Returns the wider model config."""
    config_path = os.path.join(run_dir, "config.json")
    checkpoint = os.path.join(run_dir, "backup", "latest.weights.h5")
    for path in (config_path, checkpoint):
        if not os.path.isfile(path):
            raise ConfigError(f"{run_dir} is not a training run with a checkpoint: no {path}")
    old = load_config(config_path)
    wide = widen_checkpoint(old, checkpoint, checkpoint, width, noise=noise, seed=seed)
    wide = wide.replace(name=name or wide.name)
    atomic_write_bytes(config_path, wide.to_json().encode("utf-8"))
    append_phase(run_dir, {"from": {"name": old.name, "width": old.width},
                           "to": {"name": wide.name, "width": wide.width},
                           "widened": {"noise": noise, "seed": seed}})
    return wide
