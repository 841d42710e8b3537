"""The training run's settings, its optimizer and its compiled model, on any Keras 3 backend.

:class:`TrainingConfig` is saved as a run's ``training.json``; :func:`build_model` gives the
model compiled with :func:`make_optimizer`'s Adam (:class:`tfrnncomp.training.fit_hooks.Adam`,
which clips the replicas' summed gradients), its variables and the optimizer's built.
Nothing here imports TensorFlow unless Keras runs on it.
"""

import contextlib
import dataclasses
from typing import Optional

import keras

from tfrnncomp.model.config import ModelConfig
from tfrnncomp.training.fit_hooks import Adam
from tfrnncomp.errors import ConfigError
from tfrnncomp.model.network import RNNCompressionModel


@dataclasses.dataclass
class TrainingConfig:
    """Settings of one training run (saved as ``training.json``)."""

    data: str = ""
    batch_size: int = 32
    patch_size: int = 32
    patches_per_image: int = 16
    hard_patches: bool = False
    steps_per_epoch: int = 100
    epochs: int = 1000
    learning_rate: float = 5e-4
    decay_steps: int = 20000
    decay_rate: float = 0.5
    global_clipnorm: Optional[float] = 1.0
    jit_compile: bool = False
    precision: str = "float32"  # or "mixed_bfloat16" (float32 variables, bf16 arithmetic)
    validation_steps: int = 0
    validation_images: int = 8
    validation_crop: int = 256
    validate_every: int = 1
    validation_fraction: float = 0.05  # share of the files of ``data`` held out to validate
    validation_data: str = ""  # a separate validation folder: then all of ``data`` trains
    seed: Optional[int] = None
    strategy: str = "default"
    average_momentum: float = 0.0  # EMA of the weights, scored beside them (0: off)
    average_every: int = 10  # steps between the samples of that average

    def to_dict(self):
        return dataclasses.asdict(self)


def make_optimizer(training: TrainingConfig):
    schedule = keras.optimizers.schedules.ExponentialDecay(
        training.learning_rate, training.decay_steps, training.decay_rate)
    return Adam(schedule, global_clipnorm=training.global_clipnorm)


PRECISIONS = ("float32", "mixed_bfloat16")


@contextlib.contextmanager
def _dtype_policy(name):
    """Keras' (process-wide) dtype policy set to ``name`` while the model is built."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _strategy_scope(strategy):
    if strategy is not None:
        return strategy.scope()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.distribute.get_strategy().scope()
    return contextlib.nullcontext()


def jit_compile(training: TrainingConfig):
    """``compile``'s ``jit_compile``: the setting under TensorFlow (XLA is optional there);
    Keras' own choice elsewhere (JAX always compiles; PyTorch runs eagerly)."""
    return training.jit_compile if keras.backend.backend() == "tensorflow" else "auto"


def min_patch_size(config: ModelConfig) -> int:
    """The smallest training patch ``config``'s loss accepts (1 where any will do)."""
    from tfrnncomp.model.losses import MS_SSIM_MIN_SIZE

    return MS_SSIM_MIN_SIZE if config.loss == "l1_ms_ssim" else 1


def check_patches(config: ModelConfig, training: TrainingConfig):
    """:class:`ConfigError` if the training patches are too small for ``config``'s loss."""
    smallest = min_patch_size(config)
    if training.patch_size < smallest:
        raise ConfigError(f"the {config.loss} loss needs patches of at least {smallest} "
                          f"pixels (--patch-size), got {training.patch_size}")


def build_model(config: ModelConfig, training: TrainingConfig, strategy=None):
    """The compiled model with its variables, created in ``strategy.scope()`` if given (a
    ``tf.distribute`` strategy: TensorFlow only).  It also loads weights for export and
    evaluation, so the training entry points check the patches (:func:`check_patches`)."""
    if training.precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {training.precision!r}")
    with _strategy_scope(strategy), _dtype_policy(training.precision):
        model = RNNCompressionModel(config.to_dict())
        model.compile(optimizer=make_optimizer(training), jit_compile=jit_compile(training))
        model.build_for_inference()
        model.optimizer.build(model.trainable_variables)
    return model
