"""The iterative RNN compression model of Toderici et al. 2017 (Section 2).

At iteration t the encoder E sees the residual r_{t-1}, the binarizer B emits
``bits`` bits per 16x16 block, and the decoder D rebuilds an image:

    b_t = B(E_t(r_{t-1}))            r_0 = x
    x_hat_t = D_t(b_t) + gamma * x_hat_{t-1}
    r_t = x - x_hat_t

``one_shot`` (gamma = 0): every iteration predicts the whole image.
``additive`` (gamma = 1): every iteration predicts the residual; outputs sum.
``residual_scaling``: additive, with the residual multiplied by a gain
g_{t-1} = G(x_hat_{t-1}) before the encoder and the decoder's output divided by
it (Section 2.4).  G is a small convolutional network of the reconstruction,
so the decoder recomputes it without side information.

Pixels are in [-0.5, 0.5].  The training loss is the L1 norm of the residual
averaged over iterations (Section 3).

The model trains with Keras' own ``fit`` on any Keras 3 backend (TensorFlow, JAX, PyTorch):
it overrides only ``compute_loss``, and every layer is written in ``keras.ops``.
"""

import keras
from keras import ops

from tfrnncomp.model.config import ModelConfig, iteration_weights
from tfrnncomp.model import losses as losses_lib
from tfrnncomp.model.layers import GDN, DepthToSpace, SignBinarizer, make_cell


@keras.saving.register_keras_serializable(package="tfrnncomp")
class GainEstimator(keras.layers.Layer):
    """G of the residual-scaling reconstruction: one gain >= 1 per 8x8 pixel patch."""

    def __init__(self, channels=16, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.convs = [keras.layers.Conv2D(self.channels, 3, strides=2, padding="same",
                                          activation="elu", name=f"conv_{i}") for i in range(2)]
        self.out = keras.layers.Conv2D(1, 3, strides=2, padding="same", name="gain")

    def call(self, reconstruction):
        y = reconstruction
        for conv in self.convs:
            y = conv(y)
        gain = 1.0 + ops.softplus(self.out(y))
        # nearest-neighbour upsampling by 8 back to pixel resolution
        gain = ops.repeat(ops.repeat(gain, 8, axis=1), 8, axis=2)
        return gain

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels)
        return config


