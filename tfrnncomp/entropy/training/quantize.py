"""Post-training quantization of a float BinaryRNN to an :class:`IntegerNet`
(Balle et al. 2019, "Integer networks"; the formats are in ``BINARYRNN.md``).

- weights: int8, one scale per output channel (``max |w| / 127``);
- activations: fixed per-tensor scales; the masked-conv features and the
  hidden 1x1 layer from a calibration pass on training codes (a high
  percentile of ``|x|`` maps to :data:`~integer_net.ACT_MAX`), the LSTM
  gates, cell, output and the logits at fixed binary points;
- biases: integers at the accumulator's scale;
- requantization: ``(acc * m + 2**(s-1)) >> s`` with a 16-bit multiplier
  ``m`` per output channel and one shift ``s`` per layer;
- sigmoid, tanh and logit -> cdf0 as integer lookup tables built here, once.

:func:`dequantize` goes back: a float model from an integer net, to continue training it.
"""

import math

import numpy as np

from tfrnncomp.entropy.coding import integer_net as inet

MULTIPLIER_BITS = 15


def _weights(kernel):
    """int8 weights and per-output-channel scales of a float kernel (last axis = out)."""
    kernel = np.asarray(kernel, np.float64)
    peak = np.abs(kernel.reshape(-1, kernel.shape[-1])).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0)
    return np.clip(np.round(kernel / scale), -127, 127).astype(np.int64), scale


def _multiplier(real):
    """Integer multipliers and one shift with ``m / 2**s ~ real`` (``m < 2**15``)."""
    real = np.asarray(real, np.float64)
    shift = int(math.floor(math.log2(((1 << MULTIPLIER_BITS) - 1) / real.max())))
    if shift < 1 or shift > 60:
        raise ValueError(f"cannot represent requantization scales {real.min()}..{real.max()}")
    return np.round(real * 2.0 ** shift).astype(np.int64), shift


def tables():
    """The sigmoid, tanh (Q15, indexed by Q8 + 2048) and cdf0 (indexed by Q8 logit + 3072)."""
    gate = np.arange(-inet.GATE_MAX, inet.GATE_MAX + 1, dtype=np.float64) / (1 << inet.GATE_FRAC)
    unit = float(1 << inet.UNIT_FRAC)
    sigmoid = np.round(unit / (1.0 + np.exp(-gate))).astype(np.int64)
    tanh = np.round(unit * np.tanh(gate)).astype(np.int64)
    logit = np.arange(-inet.LOGIT_MAX, inet.LOGIT_MAX + 1, dtype=np.float64) / (1 << inet.GATE_FRAC)
    cdf0 = np.clip(np.round(4096.0 / (1.0 + np.exp(logit))), 1, 4095).astype(np.int64)
    return sigmoid, tanh, cdf0


def _group(model, arrays, shifts, q8):
    """The depth-group layer: int8 weights (zero outside its mask), logits at Q8."""
    from tfrnncomp.entropy.training.layers import depth_group_mask

    kernel = model.depth_group.kernel.numpy()
    kernel = kernel * depth_group_mask(kernel.shape[0], model.config_.depth_groups).numpy()
    w, ws = _weights(kernel)
    arrays["group_w"] = w
    live = np.abs(w).max(axis=0) > 0  # the first group's columns are all zero
    if not live.any():  # an untrained layer: no term
        arrays["group_m"], shifts["group"] = np.zeros_like(w[0]), 1
        return
    arrays["group_m"], shifts["group"] = _multiplier(np.where(live, ws * q8, 0.0))


def calibrate(model, code_tensors, percentile=99.99):
    """Activation scales (features, hidden) from float runs on ``code_tensors``."""
    from tfrnncomp.entropy.training.binaryrnn import iteration_samples

    features, hidden = [], []
    for codes in code_tensors:
        inputs, _ = iteration_samples(codes)
        x = model.features(inputs)
        y = model.hidden(model.lstm(x))
        features.append(np.abs(x.numpy()).reshape(-1))
        hidden.append(np.abs(y.numpy()).reshape(-1))
    return {"features": float(np.percentile(np.concatenate(features), percentile)) / inet.ACT_MAX,
            "hidden": float(np.percentile(np.concatenate(hidden), percentile)) / inet.ACT_MAX}


