"""The ``.trc`` file format: the container (header and progressive chunks), the registry of
header extensions, and the per-block iteration map of spatially adaptive files."""
