"""Training with ``model.fit`` (Toderici et al. 2017, Section 3).

A run directory holds everything a run needs to resume after an interruption:

    RUN_DIR/config.json           model config (hyper-parameters, never inferred from weights)
    RUN_DIR/training.json         training settings (data, batch, learning rate...)
    RUN_DIR/backup/               BackupAndRestore state: weights + optimizer + epoch
    RUN_DIR/latest.weights.h5     model weights after the last epoch (ModelCheckpoint)
    RUN_DIR/log.csv               one row per epoch (CSVLogger, appended)
    RUN_DIR/validation.csv        whole-image quality after iterations 1, 2, 4, 8, 16, per epoch
    RUN_DIR/best.weights.h5       model weights of the epoch with the best whole-image score
    RUN_DIR/backup/average.npz    with --average-momentum: the moving average of the weights
    RUN_DIR/validation-average.csv   validation.csv's figures for the averaged weights
    RUN_DIR/best-average.weights.h5  the averaged weights of their best epoch (best.weights.h5's
                                  layout: refresh_model.sh and export-weights take either)
    RUN_DIR/tensorboard/          TensorBoard logs (where TensorFlow can be imported)

Running the same command again continues where the run stopped; once the run has reached
its ``epochs`` it says so and trains no further.  Nothing is written into RUN_DIR before the
inputs (model config, data folders, train/validation split, validation crops) are checked.

``strategy`` ("default", "mirrored", "multi_worker"; :mod:`tfrnncomp.training.distribute`) picks the
``tf.distribute`` strategy: the model is built and compiled in its scope, ``batch_size`` is the
GLOBAL batch (split over the replicas), and with several workers only the chief writes into
RUN_DIR while the others write into a scratch directory.

On the other Keras 3 backends (``KERAS_BACKEND=jax`` or ``torch``) a run trains on one device
with the ``default`` strategy and reads its random-crop patches through
:class:`tfrnncomp.training.patches.PatchBatches` instead of ``tf.data``.
"""

import importlib.util
import os
import sys
import time

import keras

from tfrnncomp.training import averaging
from tfrnncomp.training import image_files
from tfrnncomp.training import distribute
from tfrnncomp.training.fit_hooks import resume_epoch, set_resume_epoch, skip_symbolic_build
from tfrnncomp.training.guards import StopOnNonFiniteLoss
from tfrnncomp.training.run_dir import check_run_dir, finished_epoch, prepare_run_dir
from tfrnncomp.model.config import load_config
from tfrnncomp.errors import ConfigError, InputImageError
from tfrnncomp.training.setup import (PRECISIONS, TrainingConfig,  # noqa: F401 (re-exported)
                                   build_model, check_patches, make_optimizer)


def _on_tensorflow():
    return keras.backend.backend() == "tensorflow"


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
    """The standard callbacks: a NaN guard, resumption, checkpoint, CSV and TensorBoard logs,
    wall time."""
    return [
        StopOnNonFiniteLoss(),
        EpochTimer(os.path.join(run_dir, "times.csv"), steps_per_epoch),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup"), save_freq="epoch",
                                         delete_checkpoint=False),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "latest.weights.h5"),
                                        save_weights_only=True),
        keras.callbacks.CSVLogger(os.path.join(run_dir, "log.csv"), append=True),
    ] + _tensorboard(run_dir)


def _tensorboard(run_dir):
    """The TensorBoard callback, which writes through ``tf.summary`` on every backend: none
    where TensorFlow cannot be imported (a run on JAX or PyTorch without it)."""
    if importlib.util.find_spec("tensorflow") is None:
        return []
    return [keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard"),
                                        update_freq="epoch", write_graph=False)]


class SyncFromChief(keras.callbacks.Callback):
    """Multi-worker resumption: after BackupAndRestore, every worker takes the chief's state.

    Only the chief's backup (in RUN_DIR) is authoritative; a worker restarted on another host,
    or one that died between the chief's backup and its own, would otherwise resume from
    other weights or another epoch than the chief and the cluster would diverge or hang.
    """

    def __init__(self, strategy):
        super().__init__()
        self.strategy = strategy

    def on_train_begin(self, logs=None):
        model = self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        epoch = keras.Variable(resume_epoch(model) or 0, dtype="int64", trainable=False)
        distribute.broadcast_from_chief(
            self.strategy, list(model.variables) + list(model.optimizer.variables) + [epoch])
        set_resume_epoch(model, int(epoch.numpy()) or None)


def _splits(training: TrainingConfig):
    """``(training split, validation split, validation source)`` of a run.

    With ``validation_data`` every file of each folder is used (a TFDS source keeps its own
    train or validation split)."""
    if not training.validation_data:
        return "train", "validation", training.data

    def whole(source, tfds_split):
        return tfds_split if image_files._is_tfds(source) else "all"

    return (whole(training.data, "train"), whole(training.validation_data, "validation"),
            training.validation_data)


