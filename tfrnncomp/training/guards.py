"""A training run's guard against a loss that is no longer a number."""

import math

import keras


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises :class:`FloatingPointError` on the first batch whose loss is NaN or infinite.

    Keras's ``TerminateOnNaN`` only asks ``fit`` to stop, which still ends the epoch, so
    ``BackupAndRestore`` would save the broken weights over the last good epoch's.  Raising
    out of ``fit`` leaves the backup at the last epoch that ended with finite weights, which
    the run resumes from.
    """

    def __init__(self):
        super().__init__()
        self._epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise FloatingPointError(
                f"training loss is {float(loss)} at epoch {self._epoch} batch {batch}: stopped "
                "before the epoch's backup, which still holds the last good epoch")
