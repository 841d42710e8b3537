"""Fuzz targets (atheris) and their seed corpus; see README.md here."""
