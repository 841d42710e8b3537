"""``python -m tfrnncomp ...``: the ``tfrnncomp`` command."""

import sys

from tfrnncomp.apps.cli import main

sys.exit(main())
