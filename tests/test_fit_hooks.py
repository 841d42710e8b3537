"""The private Keras names training steers ``fit`` through (:mod:`tfrnncomp.training.fit_hooks`)
still do what training relies on."""

import numpy as np

import keras

from tfrnncomp.training import fit_hooks


class Epochs(keras.callbacks.Callback):
    """Records the epoch ``fit`` would resume from at its start, and each epoch it runs."""

    def __init__(self, start=None):
        super().__init__()
        self.start, self.resumed, self.ran = start, None, []

    def on_train_begin(self, logs=None):
        self.resumed = fit_hooks.resume_epoch(self.model)
        if self.start is not None:
            fit_hooks.set_resume_epoch(self.model, self.start)

    def on_epoch_begin(self, epoch, logs=None):
        self.ran.append(epoch)


def tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def fit(model, epochs, *callbacks):
    x = np.ones((4, 2), np.float32)
    model.fit(x, x[:, :1], epochs=epochs, batch_size=2, verbose=0, callbacks=list(callbacks))


def test_a_restored_backup_sets_the_epoch_fit_resumes_from(tmp_path):
    backup = str(tmp_path / "backup")
    fit(tiny_model(), 2, keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False))
    epochs = Epochs()
    fit(tiny_model(), 3, keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False), epochs)
    assert epochs.resumed == 2 and epochs.ran == [2]


def test_fit_starts_from_the_epoch_a_callback_sets_when_training_begins():
    epochs = Epochs(start=1)
    fit(tiny_model(), 3, epochs)
    assert epochs.resumed is None and epochs.ran == [1, 2]


def test_a_model_in_a_strategys_scope_trains_on_the_first_pass_over_its_data():
    import tensorflow as tf

    passes = []

    def batches():
        passes.append(len(passes))
        for _ in range(2):
            yield np.ones((2, 2), np.float32), np.ones((2, 1), np.float32)

    spec = (tf.TensorSpec((2, 2), tf.float32), tf.TensorSpec((2, 1), tf.float32))
    data = tf.data.Dataset.from_generator(batches, output_signature=spec)
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = tiny_model()
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert len(passes) == 2  # the symbolic build drew from a pass of its own
    passes.clear()
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = tiny_model()
    fit_hooks.skip_symbolic_build(model)
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert len(passes) == 1


def test_fit_runs_the_train_and_test_steps_bound_on_the_model():
    model = fit_hooks.map_step_logs(tiny_model(),
                                    lambda logs: dict(logs, marked=keras.ops.ones(())))
    x = np.ones((4, 2), np.float32)
    history = model.fit(x, x[:, :1], epochs=1, batch_size=2, verbose=0,
                        validation_data=(x, x[:, :1]))
    assert history.history["marked"] == [1.0] and history.history["val_marked"] == [1.0]


class CallRecorder(fit_hooks.Adam):
    """The Adam of training, recording which of its Keras-private overrides ``apply`` called."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.called = []

    def _clip_gradients(self, grads):
        self.called.append("_clip_gradients")
        return super()._clip_gradients(grads)

    def _all_reduce_sum_gradients(self, grads_and_vars):
        self.called.append("_all_reduce_sum_gradients")
        return super()._all_reduce_sum_gradients(grads_and_vars)


def test_keras_applies_gradients_through_the_two_methods_adam_overrides():
    variable = keras.Variable([0.0, 0.0])
    optimizer = CallRecorder(learning_rate=1.0, epsilon=1e3, global_clipnorm=1.0)
    optimizer.build([variable])
    optimizer.apply([keras.ops.convert_to_tensor([3.0, 4.0])], [variable])
    assert optimizer.called == ["_clip_gradients", "_all_reduce_sum_gradients"]
    # one replica: the gradient (3, 4) clipped to norm 1, Adam's first step along it
    np.testing.assert_allclose(variable.numpy() / variable.numpy()[0], [1.0, 4 / 3], rtol=1e-4)
