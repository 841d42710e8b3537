"""tfrnncomp: variable-rate image compression with recurrent networks.

An implementation of Toderici et al., "Full Resolution Image Compression with
Recurrent Neural Networks" (CVPR 2017) in TensorFlow/Keras 3.

    >>> import tfrnncomp
    >>> codec = tfrnncomp.Codec()                 # the shipped default model
    >>> data = codec.compress(image, iterations=8)  # uint8[H,W,3] -> bytes
    >>> image = codec.decompress(data)             # bytes -> uint8[H,W,3]

Heavy modules (TensorFlow) are imported on first use of ``Codec`` and friends.

The deployment exports, :mod:`tfrnncomp.export`, live in the repository's top-level
``export/`` folder, which ``tfrnncomp/export`` links to: a source checkout imports them
through the link and an install copies them to ``tfrnncomp/export``.
"""

__version__ = "0.1.0"

_LAZY = {
    "Codec": ("tfrnncomp.codec", "Codec"),
    "CompressOptions": ("tfrnncomp.codec.options", "CompressOptions"),
    "RNNCompressionModel": ("tfrnncomp.model.network", "RNNCompressionModel"),
    "ModelConfig": ("tfrnncomp.model.config", "ModelConfig"),
    "load_model": ("tfrnncomp.model.zoo", "load_model"),
    "available_models": ("tfrnncomp.model.zoo", "available_models"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'tfrnncomp' has no attribute {name!r}")

