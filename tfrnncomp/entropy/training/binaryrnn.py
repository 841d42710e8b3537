"""The BinaryRNN entropy model, float version for training (Toderici et al. 2017, Section 3).

For one iteration's codes ``c_t`` in {-1, +1} (0 where a position is not
coded) of shape ``[B, h, w, bits]`` the model predicts ``P(bit = 1)`` of every
bit from

1. a row-masked 7-column convolution over the 3 code rows above
   (:class:`~tfrnncomp.entropy.training.layers.RowMaskedConv2D`), plus, in
   the *progressive* variant (the paper's Figure 3), a 3x3 convolution over
   the two earlier iterations' codes ``concat(c_{t-1}, c_{t-2})`` at any
   position (zeros where absent) and a learned embedding of the iteration ``t``;
2. a line LSTM over the rows (:class:`~tfrnncomp.entropy.training.layers.LineLSTM`);
3. a 1x1 convolution + ReLU and a 1x1 convolution to ``bits`` logits;
4. with ``depth_groups`` > 1, plus a masked linear map of the position's own bits of the
   earlier depth groups (:class:`~tfrnncomp.entropy.training.layers.DepthGroupDense`):
   a position's bits are then coded group by group.

The mask is *row-causal*: every probability of code row ``y`` depends only on
rows ``< y`` of the same iteration (and on earlier iterations).  That is
stricter than a raster order ("a position's bits are predicted
only from earlier positions") and lets the decoder decode a whole row per
range-decoder call.  The coding path never runs this float model: it runs
its integer export (:mod:`tfrnncomp.entropy.coding.integer_net`).
"""

import dataclasses
import json
import math

import keras
import numpy as np
import tensorflow as tf

from tfrnncomp.entropy.training.layers import DepthGroupDense, LineLSTM, RowMaskedConv2D
from tfrnncomp.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class BinaryRNNConfig:
    """Every hyper-parameter of a BinaryRNN (nothing learned)."""

    bits: int = 32
    channels: int = 64          # masked-conv features, LSTM state and hidden 1x1 width
    masked_rows: int = 3        # rows above covered by the masked convolution
    masked_width: int = 7       # its width in columns
    lstm_kernel: int = 3        # 1 x k convolutions of the line LSTM
    progressive: bool = True    # condition on the two earlier iterations
    previous_kernel: int = 3    # k x k convolution over the earlier iterations
    iterations: int = 16        # size of the iteration embedding (t = 1..iterations)
    depth_groups: int = 1       # bits of a position coded in this many groups, each
    #                             conditioned on the groups before it

    def __post_init__(self):
        for name in ("bits", "channels", "masked_rows", "masked_width", "lstm_kernel",
                     "previous_kernel", "iterations", "depth_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"BinaryRNN config: {name} must be a positive integer, "
                                  f"got {value!r}")
        for name in ("masked_width", "lstm_kernel", "previous_kernel"):
            if getattr(self, name) % 2 != 1:
                raise ConfigError(f"BinaryRNN config: {name} must be odd")
        if self.bits % self.depth_groups:
            raise ConfigError(f"BinaryRNN config: depth_groups ({self.depth_groups}) must "
                              f"divide bits ({self.bits})")

    def to_dict(self):
        values = dataclasses.asdict(self)
        if values["depth_groups"] == 1:  # absent means 1: files of one-group models unchanged
            del values["depth_groups"]
        return values

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"BinaryRNN config: unknown keys {sorted(unknown)}")
        return cls(**values)


def load_config(path=None, **overrides):
    """A :class:`BinaryRNNConfig` from a JSON file (defaults where ``path`` is None)."""
    values = {}
    if path:
        with open(path, encoding="utf-8") as handle:
            try:
                values = json.load(handle)
            except json.JSONDecodeError as error:
                raise ConfigError(f"BinaryRNN config {path}: not JSON ({error})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"BinaryRNN config {path}: expected a JSON object")
    return BinaryRNNConfig.from_dict({**values, **overrides})


def bits_cross_entropy(targets, logits):
    """Binary cross-entropy in bits per coded bit (targets 0/1, weights in the 3rd slot)."""
    targets = tf.cast(targets, logits.dtype)
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits) / math.log(2.0)


