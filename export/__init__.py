"""Deployment exports of tfrnncomp models: SavedModel (TF Serving) and TFLite/LiteRT.

``tfrnncomp export savedmodel OUT`` (:mod:`.savedmodel`) writes a versioned SavedModel with
``compress`` and ``decompress`` signatures; ``tfrnncomp export tflite OUT`` (:mod:`.tflite`)
converts the step functions of :mod:`tfrnncomp.runtime.steps` to TFLite;
:mod:`.litert_backend` runs them with LiteRT through the host loop of
:mod:`tfrnncomp.runtime.steps`.  Install the runtimes with ``pip install .[export]``.

The package lives in the repository's top-level ``export/`` folder and is installed as
``tfrnncomp.export`` (setup.cfg).
"""
