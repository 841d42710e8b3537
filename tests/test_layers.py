"""Layers: shapes, config round trips, serialization, binarizer statistics, GDN."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfrnncomp.model.layers import (GDN, AssociativeLSTMCell, ConvGRUCell, ConvLSTMCell, DepthToSpace,
                              ResidualGRUCell, SignBinarizer)

CELL_CLASSES = [ConvLSTMCell, ConvGRUCell, ResidualGRUCell, AssociativeLSTMCell]


@pytest.mark.parametrize("cls", CELL_CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("strides,size", [(2, (13, 21)), (1, (8, 6))])
def test_every_cell_maps_any_height_and_width_to_ceil_of_size_over_stride(cls, strides, size):
    cell = cls(8, kernel_size=3, strides=strides, hidden_kernel_size=3)
    x = tf.random.normal((2,) + size + (5,))
    states = cell.initial_state(x)
    out, new_states = cell(x, states)
    expected = (2, -(-size[0] // strides), -(-size[1] // strides), 8)
    assert tuple(out.shape) == expected
    assert len(new_states) == cell.num_states
    assert all(tuple(s.shape) == expected for s in new_states)
    # a second step with the new states changes the output (the state is used)
    out2, _ = cell(x, new_states)
    assert not np.allclose(out.numpy(), out2.numpy())


@pytest.mark.parametrize("cls", CELL_CLASSES, ids=lambda c: c.__name__)
def test_every_cell_round_trips_through_get_config_and_keras_serialization(cls):
    cell = cls(6, kernel_size=3, strides=2, hidden_kernel_size=1, name="cell")
    clone = cls.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is cls and restored.get_config() == cell.get_config()


@pytest.mark.parametrize("cls", CELL_CLASSES, ids=lambda c: c.__name__)
def test_a_cell_gives_identical_outputs_after_copying_its_weights(cls):
    x = tf.random.normal((1, 8, 8, 4), seed=1)
    cell = cls(6, strides=1)
    out, _ = cell(x, cell.initial_state(x))
    clone = cls.from_config(cell.get_config())
    clone(x, clone.initial_state(x))
    clone.set_weights(cell.get_weights())
    out2, _ = clone(x, clone.initial_state(x))
    np.testing.assert_array_equal(out.numpy(), out2.numpy())


@pytest.mark.parametrize("kwargs,message", [
    ({"units": 0}, "units must be >= 1"),
    ({"units": 4, "strides": 0}, "strides must be >= 1"),
    ({"units": 4, "kernel_size": 2.5}, "kernel_size must be an integer"),
    ({"units": "8"}, "units must be an integer"),
])
def test_cells_reject_bad_arguments_with_a_message_naming_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConvGRUCell(**kwargs)


def test_the_associative_lstm_needs_an_even_number_of_units():
    with pytest.raises(ValueError, match="even number of units"):
        AssociativeLSTMCell(7)


def test_cells_work_inside_a_tf_function_with_dynamic_spatial_size():
    cell = ConvLSTMCell(4, strides=2)
    cell.build((1, None, None, 3))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3])])
    def step(x):
        out, _ = cell(x, cell.initial_state(x))
        return out

    assert step(tf.zeros((1, 9, 17, 3))).shape == (1, 5, 9, 4)
    assert step(tf.zeros((1, 32, 6, 3))).shape == (1, 16, 3, 4)
    assert step.experimental_get_tracing_count() == 1


def test_the_binarizer_outputs_only_plus_and_minus_one_in_both_modes():
    binarizer = SignBinarizer(32, seed=3)
    x = tf.random.normal((4, 5, 7, 16), seed=2)
    for training in (False, True):
        bits = binarizer(x, training=training).numpy()
        assert bits.shape == (4, 5, 7, 32)
        assert set(np.unique(bits)) <= {-1.0, 1.0}


def test_the_stochastic_binarizer_mean_matches_the_tanh_output():
    binarizer = SignBinarizer(8, seed=5)
    x = tf.random.normal((1, 4, 4, 3), seed=4)
    samples = np.stack([binarizer(x, training=True).numpy() for _ in range(2000)])
    expected = np.tanh(binarizer.projection(x).numpy())
    # mean of 2000 +-1 samples: standard error <= 1/sqrt(2000) ~ 0.022
    np.testing.assert_allclose(samples.mean(axis=0), expected, atol=0.1)
    assert np.abs(samples.mean(axis=0) - expected).mean() < 0.03


def test_the_deterministic_binarizer_is_the_sign_of_the_tanh_output():
    binarizer = SignBinarizer(8)
    x = tf.random.normal((1, 3, 3, 4), seed=6)
    bits = binarizer(x).numpy()
    np.testing.assert_array_equal(bits, np.where(binarizer.projection(x).numpy() >= 0, 1, -1))


def test_the_binarizer_passes_the_gradient_straight_through_in_training():
    binarizer = SignBinarizer(4, seed=1)
    x = tf.random.normal((1, 2, 2, 3), seed=7)
    binarizer(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        bits = binarizer(x, training=True)
    # d bits / d pre == 1 exactly: compare with the gradient of tanh(projection(x))
    grad_bits = tape.gradient(bits, x)
    with tf.GradientTape() as tape2:
        tape2.watch(x)
        pre = tf.tanh(binarizer.projection(x))
    np.testing.assert_allclose(grad_bits.numpy(), tape2.gradient(pre, x).numpy(), rtol=1e-5)


def test_the_sign_training_mode_trains_on_the_inference_bits_with_a_straight_through_gradient():
    binarizer = SignBinarizer(4, seed=1, training_mode="sign")
    x = tf.random.normal((2, 3, 3, 3), seed=8)
    binarizer(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        bits = binarizer(x, training=True)
    np.testing.assert_array_equal(bits.numpy(), binarizer(x).numpy())  # no noise
    with tf.GradientTape() as tape2:
        tape2.watch(x)
        pre = tf.tanh(binarizer.projection(x))
    np.testing.assert_allclose(tape.gradient(bits, x).numpy(), tape2.gradient(pre, x).numpy(),
                               rtol=1e-5)
    assert SignBinarizer.from_config(binarizer.get_config()).training_mode == "sign"
    with pytest.raises(ValueError, match="training_mode"):
        SignBinarizer(4, training_mode="soft")


def test_depth_to_space_moves_channel_groups_into_two_by_two_pixels():
    layer = DepthToSpace(2)
    x = tf.reshape(tf.range(2 * 3 * 4 * 8, dtype=tf.float32), (2, 3, 4, 8))
    y = layer(x).numpy()
    assert y.shape == (2, 6, 8, 2)
    np.testing.assert_array_equal(y[0, 0, 0], x.numpy()[0, 0, 0, 0:2])
    np.testing.assert_array_equal(y[0, 1, 1], x.numpy()[0, 0, 0, 6:8])
    assert DepthToSpace.from_config(layer.get_config()).block_size == 2


def test_depth_to_space_in_keras_ops_matches_tensorflow_s_op():
    from tfrnncomp.model.layers.depth_to_space import depth_to_space

    x = tf.random.normal((2, 3, 5, 12))
    np.testing.assert_array_equal(depth_to_space(x, 2).numpy(), tf.nn.depth_to_space(x, 2).numpy())
    y = tf.random.normal((1, 2, 2, 18))
    np.testing.assert_array_equal(depth_to_space(y, 3).numpy(), tf.nn.depth_to_space(y, 3).numpy())


def test_space_to_depth_inverts_depth_to_space_in_keras_ops_and_in_tensorflow():
    from tfrnncomp.model.layers import SpaceToDepth
    from tfrnncomp.model.layers.depth_to_space import space_to_depth

    x = tf.random.normal((2, 8, 12, 3))
    layer = SpaceToDepth(4)
    y = layer(x)
    assert y.shape == (2, 2, 3, 48) and layer.compute_output_shape((2, 8, 12, 3)) == (2, 2, 3, 48)
    np.testing.assert_array_equal(space_to_depth(x, 4).numpy(), y.numpy())
    np.testing.assert_array_equal(DepthToSpace(4)(y).numpy(), x.numpy())
    assert SpaceToDepth.from_config(layer.get_config()).block_size == 4


def test_depth_to_space_rejects_channels_not_divisible_by_four():
    with pytest.raises(ValueError, match="divisible by 4"):
        DepthToSpace(2)(tf.zeros((1, 2, 2, 6)))


def test_gdn_at_initialization_divides_by_the_expected_norm():
    x = tf.random.normal((1, 4, 5, 3), seed=8)
    y = GDN()(x).numpy()
    xn = x.numpy()
    expected = xn / np.sqrt(1.0 + 0.1 * xn ** 2)
    np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-6)


def test_igdn_multiplies_by_the_norm_that_gdn_divides_by():
    x = tf.random.uniform((1, 6, 6, 4), -1, 1, seed=9)
    gdn, igdn = GDN(), GDN(inverse=True)
    norm = np.sqrt(1 + 0.1 * x.numpy() ** 2)
    np.testing.assert_allclose(igdn(x).numpy(), x.numpy() * norm, rtol=1e-4)
    np.testing.assert_allclose(gdn(x).numpy() * norm ** 2, igdn(x).numpy(), rtol=1e-4)


def test_gdn_keeps_its_parameters_non_negative_during_training():
    """Training that rewards a large output drives beta and gamma to their bounds: the
    divisor never falls below beta_min, so outputs stay finite and bounded."""
    layer = GDN(beta_min=1e-2)
    x = tf.random.normal((4, 4, 4, 3), seed=10)
    layer(x)
    optimizer = keras.optimizers.SGD(learning_rate=1.0)
    for _ in range(40):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(tf.abs(layer(x)))
        variables = [layer.beta_param, layer.gamma_param]
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    bound = (layer.beta_min + 2.0 ** -36) ** 0.5
    assert float(tf.reduce_min(layer.beta_param)) <= bound + 1e-3   # training reached the bound
    assert float(tf.reduce_min(layer.gamma_param)) <= 1e-3
    y = layer(x).numpy()
    assert np.all(np.isfinite(y))
    assert np.all(np.abs(y) <= np.abs(x.numpy()) / np.sqrt(layer.beta_min) * (1 + 1e-4))


def test_gdn_round_trips_its_config_and_rejects_bad_arguments():
    layer = GDN(inverse=True, beta_min=1e-5)
    assert GDN.from_config(layer.get_config()).get_config() == layer.get_config()
    with pytest.raises(ValueError, match="beta_min"):
        GDN(beta_min=0)
    with pytest.raises(ValueError, match="inverse"):
        GDN(inverse="yes")
