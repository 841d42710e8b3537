"""Pillow plugin: ``import tfrnncomp.pillow`` registers ``.trc`` files with Pillow (the public
import path of :mod:`tfrnncomp.apps.pillow`)."""

from tfrnncomp.apps.pillow import *  # noqa: F401,F403 - registers the format on import
from tfrnncomp.apps.pillow import __all__  # noqa: F401
