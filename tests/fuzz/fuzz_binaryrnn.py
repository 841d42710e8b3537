#!/usr/bin/env python3
"""Atheris harness (d): ``tfrnncomp.entropy.coding.binaryrnn.decode_iteration`` of the
shipped integer BinaryRNN on arbitrary payloads.

The shape (at most 8x8 code positions, 32 bits deep), the iteration, the earlier
iterations' codes and an optional active mask come from the input too; the integer
network (NumPy) and the tensorflow-compression range decoder run inside.  The
instrumented imports and the loop are those of ``fuzz_entropy.py``.  Run from the
repository root with the venv active (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz_binaryrnn.py /tmp/fz/binaryrnn tests/fuzz/corpus/binaryrnn \
        -max_total_time=900 -timeout=5 -max_len=1024 -len_control=0 -rss_limit_mb=3072
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fuzz_entropy  # noqa: E402  (sets up the path and the instrumented imports)

from tests.fuzz import harnesses  # noqa: E402


def main():
    fuzz_entropy.run(harnesses.check_binaryrnn, harnesses.binaryrnn_input((2, 2), 0, b""))


if __name__ == "__main__":
    main()
