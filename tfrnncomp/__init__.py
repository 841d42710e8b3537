"""tfrnncomp: variable-rate image compression with recurrent networks.

An implementation of Toderici et al., "Full Resolution Image Compression with
Recurrent Neural Networks" (CVPR 2017) in TensorFlow/Keras 3.

    >>> import tfrnncomp
    >>> codec = tfrnncomp.Codec()                 # the shipped default model
    >>> data = codec.compress(image, iterations=8)  # uint8[H,W,3] -> bytes
    >>> image = codec.decompress(data)             # bytes -> uint8[H,W,3]

Heavy modules (TensorFlow) are imported on first use of ``Codec`` and friends.

The deployment exports, :mod:`tfrnncomp.export`, live in the repository's top-level
``export/`` folder; an install puts them at ``tfrnncomp/export`` (setup.cfg's
``package_dir``), and a source checkout imports them from ``export/`` (below).
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


def _checkout_export():
    """In a source checkout, find ``tfrnncomp.export`` in the top-level ``export/`` folder.

    Only when this package has no ``export`` folder of its own (installed, it has one) and
    sits beside ``setup.cfg`` and ``export/``: then a finder for that one name goes first,
    so the export of this very checkout is found, not one of another install.
    """
    import importlib.util
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    folder = os.path.join(root, "export")
    if (os.path.isdir(os.path.join(here, "export"))
            or not os.path.isfile(os.path.join(root, "setup.cfg"))
            or not os.path.isfile(os.path.join(folder, "__init__.py"))):
        return

    class CheckoutExport:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if name != __name__ + ".export":
                return None
            return importlib.util.spec_from_file_location(
                name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder])

    sys.meta_path.insert(0, CheckoutExport)


_checkout_export()