@keras.saving.register_keras_serializable(package="tfrnncomp")
class RNNCompressionModel(keras.Model):
    """Encoder, binarizer and decoder of the paper; its loss is :meth:`compute_loss`.

    ``model(x)`` runs ``config.train_iterations`` iterations on a batch of
    images in [-0.5, 0.5] and returns the reconstruction after each iteration,
    stacked as ``[T, B, H, W, 3]``.  H and W must be multiples of 32.
    """

    #: how ``call`` runs the iterations (training and inference): "scan" (one ``ops.scan``),
    #: "unrolled", or "auto": the scan on JAX with an accelerator, unrolled elsewhere (XLA's CPU
    #: runs the scan's convolutions about 65 times slower than unrolled ones)
    train_loop = "auto"

    def __init__(self, config=None, **kwargs):
        super().__init__(**kwargs)
        self.config = ModelConfig.from_dict(config if config is not None else {})
        c = self.config
        self.encoder_conv = keras.layers.Conv2D(c.scaled(c.encoder_conv), 3, strides=2,
                                                padding="same", name="encoder_conv")
        self.encoder_gdn = GDN(name="encoder_gdn") if c.gdn else None
        self.encoder_rnns = [
            make_cell(c.cell, c.scaled(units), kernel_size=3, strides=2,
                      hidden_kernel_size=k, name=f"encoder_rnn_{i + 1}")
            for i, (units, k) in enumerate(zip(c.encoder_units, c.encoder_hidden_kernels))]
        self.binarizer = SignBinarizer(c.bits, training_mode=c.binarizer_training,
                                       name="binarizer")
        self.decoder_conv = keras.layers.Conv2D(c.scaled(c.decoder_conv), 1, name="decoder_conv")
        self.decoder_rnns = [
            make_cell(c.decoder_cell_type, c.scaled(units), kernel_size=3, strides=1,
                      hidden_kernel_size=k, name=f"decoder_rnn_{i + 1}")
            for i, (units, k) in enumerate(zip(c.decoder_units, c.decoder_hidden_kernels))]
        self.depth_to_space = DepthToSpace(2, name="depth_to_space")
        self.decoder_igdn = GDN(inverse=True, name="decoder_igdn") if c.gdn else None
        self.output_conv = keras.layers.Conv2D(3, 1, name="output_conv")
        self.gain_estimator = (GainEstimator(name="gain_estimator")
                               if c.reconstruction == "residual_scaling" else None)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.first_tracker = keras.metrics.Mean(name="l1_first")
        self.last_tracker = keras.metrics.Mean(name="l1_last")

    # -- one iteration ---------------------------------------------------------------
    def initial_encoder_state(self, image):
        """Zero states of the three encoder RNNs for a batch of padded images."""
        states, x = [], self.encoder_conv(image)
        for cell in self.encoder_rnns:
            cell_states = cell.initial_state(x)
            states.append(cell_states)
            x = cell_states[0]
        return tuple(states)

    def state_layout(self):
        """``{"encoder": [(scale, channels)...], "decoder": [...], "block", "bits"}``: state ``i``
        of a padded ``H x W`` image has shape ``(1, H/scale, W/scale, channels)``.

        Plain data (JSON-able), so runtimes without the Keras model (step models, LiteRT) can
        allocate the states; it follows the strides of the encoder and the depth-to-space of the
        decoder."""
        block = self.config.block_size
        scale, encoder = self.encoder_conv.strides[0], []
        for cell in self.encoder_rnns:
            scale *= cell.strides
            encoder += [(scale, cell.units)] * cell.num_states
        decoder = [(block // self.depth_to_space.block_size ** i, cell.units)
                   for i, cell in enumerate(self.decoder_rnns) for _ in range(cell.num_states)]
        return {"encoder": encoder, "decoder": decoder, "block": block, "bits": self.config.bits}

    def initial_decoder_state(self, codes):
        """Zero states of the four decoder RNNs for a code tensor ``[B, h, w, bits]``."""
        shape, block = ops.shape(codes), self.config.block_size
        flat = iter(self.state_layout()["decoder"])
        states = []
        for cell in self.decoder_rnns:
            cell_states = []
            for _ in range(cell.num_states):
                scale, units = next(flat)
                cell_states.append(ops.zeros(
                    (shape[0], shape[1] * (block // scale), shape[2] * (block // scale), units),
                    dtype=self.compute_dtype))
            states.append(tuple(cell_states))
        return tuple(states)

    def encoder_step(self, residual, states, training=False, noise=None):
        """E then B: residual ``[B,H,W,3]`` -> codes ``[B,H/16,W/16,bits]`` in {-1,+1}
        (``noise``: the binarizer's, see :class:`SignBinarizer`)."""
        x, new_states = self.encoder_features(residual, states)
        extra = {} if noise is None else {"noise": noise}
        return self.binarizer(x, training=training, **extra), new_states

    def encoder_features(self, residual, states):
        """E alone: the binarizer's input ``[B,H/16,W/16,C]`` and the new encoder states."""
        x = self.encoder_conv(residual)
        if self.encoder_gdn is not None:
            x = self.encoder_gdn(x)
        new_states = []
        for cell, cell_states in zip(self.encoder_rnns, states):
            x, cell_states = cell(x, cell_states)
            new_states.append(cell_states)
        return x, tuple(new_states)

    def decoder_step(self, codes, states):
        """D: codes -> this iteration's output in [-0.5, 0.5] (an image or a residual)."""
        x = self.decoder_conv(codes)
        new_states = []
        for cell, cell_states in zip(self.decoder_rnns, states):
            x, cell_states = cell(x, cell_states)
            new_states.append(cell_states)
            x = self.depth_to_space(x)
        if self.decoder_igdn is not None:
            x = self.decoder_igdn(x)
        return ops.tanh(self.output_conv(x)) * 0.5, tuple(new_states)

    def initial_gain(self, image):
        shape = ops.shape(image)
        return ops.ones((shape[0], shape[1], shape[2], 1), dtype=self.compute_dtype)

    def reconstruct(self, output, previous, gain, active=None):
        """Combine the decoder output with the previous reconstruction (Section 2.4).

        Returns the new reconstruction and the gain for the next iteration.  ``active``
        (bool ``[B,H,W,1]``, spatially adaptive coding, Johnston et al. 2018) keeps the
        previous pixels where it is False.
        """
        mode = self.config.reconstruction
        if mode == "one_shot":
            reconstruction = output
        elif mode == "additive":
            reconstruction = previous + output
        else:
            reconstruction = previous + output / gain
        if active is not None:
            reconstruction = ops.where(active, reconstruction, previous)
        if mode == "residual_scaling":
            return reconstruction, self.gain_estimator(reconstruction)
        return reconstruction, gain

    def encoder_input(self, image, reconstruction, gain):
        """The encoder's input: the (scaled) residual r_{t-1}."""
        residual = image - reconstruction
        if self.config.reconstruction == "residual_scaling":
            residual = residual * gain
        return residual

    # -- unrolled iterations -----------------------------------------------------------
    def call(self, inputs, training=False, iterations=None):
        iterations = iterations or self.config.train_iterations
        image = ops.convert_to_tensor(inputs, dtype=self.compute_dtype)
        if self._scan_loop():
            return self.looped_iterations(image, iterations, training=training)
        enc_states = self.initial_encoder_state(image)
        reconstruction = ops.zeros_like(image)
        gain = self.initial_gain(image)
        dec_states = None
        outputs = []
        for _ in range(iterations):
            codes, enc_states = self.encoder_step(
                self.encoder_input(image, reconstruction, gain), enc_states, training=training)
            if dec_states is None:
                dec_states = self.initial_decoder_state(codes)
            output, dec_states = self.decoder_step(codes, dec_states)
            reconstruction, gain = self.reconstruct(output, reconstruction, gain)
            outputs.append(reconstruction)
        return ops.stack(outputs)

    def _scan_loop(self):
        if self.train_loop == "auto":
            if keras.backend.backend() != "jax":
                return False
            import jax

            return jax.default_backend() != "cpu"
        return self.train_loop == "scan"

    def looped_iterations(self, image, iterations, training=True):
        """What :meth:`call` returns, from an ``ops.scan`` over the iterations (for a built model).

        JAX then compiles one iteration's step rather than every unrolled one (for 16 iterations,
        55 s instead of 449 s on this repository's 2-core CPU), so JAX on an accelerator trains
        through it (see :attr:`train_loop`).  The binarizer's noise of all iterations is drawn
        before the loop, which draws nothing; inference and a binarizer trained on signs draw none.
        """
        enc_states = self.initial_encoder_state(image)
        shape = (iterations,) + tuple(ops.shape(enc_states[-1][0])[:3]) + (self.config.bits,)
        stochastic = training and self.binarizer.training_mode == "stochastic"
        noise = (keras.random.uniform(shape, dtype=self.compute_dtype,
                                      seed=self.binarizer.seed_generator)
                 if stochastic else ops.zeros(shape, dtype=self.compute_dtype))

        def step(carry, step_noise):
            enc, dec, reconstruction, gain = carry
            codes, enc = self.encoder_step(self.encoder_input(image, reconstruction, gain), enc,
                                           training=training, noise=step_noise)
            output, dec = self.decoder_step(codes, dec)
            reconstruction, gain = self.reconstruct(output, reconstruction, gain)
            return (enc, dec, reconstruction, gain), reconstruction

        start = (enc_states, self.initial_decoder_state(noise[0]), ops.zeros_like(image),
                 self.initial_gain(image))
        return ops.scan(step, start, noise)[1]

    def iteration_losses(self, images, reconstructions, l1=None):
        """The config's training loss of each iteration, shape ``[T]`` (``reconstructions`` is
        ``model(images)``; ``l1``: their :func:`~tfrnncomp.model.losses.l1_losses`, if known)."""
        return losses_lib.iteration_losses(images, reconstructions, self.config.loss,
                                           float(self.config.ssim_weight), l1=l1)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The weighted sum of the iterations' losses of the batch ``x`` (``y`` is unused).

        Also records the loss and the first and last iteration's L1 in :attr:`metrics`.  Under
        ``tf.distribute`` the returned loss is divided by the replicas, whose gradients are
        summed, so the step follows the global batch's mean.
        """
        from tfrnncomp.training.distribute import replicas_in_sync

        l1 = losses_lib.l1_losses(x, y_pred)
        losses = self.iteration_losses(x, y_pred, l1=l1)
        weights = ops.convert_to_tensor(
            iteration_weights(self.config, int(losses.shape[0])), dtype="float32")
        loss = ops.sum(losses * weights)
        self.loss_tracker.update_state(loss)
        self.first_tracker.update_state(l1[0])
        self.last_tracker.update_state(l1[-1])
        replicas = replicas_in_sync()
        return loss / replicas if replicas > 1 else loss

    @property
    def metrics(self):
        return [self.loss_tracker, self.first_tracker, self.last_tracker]

    def build_for_inference(self):
        """Create every variable by running one iteration on a dummy batch of one padded
        block (``pad_multiple`` pixels a side)."""
        if not self.built or not self.trainable_variables:
            side = self.config.pad_multiple
            self(ops.zeros((1, side, side, 3)), iterations=1)
        return self

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
