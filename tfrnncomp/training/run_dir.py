"""The run directory's own records: its model config and training settings (``config.json``,
``training.json``, checked against a resumed run's), the dated changes of either
(``phases.log``), and the epochs its backup has finished.  The files a run writes are listed in
:mod:`tfrnncomp.training.train`."""

import json
import os

from tfrnncomp.errors import ConfigError
from tfrnncomp.model.config import ModelConfig, load_config
from tfrnncomp.training import checkpoint_epoch
from tfrnncomp.training.setup import TrainingConfig


#: config fields a resumed run may change (a curriculum over iterations)
_TRAINING_PHASE_KEYS = ("train_iterations", "loss_weighting", "loss", "ssim_weight",
                        "binarizer_training")


def _atomic_write_text(path, text):
    from tfrnncomp.atomic import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))


def check_run_dir(run_dir, config: ModelConfig):
    """The model config saved in ``run_dir`` (None for a new run); raises if it is another
    model's.  Reads only."""
    config_path = os.path.join(run_dir, "config.json")
    if not os.path.exists(config_path):
        return None
    saved = load_config(config_path)
    # a curriculum may change how the model is trained, never what it is
    phase = {key: getattr(config, key) for key in _TRAINING_PHASE_KEYS}
    if saved.replace(**phase) != config:
        raise ConfigError(f"{run_dir} holds a run of another model config; "
                          "use a new --out directory")
    return saved


def prepare_run_dir(run_dir, config: ModelConfig, training: TrainingConfig):
    """Write the run's configs, or check they match those of the run being resumed."""
    saved = check_run_dir(run_dir, config)
    os.makedirs(run_dir, exist_ok=True)
    config_path = os.path.join(run_dir, "config.json")
    if saved is not None and saved != config:
        phase = {key: getattr(config, key) for key in _TRAINING_PHASE_KEYS}
        append_phase(run_dir, {"from": {k: getattr(saved, k) for k in phase}, "to": phase})
    _log_training_change(run_dir, training)
    _atomic_write_text(config_path, config.to_json())
    _atomic_write_text(os.path.join(run_dir, "training.json"),
                       json.dumps(training.to_dict(), indent=2, sort_keys=True))


#: training settings whose change on resumption is recorded in ``phases.log``
_LOGGED_TRAINING_KEYS = ("patch_size", "batch_size", "learning_rate", "decay_steps",
                         "decay_rate", "validation_fraction", "validation_data",
                         "average_momentum", "validate_every")
#: the value of a logged setting in a ``training.json`` written before the setting existed
_BEFORE_IT_EXISTED = {"average_momentum": 0.0}


def append_phase(run_dir, record):
    """Append a change of settings to ``RUN_DIR/phases.log``, dated by ``epoch``: the first
    epoch that trains with it (the epochs the run's backup has finished)."""
    with open(os.path.join(run_dir, "phases.log"), "a", encoding="utf-8") as log:
        log.write(json.dumps({"epoch": finished_epoch(run_dir), **record}) + "\n")


def _log_training_change(run_dir, training: TrainingConfig):
    path = os.path.join(run_dir, "training.json")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as handle:
        saved = json.load(handle)
    now = training.to_dict()
    saved = {**_BEFORE_IT_EXISTED, **saved}
    changed = [k for k in _LOGGED_TRAINING_KEYS if k in saved and saved[k] != now[k]]
    if changed:
        append_phase(run_dir, {"from": {k: saved[k] for k in changed},
                               "to": {k: now[k] for k in changed}})


def finished_epoch(run_dir):
    """The epochs a run directory's backup has finished (0 for a new run)."""
    return checkpoint_epoch.read_epoch(os.path.join(run_dir, "backup")) or 0