@keras.saving.register_keras_serializable(package="tfrnncomp")
class BinaryRNN(keras.Model):
    """Logits of ``P(bit = 1)`` for ``{"codes", "previous", "iteration"}`` inputs.

    ``codes`` float ``[B, h, w, bits]`` in {-1, 0, +1}; ``previous``
    ``[B, h, w, 2 * bits]`` (the iterations ``t-1`` and ``t-2``, zeros where
    absent; ignored unless progressive); ``iteration`` int ``[B]``, ``t`` >= 1.
    """

    def __init__(self, config=None, **kwargs):
        super().__init__(**kwargs)
        config = config or {}
        self.config_ = (config if isinstance(config, BinaryRNNConfig)
                        else BinaryRNNConfig.from_dict(config))
        c = self.config_
        self.masked = RowMaskedConv2D(c.channels, c.masked_rows, c.masked_width, name="masked")
        if c.progressive:
            self.previous_conv = keras.layers.Conv2D(c.channels, c.previous_kernel,
                                                     padding="same", use_bias=False,
                                                     name="previous")
            self.embedding = keras.layers.Embedding(c.iterations, c.channels,
                                                    embeddings_initializer="zeros",
                                                    name="iteration")
        self.lstm = LineLSTM(c.channels, c.lstm_kernel, name="lstm")
        self.hidden = keras.layers.Conv2D(c.channels, 1, activation="relu", name="hidden")
        self.logits = keras.layers.Conv2D(c.bits, 1, name="logits")
        if c.depth_groups > 1:
            self.depth_group = DepthGroupDense(c.depth_groups, name="depth_group")

    def features(self, inputs):
        """The LSTM's input: masked conv (+ earlier iterations + iteration embedding)."""
        x = self.masked(inputs["codes"])
        if self.config_.progressive:
            t = tf.minimum(tf.cast(inputs["iteration"], tf.int32), self.config_.iterations)
            x = x + self.previous_conv(inputs["previous"])
            x = x + self.embedding(t - 1)[:, None, None, :]
        return x

    def call(self, inputs):
        logits = self.logits(self.hidden(self.lstm(self.features(inputs))))
        if self.config_.depth_groups > 1:
            logits = logits + self.depth_group(inputs["codes"])
        return logits

    def build_for(self, height=4, width=4):
        """Create the weights by running a zero batch."""
        self(example_inputs(self.config_, 1, height, width))
        return self

    def get_config(self):
        return {"config": self.config_.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def example_inputs(config, batch, height, width):
    return {"codes": tf.zeros([batch, height, width, config.bits]),
            "previous": tf.zeros([batch, height, width, 2 * config.bits]),
            "iteration": tf.ones([batch], tf.int32)}


def iteration_samples(codes):
    """Per-iteration training samples of one code tensor ``int8[T, h, w, bits]``.

    Returns ``(inputs, targets)`` with a leading axis of T: the inputs of
    :class:`BinaryRNN` and the 0/1 bits to predict.
    """
    codes = tf.cast(codes, tf.float32)
    zeros = tf.zeros_like(codes[:1])
    prev1 = tf.concat([zeros, codes[:-1]], 0)
    prev2 = tf.concat([zeros, zeros, codes[:-2]], 0)[:tf.shape(codes)[0]]
    count = tf.shape(codes)[0]
    inputs = {"codes": codes, "previous": tf.concat([prev1, prev2], -1),
              "iteration": tf.range(1, count + 1)}
    return inputs, tf.cast(codes > 0, tf.float32)


def training_dataset(paths, batch_size, shuffle=2048, seed=0, repeat=False):
    """Batches of :func:`iteration_samples` from code TFRecords (all one crop size)."""
    from tfrnncomp.entropy.training.codes_data import codes_dataset

    data = codes_dataset(paths).cache()
    if repeat:
        data = data.repeat()
    data = data.map(iteration_samples).unbatch()
    if shuffle:
        data = data.shuffle(shuffle, seed=seed)
    return data.batch(batch_size, drop_remainder=False).prefetch(2)


def build_model(config):
    model = BinaryRNN(config)
    model.build_for()
    return model


def warm_start(model, weights, config):
    """Load ``weights`` (a ``float.weights.h5`` of a model with ``config``) into ``model``.

    ``model`` may add depth groups to ``config``: its depth-group layer keeps its zero
    kernel, so it predicts exactly as the loaded model.  Every other setting must match.
    """
    config = config if isinstance(config, BinaryRNNConfig) else BinaryRNNConfig.from_dict(config)
    if dataclasses.replace(config, depth_groups=model.config_.depth_groups) != model.config_:
        raise ConfigError("warm start: only depth_groups may differ from the loaded model's "
                          "config")
    source = build_model(config)
    source.load_weights(weights)
    for layer in source.layers:
        model.get_layer(layer.name).set_weights(layer.get_weights())
    return model


def compile_model(model, learning_rate=1e-3, **kwargs):
    """Adam + :func:`bits_cross_entropy`; ``kwargs`` go to ``model.compile``."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=bits_cross_entropy,
                  **kwargs)
    return model


def float_probabilities(model, codes, active=None):
    """P(bit = 1) ``float64[T, h, w, bits]`` of a code tensor under the float model."""
    codes = np.asarray(codes, np.float32)
    if active is not None:
        codes = codes * np.asarray(active, np.float32)[..., None]
    inputs, _ = iteration_samples(codes)
    return 1.0 / (1.0 + np.exp(-model(inputs).numpy().astype(np.float64)))
