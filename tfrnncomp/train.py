"""Training with ``model.fit`` (Toderici et al. 2017, Section 3).

A run directory holds everything a run needs to resume after an interruption:

    RUN_DIR/config.json           model config (hyper-parameters, never inferred from weights)
    RUN_DIR/training.json         training settings (data, batch, learning rate...)
    RUN_DIR/backup/               BackupAndRestore state: weights + optimizer + epoch
    RUN_DIR/latest.weights.h5     model weights after the last epoch (ModelCheckpoint)
    RUN_DIR/log.csv               one row per epoch (CSVLogger, appended)
    RUN_DIR/tensorboard/          TensorBoard logs

Running the same command again continues where the run stopped.
"""

import dataclasses
import json
import os
import time
from typing import Optional

import keras

from tfrnncomp import data as data_lib
from tfrnncomp.config import ModelConfig, load_config
from tfrnncomp.errors import ConfigError
from tfrnncomp.model import RNNCompressionModel


#: config fields a resumed run may change (a curriculum over iterations)
_TRAINING_PHASE_KEYS = ("train_iterations", "loss_weighting")


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
    validation_steps: int = 0
    seed: Optional[int] = None

    def to_dict(self):
        return dataclasses.asdict(self)


def _atomic_write_text(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def make_optimizer(training: TrainingConfig):
    schedule = keras.optimizers.schedules.ExponentialDecay(
        training.learning_rate, training.decay_steps, training.decay_rate)
    return keras.optimizers.Adam(schedule, global_clipnorm=training.global_clipnorm)


def build_model(config: ModelConfig, training: TrainingConfig):
    model = RNNCompressionModel(config.to_dict())
    model.compile(optimizer=make_optimizer(training))
    model.build_for_inference()
    return model


def prepare_run_dir(run_dir, config: ModelConfig, training: TrainingConfig):
    """Write the run's configs, or check they match those of the run being resumed."""
    os.makedirs(run_dir, exist_ok=True)
    config_path = os.path.join(run_dir, "config.json")
    if os.path.exists(config_path):
        saved = load_config(config_path)
        # a curriculum may change how the model is trained, never what it is
        phase = {key: getattr(config, key) for key in _TRAINING_PHASE_KEYS}
        if saved.replace(**phase) != config:
            raise ConfigError(f"{run_dir} holds a run of another model config; "
                              "use a new --out directory")
        if saved != config:
            with open(os.path.join(run_dir, "phases.log"), "a", encoding="utf-8") as log:
                log.write(json.dumps({"from": {k: getattr(saved, k) for k in phase},
                                      "to": phase}) + "\n")
    _atomic_write_text(config_path, config.to_json())
    _atomic_write_text(os.path.join(run_dir, "training.json"),
                       json.dumps(training.to_dict(), indent=2, sort_keys=True))


class EpochTimer(keras.callbacks.Callback):
    """Appends ``epoch,end_unix_time,seconds,steps`` to ``RUN_DIR/times.csv`` (wall time record)."""

    def __init__(self, path, steps_per_epoch):
        super().__init__()
        self.path = path
        self.steps_per_epoch = steps_per_epoch
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.time()

    def on_epoch_end(self, epoch, logs=None):
        now = time.time()
        new = not os.path.exists(self.path)
        with open(self.path, "a", encoding="utf-8") as handle:
            if new:
                handle.write("epoch,end_unix_time,seconds,steps\n")
            handle.write(f"{epoch},{now:.1f},{now - self._start:.2f},{self.steps_per_epoch}\n")


def callbacks(run_dir, steps_per_epoch=None):
    """The standard callbacks: resumption, checkpoint, CSV and TensorBoard logs, wall time."""
    return [
        EpochTimer(os.path.join(run_dir, "times.csv"), steps_per_epoch),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), save_freq="epoch",
                                         delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "latest.weights.h5"),
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"), update_freq="epoch",
                                    write_graph=False),
    ]


def train(config, training: TrainingConfig, run_dir, verbose="auto", extra_callbacks=()):
    """Train (or resume) a model on ``training.data``; returns the Keras History."""
    config = load_config(config)
    prepare_run_dir(run_dir, config, training)
    dataset = data_lib.patch_dataset(
        training.data, patch_size=training.patch_size, batch_size=training.batch_size,
        patches_per_image=training.patches_per_image, hard_patches=training.hard_patches,
        seed=training.seed, split="train", cache_dir=os.path.join(run_dir, "cache"))
    validation = None
    if training.validation_steps:
        validation = data_lib.patch_dataset(
            training.data, patch_size=training.patch_size, batch_size=training.batch_size,
            patches_per_image=training.patches_per_image, seed=1234, split="validation",
            shuffle=False)
    model = build_model(config, training)
    return model.fit(
        dataset, epochs=training.epochs, steps_per_epoch=training.steps_per_epoch,
        validation_data=validation, validation_steps=training.validation_steps or None,
        callbacks=callbacks(run_dir, training.steps_per_epoch) + list(extra_callbacks), verbose=verbose)


def export_run(run_dir, output):
    """Copy a run's latest weights (without optimizer state) into a model directory."""
    from tfrnncomp import zoo

    config = load_config(os.path.join(run_dir, "config.json"))
    weights = os.path.join(run_dir, "latest.weights.h5")
    if not os.path.isfile(weights):
        raise ConfigError(f"{run_dir} has no latest.weights.h5 yet")
    model = build_model(config, TrainingConfig())
    model.optimizer.build(model.trainable_variables)  # the checkpoint holds its state too
    model.load_weights(weights)
    zoo.save_model(model, output)
    return output
