"""The training losses: SSIM as the metric defines it, and each loss's response to errors."""

import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import TINY_CONFIG, WITHOUT_TENSORFLOW, jax_environment
from tfrnncomp.errors import ConfigError
from tfrnncomp.model import losses
from tfrnncomp.model.config import ModelConfig
from tfrnncomp.model.network import RNNCompressionModel


def _images(seed=0, shape=(2, 48, 48, 3)):
    rng = np.random.default_rng(seed)
    smooth = rng.uniform(-0.5, 0.5, size=(shape[0], shape[1] // 8, shape[2] // 8, 3))
    base = np.kron(smooth, np.ones((1, 8, 8, 1)))
    return np.clip(base + rng.normal(0, 0.05, size=shape), -0.5, 0.5).astype("float32")


def test_the_ssim_map_averages_to_tensorflows_ssim():
    x, y = _images(0), _images(1)
    ours = np.asarray(losses.ssim_map(x, y)).mean(axis=(1, 2, 3))
    reference = tf.image.ssim(x + 0.5, y + 0.5, max_val=1.0).numpy()
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_ms_ssim_matches_tensorflows_and_refuses_patches_too_small_for_five_scales():
    x, y = _images(7, shape=(2, 176, 192, 3)), _images(8, shape=(2, 176, 192, 3))
    y = np.clip(0.7 * x + 0.3 * y, -0.5, 0.5)
    reference = tf.image.ssim_multiscale(x + 0.5, y + 0.5, max_val=1.0).numpy().mean()
    np.testing.assert_allclose(float(losses.ms_ssim(x, y)), reference, atol=1e-4)
    assert float(losses.ms_ssim(x, x)) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="176"):
        losses.ms_ssim(x[:, :160], y[:, :160])


def test_ms_ssim_of_an_anticorrelated_reconstruction_is_zero_with_a_finite_gradient():
    # negative contrast-structure terms are clipped at 0, as TensorFlow's metric does; the
    # clipped power must not differentiate to 0 * inf (a NaN that ends a training run)
    x = tf.nn.avg_pool2d(tf.constant(_images(9, shape=(1, 192, 192, 3))), 9, 1, "SAME")
    y = tf.Variable(-x)
    with tf.GradientTape() as tape:
        value = losses.ms_ssim(x, y)
    gradient = tape.gradient(value, y).numpy()
    reference = tf.image.ssim_multiscale(x + 0.5, y + 0.5, max_val=1.0).numpy().mean()
    assert float(value) == pytest.approx(reference, abs=1e-4) and float(value) == 0.0
    assert np.all(np.isfinite(gradient))


def test_the_ssim_map_is_one_for_identical_images_and_keeps_the_size_with_same_padding():
    x = _images(2)
    same = np.asarray(losses.ssim_map(x, x, padding="same"))
    assert same.shape == x.shape
    np.testing.assert_allclose(same, 1.0, atol=1e-4)


@pytest.mark.parametrize("loss", ["l1", "ssim_weighted_l1", "l1_ssim", "l1_ms_ssim"])
def test_every_loss_is_zero_for_a_perfect_reconstruction_and_grows_with_the_error(loss):
    x = _images(3, shape=(2, 176, 176, 3) if loss == "l1_ms_ssim" else (2, 48, 48, 3))
    noise = np.random.default_rng(4).normal(0, 1, size=x.shape).astype("float32")
    reconstructions = np.stack([x, x + 0.02 * noise, x + 0.1 * noise])
    values = np.asarray(losses.iteration_losses(x, reconstructions, loss, 0.5))
    assert values.shape == (3,)
    assert abs(values[0]) < 1e-3 and 0 < values[1] < values[2], values


def test_the_ssim_weighted_l1_counts_errors_more_where_structure_is_lost():
    flat = np.zeros((1, 48, 48, 3), "float32")
    flat[:, :, 24:] = 0.2
    shifted = np.roll(flat, 2, axis=2)          # edges moved: SSIM falls there
    offset = flat + np.abs(shifted - flat).mean()   # the same L1 as a uniform offset
    l1 = [float(losses.iteration_losses(flat, r[None], "l1")[0]) for r in (shifted, offset)]
    np.testing.assert_allclose(l1[0], l1[1], rtol=1e-3)
    weighted = [float(losses.iteration_losses(flat, r[None], "ssim_weighted_l1")[0])
                for r in (shifted, offset)]
    assert weighted[0] > 1.5 * weighted[1], weighted


def test_an_ssim_weight_of_zero_gives_the_plain_l1():
    x = _images(5)
    reconstructions = np.stack([x + 0.05, x - 0.02])
    np.testing.assert_allclose(losses.iteration_losses(x, reconstructions, "l1_ssim", 0.0),
                               losses.iteration_losses(x, reconstructions, "l1"), rtol=1e-6)


def test_configs_refuse_an_unknown_loss_and_an_ssim_weight_outside_zero_to_one():
    with pytest.raises(ConfigError, match="loss must be one of"):
        ModelConfig(loss="l2")
    with pytest.raises(ConfigError, match="ssim_weight"):
        ModelConfig(ssim_weight=1.5)


@pytest.mark.parametrize("loss", ["ssim_weighted_l1", "l1_ssim"])
def test_a_model_with_an_ssim_loss_trains_and_still_reports_the_l1_of_its_iterations(loss):
    keras.utils.set_random_seed(0)
    config = ModelConfig.from_dict({**TINY_CONFIG, "loss": loss, "ssim_weight": 0.5})
    model = RNNCompressionModel(config.to_dict())
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _images(6, shape=(4, 32, 32, 3))
    history = model.fit(x, batch_size=4, epochs=12, verbose=0).history
    assert all(np.isfinite(history["loss"])) and history["loss"][-1] < history["loss"][0]
    for tracker in model.metrics:
        tracker.reset_state()
    reconstructions = model(x)
    total = float(model.compute_loss(x, None, reconstructions))
    l1 = np.asarray(losses.iteration_losses(x, reconstructions, "l1"))
    trained = np.asarray(losses.iteration_losses(x, reconstructions, loss, 0.5))
    np.testing.assert_allclose(total, trained.mean(), rtol=1e-5)
    np.testing.assert_allclose([float(model.first_tracker.result()),
                                float(model.last_tracker.result())], [l1[0], l1[-1]], rtol=1e-5)


def test_the_losses_and_their_gradients_match_under_jax_without_tensorflow(tmp_path):
    x = _images(7, shape=(2, 32, 32, 3))
    reconstructions = np.stack([x + 0.05, x * 0.5])
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "r.npy", reconstructions)
    script = tmp_path / "jax_losses.py"
    script.write_text(
        "import sys, jax, numpy as np\n"
        "from tfrnncomp.model import losses\n"
        "x, r = np.load(sys.argv[1]), np.load(sys.argv[2])\n"
        "out = [np.asarray(losses.iteration_losses(x, r, name, 0.3)) for name in sys.argv[4:]]\n"
        "grad = jax.grad(lambda y: losses.iteration_losses(x, y, 'l1_ssim', 0.3).sum())(r)\n"
        "np.save(sys.argv[3], np.concatenate(out + [np.asarray(grad).ravel()]))\n")
    names = ["l1", "ssim_weighted_l1", "l1_ssim"]
    subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, str(script), str(tmp_path / "x.npy"),
                    str(tmp_path / "r.npy"), str(tmp_path / "out.npy"), *names],
                   env=jax_environment(), check=True, timeout=600, capture_output=True)
    on_jax = np.load(tmp_path / "out.npy")
    recon = tf.constant(reconstructions)
    with tf.GradientTape() as tape:
        tape.watch(recon)
        total = tf.reduce_sum(losses.iteration_losses(x, recon, "l1_ssim", 0.3))
    on_tf = np.concatenate([np.asarray(losses.iteration_losses(x, reconstructions, n, 0.3))
                            for n in names] + [tape.gradient(total, recon).numpy().ravel()])
    np.testing.assert_allclose(on_jax, on_tf, rtol=1e-4, atol=1e-7)