def _empty_validation_message(training: TrainingConfig, files):
    fraction = image_files.smallest_fraction(files, root=os.fspath(training.data))
    larger = "a larger --validation-fraction" + (
        f" (at least {fraction:g})" if fraction is not None else "")
    off = " ".join(f"--validation-{name} 0" for name, on in (
        ("images", training.validation_images), ("steps", training.validation_steps)) if on)
    return (f"the validation split of {training.data!r} is empty: --validation-fraction "
            f"{training.validation_fraction:g} holds out none of its {len(files)} images; pass "
            f"{larger}, a folder of validation images with --validation-data, or {off} to "
            "train without validation")


def check_inputs(training: TrainingConfig):
    """Raise if ``training`` cannot run: its precision, its data and validation folders, and
    the split of the data, which must leave images to train on and, where validation is on,
    to validate on.  Reads only."""
    if training.precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {PRECISIONS}, got {training.precision!r}")
    if not 0.0 <= training.validation_fraction < 1.0:
        raise ConfigError("--validation-fraction must be at least 0 and below 1, got "
                          f"{training.validation_fraction:g}")
    if not 0.0 < training.decay_rate <= 1.0:
        raise ConfigError(f"--decay-rate must be above 0 and at most 1, got "
                          f"{training.decay_rate:g}")
    if training.validate_every < 1:
        raise ConfigError(f"--validate-every must be at least 1, got {training.validate_every}")
    averaging.check_settings(training.average_momentum, training.average_every)
    if training.validation_data and not image_files._is_tfds(training.validation_data):
        image_files.list_images(training.validation_data)
    if image_files._is_tfds(training.data):
        return
    files = image_files.list_images(training.data)
    if training.validation_data:
        return
    held = sum(image_files.hash_share(f, os.fspath(training.data)) < training.validation_fraction
               for f in files)
    if held == len(files):
        raise ConfigError(f"the training split of {training.data!r} is empty: "
                          f"--validation-fraction {training.validation_fraction:g} holds out "
                          f"all {len(files)} of its images; pass a smaller "
                          "--validation-fraction, or a folder of validation images with "
                          "--validation-data")
    if not held and (training.validation_images or training.validation_steps):
        raise ConfigError(_empty_validation_message(training, files))


def weight_average(training: TrainingConfig, run_dir):
    """The run's :class:`~tfrnncomp.training.averaging.WeightAverage` (a list: empty when
    ``average_momentum`` is 0); it goes after ``BackupAndRestore`` in ``fit``'s callbacks."""
    if not training.average_momentum:
        return []
    return [averaging.WeightAverage(os.path.join(run_dir, "backup", "average.npz"),
                                    training.average_momentum, training.average_every)]


def whole_image_validation(training: TrainingConfig, run_dir, average=None):
    """The whole-image validation callback of a run (a list: empty when it is switched off);
    ``average`` (a WeightAverage) is scored beside the raw weights."""
    if not training.validation_images:
        return []
    if not _on_tensorflow():
        raise ConfigError("whole-image validation codes through the TensorFlow codec: pass "
                          "--validation-images 0 to train with KERAS_BACKEND="
                          f"{keras.backend.backend()}")
    from tfrnncomp.eval import metrics
    from tfrnncomp.training import validation

    if training.validation_crop < metrics.min_ms_ssim_size():
        raise ConfigError(f"the validation crop ({training.validation_crop}) must be at least "
                          f"{metrics.min_ms_ssim_size()} pixels for MS-SSIM")
    _, split, source = _splits(training)
    try:
        _, crops = validation.validation_crops(source, training.validation_crop,
                                               training.validation_images,
                                               training.validation_fraction, split)
    except InputImageError as error:
        raise InputImageError(f"{error}: pass a smaller --validation-crop, or "
                              "--validation-images 0 to train without whole-image validation"
                              ) from None
    return [validation.WholeImageValidation(
        crops, os.path.join(run_dir, "validation.csv"),
        os.path.join(run_dir, "best.weights.h5"), every=training.validate_every,
        average=average)]


def _patch_batches(training: TrainingConfig):
    """The training and patch validation batches of a run off TensorFlow (a ``PyDataset``)."""
    from tfrnncomp.training.patches import PatchBatches

    if training.hard_patches or image_files._is_tfds(training.data):
        raise ConfigError(f"hard patches and TFDS sources need the TensorFlow backend "
                          f"(KERAS_BACKEND is {keras.backend.backend()!r})")
    train_split, validation_split, validation_source = _splits(training)
    common = dict(patch_size=training.patch_size, batch_size=training.batch_size,
                  patches_per_image=training.patches_per_image,
                  validation_fraction=training.validation_fraction)
    dataset = PatchBatches(training.data, seed=training.seed, split=train_split, **common)
    validation = None
    if training.validation_steps:
        validation = PatchBatches(validation_source, seed=1234, split=validation_split, **common)
    return dataset, validation


