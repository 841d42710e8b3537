"""The places where training steers ``model.fit`` through names Keras keeps private.

Keras 3 has no public name for any of them (checked against Keras 3.15.1, whose TensorFlow trainer
is ``keras/src/backend/tensorflow/trainer.py`` and whose TensorFlow optimizer is
``keras/src/backend/tensorflow/optimizer.py``); :mod:`tests.test_fit_hooks` fails if a Keras
release renames or stops calling them.

* The epoch ``fit`` starts from after a restore: ``BackupAndRestore.on_train_begin`` writes the
  epoch of ``training_metadata.json`` into ``model._initial_epoch``, and ``fit`` reads it back
  after ``on_train_begin`` (``initial_epoch = self._initial_epoch or initial_epoch``).  The
  ``initial_epoch=`` argument of ``fit`` is read before the callbacks run, so it cannot carry an
  epoch that a callback learns (the chief's, on a multi-worker restart).
* The "symbolic build" of a model made in a strategy's scope: ``fit`` calls
  ``model._maybe_symbolic_build(iterator=...)``, which draws a batch from a first pass over the
  data and resets the iterator, so training starts on a second pass whose shuffle differs.
* Gradient clipping under ``tf.distribute``: ``optimizer.apply`` clips (``global_clipnorm``, in
  ``_clip_gradients``) each replica's gradients before the TensorFlow optimizer's
  ``_backend_update_step`` sums them over the replicas (``_all_reduce_sum_gradients``).  Neither
  ``global_clipnorm`` nor ``gradient_accumulation_steps`` (which averages over steps, not
  replicas) clips the sum, and a ``train_step`` that all-reduced and clipped the gradients
  itself would have them summed a second time by ``apply``; :class:`Adam` moves the sum before
  the clipping.
* The steps ``fit`` runs: ``make_train_function`` and ``make_test_function`` wrap whatever
  ``model.train_step`` and ``model.test_step`` are when ``fit`` starts, so a step bound on the
  instance (:func:`map_step_logs`) changes the logs ``fit`` reduces over the replicas without a
  model subclass (Keras documents overriding them in a subclass, whose signature differs by
  backend: the model trains on TensorFlow, JAX and PyTorch).
"""

import keras

from tfrnncomp.training.distribute import replicas_in_sync


def resume_epoch(model):
    """The epoch ``fit`` will start from as the callbacks left it (None: the ``initial_epoch``
    argument, 0 by default)."""
    return model._initial_epoch


def set_resume_epoch(model, epoch):
    """Make ``fit`` start from ``epoch`` (None: from its ``initial_epoch`` argument); for a
    callback's ``on_train_begin``, after ``BackupAndRestore``."""
    model._initial_epoch = epoch


def skip_symbolic_build(model):
    """Let ``fit`` under a strategy train on the first pass over the data, as a default-strategy
    run with the same seed does.  The symbolic build is a no-op for these models: they and their
    optimizer are built before ``fit``, and nothing else is compiled by it."""
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def map_step_logs(model, function):
    """Make ``fit`` (and its validation) see ``function(logs)`` for the logs of every train and
    test step of ``model``, on every replica, before Keras reduces them over the replicas."""
    def mapped(step):
        def run(*args, **kwargs):
            return function(step(*args, **kwargs))
        return run

    model.train_step = mapped(model.train_step)
    model.test_step = mapped(model.test_step)
    return model


@keras.saving.register_keras_serializable(package="tfrnncomp")
class Adam(keras.optimizers.Adam):
    """Adam that clips the SUM of the replicas' gradients, not each replica's share.

    Keras 3 clips (``global_clipnorm``) inside ``apply`` before its all-reduce, so with N
    replicas each replica's gradient would be clipped on its own and the sum could reach N
    times the norm.  Here the gradients are all-reduced first and Keras' own all-reduce is
    skipped; with one replica, and on backends other than TensorFlow, nothing changes.
    """

    def _clip_gradients(self, grads):
        if replicas_in_sync() > 1:
            import tensorflow as tf

            present = [g for g in grads if g is not None]
            reduced = iter(tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, present) if present else [])
            grads = [None if g is None else next(reduced) for g in grads]
        return super()._clip_gradients(grads)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        if replicas_in_sync() > 1:
            return list(grads_and_vars)  # already summed in _clip_gradients
        return super()._all_reduce_sum_gradients(grads_and_vars)
