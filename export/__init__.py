"""Deployment exports of tfrnncomp models: SavedModel (TF Serving) and TFLite/LiteRT.

``python -m export.savedmodel`` writes a versioned SavedModel with ``compress`` and
``decompress`` signatures; ``python -m export.tflite`` converts the step functions of
:mod:`tfrnncomp.runtime.steps` to TFLite; :mod:`export.litert_backend` runs them with LiteRT
through the host loop of :mod:`tfrnncomp.runtime.steps`.  Install the runtimes with
``pip install .[export]``.
"""
