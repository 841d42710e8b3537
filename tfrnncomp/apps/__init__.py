"""What people run: the ``tfrnncomp`` command (parser, commands, single files and folders,
``info``, ``eval``), stage progress bars, and the Pillow plugin for ``.trc`` files."""