def _datasets(training: TrainingConfig, out_dir, multi_worker):
    """The training and patch validation datasets of a run (validation None when off)."""
    if not _on_tensorflow():
        return _patch_batches(training)
    from tfrnncomp.training import data as data_lib

    train_split, validation_split, validation_source = _splits(training)
    common = dict(patch_size=training.patch_size, batch_size=training.batch_size,
                  patches_per_image=training.patches_per_image,
                  validation_fraction=training.validation_fraction)
    dataset = data_lib.patch_dataset(
        training.data, hard_patches=training.hard_patches, seed=training.seed,
        split=train_split, cache_dir=os.path.join(out_dir, "cache"), **common)
    validation = None
    if training.validation_steps:
        validation = data_lib.patch_dataset(validation_source, seed=1234,
                                            split=validation_split, shuffle=False, **common)
    if multi_worker:
        dataset = distribute.shard_by_data(dataset)
        if validation is not None:
            validation = distribute.shard_by_data(validation)
    return dataset, validation


def _strategy(training: TrainingConfig):
    """The run's ``tf.distribute`` strategy; None off TensorFlow, where only "default" runs."""
    if _on_tensorflow():
        return distribute.make_strategy(training.strategy)
    if distribute.check_strategy(training.strategy) != "default":
        raise ConfigError(f"--strategy {training.strategy} needs the TensorFlow backend "
                          f"(KERAS_BACKEND is {keras.backend.backend()!r})")
    return None


def train(config, training: TrainingConfig, run_dir, verbose="auto", extra_callbacks=(),
          strategy=None):
    """Train (or resume) a model on ``training.data``; returns the Keras History.

    Every input is checked before anything is written into ``run_dir``.  A run that has
    already reached ``training.epochs`` is left alone: a line on stderr says so and None is
    returned.  ``strategy`` (a ``tf.distribute.Strategy``, e.g. a ``TPUStrategy``) overrides
    ``training.strategy``.
    """
    config = load_config(config)
    check_patches(config, training)
    strategy = strategy or _strategy(training)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    if training.batch_size % replicas:
        raise ConfigError(f"the batch size ({training.batch_size}) is the global batch: it must "
                          f"be a multiple of the {replicas} replicas")
    multi_worker = distribute.num_workers(strategy) > 1
    out_dir = distribute.write_dir(run_dir, strategy)  # run_dir, or scratch off the chief
    if out_dir == run_dir:
        check_run_dir(run_dir, config)
    done = finished_epoch(run_dir)
    if not multi_worker and done >= training.epochs:  # every worker must join fit
        print(f"{run_dir}: already finished at epoch {done}; pass --epochs to continue "
              f"(more than {done})", file=sys.stderr)
        return None
    check_inputs(training)
    average = weight_average(training, out_dir)
    whole_images = whole_image_validation(training, out_dir, average[0] if average else None)
    if out_dir != run_dir:
        distribute.clear_dir(out_dir)
    dataset, validation = _datasets(training, out_dir, multi_worker)
    prepare_run_dir(out_dir, config, training)
    model = build_model(config, training, strategy)
    if strategy is not None:  # train on the batches a default-strategy run sees
        skip_symbolic_build(model)
    distribute.global_mean_logs(model, strategy)
    extra = [SyncFromChief(strategy)] if multi_worker else []
    try:
        return model.fit(
            dataset, epochs=training.epochs, steps_per_epoch=training.steps_per_epoch,
            validation_data=validation, validation_steps=training.validation_steps or None,
            # the average starts from the restored (and the chief's) weights, and is saved
            # before validation scores it
            callbacks=callbacks(out_dir, training.steps_per_epoch) + extra + average
            + whole_images + list(extra_callbacks), verbose=verbose,
            shuffle=False)  # each dataset shuffles itself; an endless PyDataset cannot be
    finally:
        if out_dir != run_dir:
            distribute.clear_dir(out_dir)


def export_run(run_dir, output):
    """Copy a run's latest weights (without optimizer state) into a model directory."""
    from tfrnncomp.model import zoo

    config = load_config(os.path.join(run_dir, "config.json"))
    weights = os.path.join(run_dir, "latest.weights.h5")
    if not os.path.isfile(weights):
        raise ConfigError(f"{run_dir} has no latest.weights.h5 yet")
    model = build_model(config, TrainingConfig())
    model.optimizer.build(model.trainable_variables)  # the checkpoint holds its state too
    model.load_weights(weights)
    zoo.save_model(model, output)
    return output
