"""Model configurations: plain dicts / JSON, saved next to the weights.

The reference configuration is the architecture of Toderici et al. 2017,
Figure 1 (see :data:`REFERENCE`).  A ``width`` multiplier scales every
channel count except the binarizer's bits and the output's 3 channels, which
gives CPU-sized models.  Hyper-parameters always come from a config, never
from weight shapes.
"""

import dataclasses
import json
from typing import Optional, Sequence, Tuple

from tfrnncomp.errors import ConfigError

RECONSTRUCTIONS = ("one_shot", "additive", "residual_scaling")
CELL_TYPES = ("lstm", "gru", "residual_gru", "associative_lstm")
LOSS_WEIGHTINGS = ("uniform", "increasing")
#: training losses (tfrnncomp.model.losses)
LOSSES = ("l1", "ssim_weighted_l1", "l1_ssim", "l1_ms_ssim")
#: what the binarizer emits in training (tfrnncomp.model.layers.SignBinarizer): the paper's
#: stochastic bits, or the signs that inference emits
BINARIZER_TRAINING = ("stochastic", "sign")


#: iterations coded when no rate is given (capped by a model's useful_iterations)
DEFAULT_ITERATIONS = 8
#: pixels per code position along each side: the encoder's four stride-2 stages
BLOCK_SIZE = 16
#: images are edge-padded to multiples of this many pixels per side
PAD_MULTIPLE = 32


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (and nothing learned).

    Attributes follow the paper's names: E-Conv, E-RNN#1-3, the binarizer,
    D-Conv#1, D-RNN#1-4 and D-Conv#2 (Figure 1).  Channel counts are the
    paper's; ``width`` scales them.
    """

    name: str = "custom"
    cell: str = "gru"
    decoder_cell: Optional[str] = None
    width: float = 1.0
    bits: int = 32
    reconstruction: str = "additive"
    gdn: bool = False
    max_iterations: int = 16
    #: the last iteration that still raises quality on held-out images (measured by
    #: tools/research/iteration_table.py); the default iteration count and the Pillow quality scale
    #: stop there.  None: every iteration up to max_iterations helps.
    useful_iterations: Optional[int] = None
    train_iterations: int = 8
    loss_weighting: str = "uniform"
    #: the training loss of each iteration (tfrnncomp.model.losses), and the SSIM term's share
    #: in ``l1_ssim``
    loss: str = "l1"
    ssim_weight: float = 0.84
    #: one of :data:`BINARIZER_TRAINING`; inference always takes signs
    binarizer_training: str = "stochastic"
    encoder_conv: int = 64
    encoder_units: Tuple[int, ...] = (256, 512, 512)
    encoder_hidden_kernels: Tuple[int, ...] = (1, 1, 1)
    decoder_conv: int = 512
    decoder_units: Tuple[int, ...] = (512, 512, 256, 128)
    decoder_hidden_kernels: Tuple[int, ...] = (1, 1, 3, 3)

    def __post_init__(self):
        for key in ("encoder_units", "encoder_hidden_kernels", "decoder_units",
                    "decoder_hidden_kernels"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        self.validate()

    # -- validation ---------------------------------------------------------
    def validate(self):
        def fail(message):
            raise ConfigError(f"invalid model config {self.name!r}: {message}")

        if self.cell not in CELL_TYPES:
            fail(f"cell must be one of {CELL_TYPES}, got {self.cell!r}")
        if self.decoder_cell is not None and self.decoder_cell not in CELL_TYPES:
            fail(f"decoder_cell must be one of {CELL_TYPES} or None, got {self.decoder_cell!r}")
        if self.reconstruction not in RECONSTRUCTIONS:
            fail(f"reconstruction must be one of {RECONSTRUCTIONS}, got {self.reconstruction!r}")
        if self.loss_weighting not in LOSS_WEIGHTINGS:
            fail(f"loss_weighting must be one of {LOSS_WEIGHTINGS}, got {self.loss_weighting!r}")
        if self.loss not in LOSSES:
            fail(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.binarizer_training not in BINARIZER_TRAINING:
            fail(f"binarizer_training must be one of {BINARIZER_TRAINING}, "
                 f"got {self.binarizer_training!r}")
        if not 0 <= float(self.ssim_weight) <= 1:
            fail(f"ssim_weight must be in [0, 1], got {self.ssim_weight!r}")
        if not 0 < float(self.width) <= 4:
            fail(f"width must be in (0, 4], got {self.width!r}")
        if not 1 <= int(self.bits) <= 255:
            fail(f"bits must be in 1..255, got {self.bits!r}")
        if not 1 <= int(self.max_iterations) <= 64:
            fail(f"max_iterations must be in 1..64, got {self.max_iterations!r}")
        if self.useful_iterations is not None and not (
                1 <= int(self.useful_iterations) <= int(self.max_iterations)):
            fail(f"useful_iterations must be in 1..max_iterations, got {self.useful_iterations!r}")
        if not 1 <= int(self.train_iterations) <= int(self.max_iterations):
            fail(f"train_iterations must be in 1..max_iterations, got {self.train_iterations!r}")
        if len(self.encoder_units) != 3 or len(self.encoder_hidden_kernels) != 3:
            fail("the encoder has exactly 3 RNNs (encoder_units, encoder_hidden_kernels)")
        if len(self.decoder_units) != 4 or len(self.decoder_hidden_kernels) != 4:
            fail("the decoder has exactly 4 RNNs (decoder_units, decoder_hidden_kernels)")
        if any(k < 1 for k in self.encoder_hidden_kernels + self.decoder_hidden_kernels):
            fail("hidden kernels must be >= 1")
        if any(u < 1 for u in self.encoder_units + self.decoder_units):
            fail("unit counts must be >= 1")

    # -- derived sizes ------------------------------------------------------
    def scaled(self, channels: int) -> int:
        """Channel count after the width multiplier: a multiple of 8, at least 8."""
        return max(8, int(round(channels * float(self.width) / 8.0)) * 8)

    @property
    def decoder_cell_type(self) -> str:
        return self.decoder_cell or self.cell

    @property
    def block_size(self) -> int:
        """Pixels per code position along each side (four stride-2 stages)."""
        return BLOCK_SIZE

    @property
    def pad_multiple(self) -> int:
        """Images are padded to this multiple (residual scaling pools by 8 at H/16... use 32)."""
        return PAD_MULTIPLE

    @property
    def default_iterations(self) -> int:
        """Iterations when none are asked for: 8 (1 bpp raw), or fewer if fewer help."""
        return min(DEFAULT_ITERATIONS, self.useful_iterations or self.max_iterations)

    @property
    def bpp_per_iteration(self) -> float:
        return self.bits / float(self.block_size ** 2)

    # -- (de)serialization --------------------------------------------------
    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        if data["binarizer_training"] == "stochastic":  # absent means the paper's: saved
            del data["binarizer_training"]                # configs stay as they were
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, data) -> "ModelConfig":
        if isinstance(data, ModelConfig):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"a model config must be a dict, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config keys: {unknown}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"model config is not valid JSON: {error}") from None
        return cls.from_dict(data)

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)


#: The paper's architecture (Figure 1) with GRU cells and additive reconstruction.
REFERENCE = ModelConfig(name="reference")


def load_config(source) -> ModelConfig:
    """A config from a ``ModelConfig``, a dict, a JSON string or a path to a JSON file."""
    if isinstance(source, (ModelConfig, dict)):
        return ModelConfig.from_dict(source)
    text = str(source)
    if text.lstrip().startswith("{"):
        return ModelConfig.from_json(text)
    try:
        with open(text, encoding="utf-8") as handle:
            return ModelConfig.from_json(handle.read())
    except OSError as error:
        raise ConfigError(f"cannot read model config {text!r}: {error.strerror}") from None


def iteration_weights(config: ModelConfig, iterations: int) -> Sequence[float]:
    """Loss weight per iteration, normalised to sum to 1 (Section 3: L1 over all iterations)."""
    if config.loss_weighting == "uniform":
        raw = [1.0] * iterations
    else:  # "increasing": later iterations count more
        raw = [float(t + 1) for t in range(iterations)]
    total = sum(raw)
    return [w / total for w in raw]
