"""Generalized divisive normalization (Balle, Laparra and Simoncelli, ICLR 2016).

``GDN``:  y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)
``IGDN``: y_i = x_i * sqrt(beta_i + sum_j gamma_ij x_j^2)  (its approximate inverse)

Used by the RNN+GDN variant: an analysis block before the encoder RNNs and a
synthesis block after the decoder RNNs.  ``beta`` and ``gamma`` are kept
non-negative by a squared reparameterization with a small pedestal and lower
bounds, as in Balle et al. 2018 (the tensorflow-compression convention).
"""

import keras
import numpy as np
from keras import ops

_PEDESTAL = 2.0 ** -36


@keras.saving.register_keras_serializable(package="tfrnncomp")
class GDN(keras.layers.Layer):
    """Generalized divisive normalization over channels (``inverse=True`` for IGDN)."""

    def __init__(self, inverse=False, beta_min=1e-6, gamma_init=0.1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(inverse, bool):
            raise ValueError(f"inverse must be a bool, got {inverse!r}")
        if not beta_min > 0:
            raise ValueError(f"beta_min must be > 0, got {beta_min!r}")
        if not gamma_init >= 0:
            raise ValueError(f"gamma_init must be >= 0, got {gamma_init!r}")
        self.inverse = inverse
        self.beta_min = float(beta_min)
        self.gamma_init = float(gamma_init)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError("GDN needs a known channel dimension")
        self.channels = int(channels)
        beta_init = np.sqrt(np.ones(self.channels) + _PEDESTAL)
        gamma_init = np.sqrt(self.gamma_init * np.eye(self.channels) + _PEDESTAL)
        self.beta_param = self.add_weight(
            name="beta", shape=(self.channels,),
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(
                beta_init, dtype=dtype or "float32"))
        self.gamma_param = self.add_weight(
            name="gamma", shape=(self.channels, self.channels),
            initializer=lambda shape, dtype=None: ops.convert_to_tensor(
                gamma_init, dtype=dtype or "float32"))

    def call(self, inputs):
        beta_bound = (self.beta_min + _PEDESTAL) ** 0.5
        beta = ops.square(ops.maximum(self.beta_param, beta_bound)) - _PEDESTAL
        gamma = ops.square(ops.maximum(self.gamma_param, _PEDESTAL ** 0.5)) - _PEDESTAL
        beta = ops.cast(beta, inputs.dtype)
        gamma = ops.cast(gamma, inputs.dtype)
        # sum_j gamma_ij x_j^2 is a 1x1 convolution of x^2 with kernel gamma^T
        norm = ops.matmul(ops.square(inputs), ops.transpose(gamma)) + beta
        norm = ops.sqrt(norm)
        return inputs * norm if self.inverse else inputs / norm

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(inverse=self.inverse, beta_min=self.beta_min, gamma_init=self.gamma_init)
        return config
