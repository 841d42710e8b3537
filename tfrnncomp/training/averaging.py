"""An exponential moving average of the trained weights (Polyak averaging).

Late in training the weights wander around a plateau from step to step; their running average
often codes better than any one step's weights.  :class:`WeightAverage` keeps that average beside
the raw weights while ``model.fit`` trains, saves it with the run, and lends it to whole-image
validation (:class:`tfrnncomp.training.validation.WholeImageValidation`), which scores it beside
the raw weights and keeps the best averaged weights in the same file layout as the raw ones.

Only Keras and NumPy are used, so it runs on every Keras 3 backend and under ``tf.distribute``.
"""

import contextlib
import os
import sys
import zipfile

import keras
import numpy as np

from tfrnncomp.errors import ConfigError


def check_settings(momentum, every):
    """Raise :class:`ConfigError` unless ``momentum`` is in [0, 1) and ``every`` is positive."""
    if not 0.0 <= momentum < 1.0:
        raise ConfigError(f"--average-momentum must be at least 0 (off) and below 1, got "
                          f"{momentum:g}")
    if every < 1:
        raise ConfigError(f"--average-every must be at least 1 step, got {every}")


def _relative_path(variable):
    """A variable's path without the model's own name (which Keras numbers per process)."""
    return variable.path.split("/", 1)[-1]


def _value(variable):
    return np.array(keras.ops.convert_to_numpy(variable), np.float32)


class WeightAverage(keras.callbacks.Callback):
    """The exponential moving average of ``model.trainable_weights`` during ``fit``.

    The weights are sampled every ``every`` training steps (batches), and each sample moves the
    average by the decay of ``every`` steps: ``avg = m**every * avg + (1 - m**every) * w`` with
    ``m = momentum``, so the average spans about ``1 / (1 - m)`` steps whatever ``every`` is.

    The average and its number of updates are saved at every epoch end to ``state_path`` (one
    ``.npz`` file, replaced atomically) and taken up again when the run resumes.  In the
    callback list it must come after ``BackupAndRestore``, whose restored weights start the
    average of a run without a (matching) saved state.
    """

    def __init__(self, state_path, momentum, every=10):
        super().__init__()
        check_settings(momentum, every)
        self.state_path = state_path
        self.momentum = float(momentum)
        self.every = int(every)
        self.updates = 0
        self._average = None
        self._step = 0

    def _trainable(self):
        return list(self.model.trainable_weights)

    def on_train_begin(self, logs=None):
        self._step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        if not self._load():
            self._average = [_value(v) for v in self._trainable()]
            self.updates = 0

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self.update()

    def on_epoch_end(self, epoch, logs=None):
        self.save()

    def update(self):
        """Move the average towards the model's weights now (one sample of ``every`` steps)."""
        decay = np.float32(self.momentum ** self.every)
        for average, variable in zip(self._average, self._trainable()):
            average *= decay
            average += (np.float32(1.0) - decay) * _value(variable)
        self.updates += 1

    def average(self):
        """The averaged values, aligned with ``model.trainable_weights``."""
        return list(self._average)

    @contextlib.contextmanager
    def swapped(self):
        """Put the averaged weights into the model for the block, then the raw ones back."""
        variables = self._trainable()
        raw = [_value(v) for v in variables]
        try:
            for variable, average in zip(variables, self._average):
                variable.assign(average)
            yield self.model
        finally:
            for variable, value in zip(variables, raw):
                variable.assign(value)

    def save(self):
        """Write the average to ``state_path`` (atomically)."""
        from tfrnncomp.atomic import atomic_path

        arrays = {f"w{i}": a for i, a in enumerate(self._average)}
        paths = np.array([_relative_path(v) for v in self._trainable()])
        os.makedirs(os.path.dirname(os.path.abspath(self.state_path)), exist_ok=True)
        with atomic_path(self.state_path, suffix=".npz") as tmp:
            np.savez(tmp, paths=paths, updates=np.int64(self.updates), **arrays)

    def _load(self):
        """Take up the saved average if it fits the model's weights; False otherwise."""
        if not os.path.exists(self.state_path):
            return False
        try:
            self._average, self.updates = read_average(self.state_path, self._trainable())
        except ValueError as error:
            return self._afresh(str(error))
        return True

    def _afresh(self, why):
        print(f"tfrnncomp: warning: the weight average in {self.state_path} is not used, as {why}; "
              "it starts afresh from the current weights", file=sys.stderr)
        return False


def read_average(state_path, variables):
    """``(values, updates)`` of a saved average, aligned with ``variables`` (a model's
    trainable weights); ValueError saying why it cannot be used."""
    try:
        with np.load(state_path) as state:
            paths = [str(p) for p in state["paths"]]
            average = [np.array(state[f"w{i}"], np.float32) for i in range(len(paths))]
            updates = int(state["updates"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(f"it cannot be read ({error})") from None
    if (paths != [_relative_path(v) for v in variables]
            or [a.shape for a in average] != [tuple(v.shape) for v in variables]):
        raise ValueError("it does not match the model's weights")
    return average, updates


def assign_average(model, state_path):
    """Put the average saved in ``state_path`` into ``model``'s trainable weights (the rest,
    optimizer state included, stays); returns its number of updates.  ConfigError if the file
    is missing, unreadable or of another model."""
    if not os.path.isfile(state_path):
        raise ConfigError(f"no weight average at {state_path}")
    variables = list(model.trainable_weights)
    try:
        average, updates = read_average(state_path, variables)
    except ValueError as error:
        raise ConfigError(f"the weight average in {state_path} cannot be used, as {error}") from None
    for variable, value in zip(variables, average):
        variable.assign(value)
    return updates