def test_training_refuses_an_ms_ssim_loss_on_patches_too_small_for_five_scales(tmp_path):
    from tfrnncomp.training.train import TrainingConfig, train

    config = ModelConfig.from_dict({**TINY_CONFIG, "loss": "l1_ms_ssim", "ssim_weight": 0.3})
    run = tmp_path / "run"
    with pytest.raises(ConfigError, match="at least 176 pixels"):
        train(config, TrainingConfig(data=str(tmp_path), patch_size=64), str(run))
    assert not run.exists()  # refused before anything was written


def test_weights_trained_on_an_ms_ssim_loss_export_to_a_model_directory(tmp_path):
    import json

    from tfrnncomp.model import zoo
    from tfrnncomp.training.train import TrainingConfig, build_model, export_run

    config = ModelConfig.from_dict({**TINY_CONFIG, "loss": "l1_ms_ssim", "ssim_weight": 0.3})
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps(config.to_dict()))
    model = build_model(config, TrainingConfig(patch_size=192))
    model.save_weights(str(run / "latest.weights.h5"))
    export_run(str(run), str(tmp_path / "model"))  # export builds it with no training patches
    with open(tmp_path / "model" / zoo.CONFIG_FILE) as handle:
        assert json.load(handle)["loss"] == "l1_ms_ssim"
