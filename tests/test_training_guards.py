"""The training run stops on a NaN loss before it can overwrite its last good backup."""

import json

import keras
import numpy as np
import pytest

from tfrnncomp.training.guards import StopOnNonFiniteLoss


class _NaNAfter(keras.callbacks.Callback):
    """Poisons the weights at the start of an epoch (what a NaN gradient step does)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            weights = self.model.get_weights()
            self.model.set_weights([np.full_like(w, np.nan) for w in weights])


def test_a_nan_loss_stops_the_run_and_the_backup_keeps_the_last_good_epoch(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    backup = tmp_path / "backup"
    callbacks = [StopOnNonFiniteLoss(),
                 keras.callbacks.BackupAndRestore(str(backup), delete_checkpoint=False),
                 _NaNAfter(2)]
    with pytest.raises(FloatingPointError, match="epoch 2 batch 0"):
        model.fit(x, y, epochs=4, batch_size=4, callbacks=callbacks, verbose=0)
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2
    restored = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    restored.compile(optimizer="sgd", loss="mse")
    restored.load_weights(str(backup / "latest.weights.h5"))
    assert all(np.all(np.isfinite(w)) for w in restored.get_weights())


def test_finite_losses_pass_the_guard():
    guard = StopOnNonFiniteLoss()
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, {"loss": 0.5})
    guard.on_train_batch_end(1, {})
    with pytest.raises(FloatingPointError):
        guard.on_train_batch_end(2, {"loss": float("inf")})