def quantize(model, code_tensors, codec_model_id, percentile=99.99):
    """The :class:`IntegerNet` of a float :class:`BinaryRNN`, calibrated on ``code_tensors``."""
    config = model.config_
    scales = calibrate(model, code_tensors, percentile)
    s_x, s_y = scales["features"], scales["hidden"]
    s_h = 2.0 ** -inet.STATE_FRAC
    q8 = float(1 << inet.GATE_FRAC)
    arrays, shifts = {}, {}

    def layer(name, kernel, bias, input_scale, output_scale, key):
        w, ws = _weights(kernel)
        arrays[f"{name}_w"] = w
        if bias is not None:
            arrays[f"{name}_b"] = np.round(np.asarray(bias) / (ws * input_scale)).astype(np.int64)
        arrays[f"{name}_m"], shifts[key] = _multiplier(ws * input_scale / output_scale)
        return ws

    layer("masked", model.masked.kernel.numpy(), model.masked.bias.numpy(), 1.0, s_x, "masked")
    if config.progressive:
        ws = layer("previous", model.previous_conv.kernel.numpy(), None, 1.0, s_x, "previous")
        embedding = model.embedding.embeddings.numpy()
        arrays["iteration_b"] = np.round(embedding / ws).astype(np.int64)
    layer("lstm_x", model.lstm.input_kernel.numpy(), model.lstm.bias.numpy(), s_x, 1.0 / q8,
          "lstm_x")
    wh, whs = _weights(model.lstm.state_kernel.numpy())
    arrays["lstm_h_w"] = wh
    arrays["lstm_h_m"], shifts["lstm_h"] = _multiplier(whs * s_h * q8)
    hidden = model.hidden.kernel.numpy()
    layer("hidden", hidden.reshape(hidden.shape[-2:]), model.hidden.bias.numpy(), s_h, s_y,
          "hidden")
    logits = model.logits.kernel.numpy()
    layer("logits", logits.reshape(logits.shape[-2:]), model.logits.bias.numpy(), s_y,
          1.0 / q8, "logits")
    if config.depth_groups > 1:
        _group(model, arrays, shifts, q8)
    arrays["sigmoid_lut"], arrays["tanh_lut"], arrays["cdf0_lut"] = tables()
    meta = {"format": inet.FORMAT, "codec_model_id": codec_model_id,
            "config": config.to_dict(), "shifts": shifts,
            "calibration": {"percentile": percentile, "features_scale": s_x,
                            "hidden_scale": s_y}}
    net = inet.IntegerNet(arrays, meta)
    return inet.IntegerNet.from_bytes(net.to_bytes())  # the id of exactly these bytes


def _weight_scales(net, layer, input_scale, output_scale):
    """Per-output-channel weight scales ``ws`` of ``layer`` from its requantization
    multipliers: :func:`quantize` stored ``m = round(ws * input_scale / output_scale * 2**s)``.

    The relative error is at most ``0.5 / m`` (``m`` is 15 bits; 0 where ``m`` is 0)."""
    real = net.arrays[f"{layer}_m"] / 2.0 ** net.shifts[layer]
    return real * output_scale / input_scale


def dequantize(net):
    """A built float :class:`BinaryRNN` whose weights are ``net``'s integers times their scales.

    Inverts every step of :func:`quantize` as far as the stored numbers allow: weight
    scales from the multipliers (:func:`_weight_scales`), kernels ``w * ws`` (the hidden
    and logits matrices back in their 1x1-convolution shapes), biases
    ``b * ws * input_scale``, the iteration embedding ``iteration_b * ws`` of the
    earlier-iterations layer.  What quantization rounded away stays lost, so
    ``quantize`` of the result with ``net``'s calibration gives back ``net``'s integers
    (up to one step).  A depth-group column with multiplier 0 (the first group's) is 0.
    """
    from tfrnncomp.entropy.training.binaryrnn import BinaryRNNConfig, build_model

    model = build_model(BinaryRNNConfig.from_dict(net.meta["config"]))
    config, arrays = model.config_, net.arrays
    s_x = net.meta["calibration"]["features_scale"]
    s_y = net.meta["calibration"]["hidden_scale"]
    s_h = 2.0 ** -inet.STATE_FRAC
    q8 = float(1 << inet.GATE_FRAC)

    def layer(name, kernel, bias, input_scale, output_scale):
        ws = _weight_scales(net, name, input_scale, output_scale)
        kernel.assign((arrays[f"{name}_w"] * ws).reshape(kernel.shape).astype(np.float32))
        if bias is not None:
            bias.assign((arrays[f"{name}_b"] * ws * input_scale).astype(np.float32))
        return ws

    layer("masked", model.masked.kernel, model.masked.bias, 1.0, s_x)
    if config.progressive:
        ws = layer("previous", model.previous_conv.kernel, None, 1.0, s_x)
        model.embedding.embeddings.assign((arrays["iteration_b"] * ws).astype(np.float32))
    layer("lstm_x", model.lstm.input_kernel, model.lstm.bias, s_x, 1.0 / q8)
    layer("lstm_h", model.lstm.state_kernel, None, s_h, 1.0 / q8)  # m / 2**s = whs * s_h * q8
    layer("hidden", model.hidden.kernel, model.hidden.bias, s_h, s_y)
    layer("logits", model.logits.kernel, model.logits.bias, s_y, 1.0 / q8)
    if config.depth_groups > 1:  # m = round(ws * q8 * 2**s), 0 in the first group's columns
        layer("group", model.depth_group.kernel, None, 1.0, 1.0 / q8)
    return model
