"""Shipped models by name, and loading/saving models from directories.

A model directory holds ``config.json`` (the :class:`~tfrnncomp.model.config.ModelConfig`)
and ``model.weights.h5``.  The shipped ones live in ``tfrnncomp/model/zoo/<name>/``
with a ``TRAINING.md`` record.  A model's id, written into every file it
encodes, is ``<config name>@<first 8 hex digits of a SHA-256 of its weights>``;
the hash walks the weights in sorted order of their paths (without the
model's own instance name), so it never depends on dict order or on how many
models a process has built.
"""

import hashlib
import os

import numpy as np

from tfrnncomp.model.config import load_config
from tfrnncomp.errors import TfrnncompError

WEIGHTS_FILE = "model.weights.h5"
ENTROPY_FILE = "binaryrnn.bin"
CONFIG_FILE = "config.json"
DEFAULT_MODEL = "gru-w25"


def zoo_dir():
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "zoo")


def available_models():
    """Names of the models shipped in the package, sorted."""
    root = zoo_dir()
    if not os.path.isdir(root):
        return []
    return sorted(name for name in os.listdir(root)
                  if os.path.isfile(os.path.join(root, name, WEIGHTS_FILE)))


def resolve(name_or_path=None):
    """The directory of a zoo model name or of a model directory path."""
    name_or_path = name_or_path or DEFAULT_MODEL
    if os.path.isdir(name_or_path):
        path = name_or_path
    else:
        path = os.path.join(zoo_dir(), name_or_path)
        if not os.path.isdir(path):
            raise TfrnncompError(
                f"unknown model {name_or_path!r}: not a directory and not in the zoo "
                f"(shipped: {', '.join(available_models()) or 'none'})")
    for needed in (CONFIG_FILE, WEIGHTS_FILE):
        if not os.path.isfile(os.path.join(path, needed)):
            raise TfrnncompError(f"model directory {path!r} has no {needed}")
    return path


def entropy_model_path(name_or_path=None):
    """The model directory's integer BinaryRNN file, or None if it has none."""
    path = os.path.join(resolve(name_or_path), ENTROPY_FILE)
    return path if os.path.isfile(path) else None


def load_post_filter(name_or_path=None, model_id=None):
    """The model directory's :class:`~tfrnncomp.model.postfilter.PostFilter`, or None.

    With ``model_id``, a filter trained on another codec model's images (its record's
    ``codec_model_id``) raises :class:`TfrnncompError`."""
    from tfrnncomp.model import postfilter

    path = resolve(name_or_path)
    layer, record = postfilter.load(path)
    trained_for = record and record.get("codec_model_id")
    if layer is not None and model_id is not None and trained_for != model_id:
        raise TfrnncompError(f"the post-filter in {path!r} was trained for model "
                             f"{trained_for!r}, not {model_id!r}: retrain it "
                             "(tools/training/train_postfilter.py) or remove it")
    return layer


def post_filter_for(post_filter, model, model_id):
    """The post-filter a codec or an export of ``model`` (a zoo name, directory or model
    instance, whose id is ``model_id``) uses: ``"auto"`` is the directory's own (checked to be
    trained for ``model_id``; none for a model instance), ``None`` none; a
    :class:`~tfrnncomp.model.postfilter.PostFilter` is itself.  Else ConfigError."""
    from tfrnncomp.errors import ConfigError
    from tfrnncomp.model.postfilter import PostFilter

    if isinstance(post_filter, str) and post_filter == "auto":
        return load_post_filter(model, model_id) if isinstance(model, (str, os.PathLike)) \
            or model is None else None
    if post_filter is None or isinstance(post_filter, PostFilter):
        return post_filter
    raise ConfigError(f"post_filter must be 'auto', None or a PostFilter, got {post_filter!r}")


def weights_digest(model):
    """SHA-256 hex digest of a model's weights, independent of its instance name."""
    digest = hashlib.sha256()
    entries = []
    for variable in model.weights:
        path = variable.path.split("/", 1)[-1]
        entries.append((path, variable))
    for path, variable in sorted(entries, key=lambda item: item[0]):
        value = np.ascontiguousarray(np.asarray(variable.numpy(), dtype=np.float32))
        digest.update(path.encode("utf-8"))
        digest.update(str(value.shape).encode("ascii"))
        digest.update(value.tobytes())
    return digest.hexdigest()


def model_id(model):
    """The stable id written into bitstreams: ``name@hash8``."""
    return f"{model.config.name}@{weights_digest(model)[:8]}"


def load_model(name_or_path=None):
    """Build a model from its config and load its weights (inference only)."""
    from tfrnncomp.model.network import RNNCompressionModel

    path = resolve(name_or_path)
    config = load_config(os.path.join(path, CONFIG_FILE))
    model = RNNCompressionModel(config.to_dict())
    model.build_for_inference()
    try:
        model.load_weights(os.path.join(path, WEIGHTS_FILE))
    except Exception as error:  # h5py and Keras raise many types here
        raise TfrnncompError(f"cannot load weights of {path!r}: {error}") from None
    return model


def save_model(model, directory):
    """Write ``config.json`` and the weights (without optimizer state) atomically."""
    from tfrnncomp.atomic import atomic_path, atomic_write_bytes
    from tfrnncomp.model.network import RNNCompressionModel

    os.makedirs(directory, exist_ok=True)
    clean = RNNCompressionModel(model.config.to_dict())
    clean.build_for_inference()
    for target, source in zip(clean.weights, model.weights):
        target.assign(source)
    with atomic_path(os.path.join(directory, WEIGHTS_FILE), suffix=".weights.h5") as tmp:
        clean.save_weights(tmp)
    atomic_write_bytes(os.path.join(directory, CONFIG_FILE),
                       (model.config.to_json() + "\n").encode("utf-8"))
    return directory
