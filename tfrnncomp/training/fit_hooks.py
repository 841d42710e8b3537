"""The two places where training steers ``model.fit`` through names Keras keeps private.

Keras 3 has no public name for either (checked against Keras 3.15.1, whose TensorFlow trainer is
``keras/src/backend/tensorflow/trainer.py``); :mod:`tests.test_fit_hooks` fails if a Keras release
renames or stops reading them.

* The epoch ``fit`` starts from after a restore: ``BackupAndRestore.on_train_begin`` writes the
  epoch of ``training_metadata.json`` into ``model._initial_epoch``, and ``fit`` reads it back
  after ``on_train_begin`` (``initial_epoch = self._initial_epoch or initial_epoch``).  The
  ``initial_epoch=`` argument of ``fit`` is read before the callbacks run, so it cannot carry an
  epoch that a callback learns (the chief's, on a multi-worker restart).
* The "symbolic build" of a model made in a strategy's scope: ``fit`` calls
  ``model._maybe_symbolic_build(iterator=...)``, which draws a batch from a first pass over the
  data and resets the iterator, so training starts on a second pass whose shuffle differs.
"""


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
