#!/usr/bin/env python3
"""Atheris harness (a): ``tfrnncomp.format.container.read`` on arbitrary bytes.

Run from the repository root with the venv active (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz_bitstream.py /tmp/fz/bitstream tests/fuzz/corpus/bitstream \
        -runs=1000000 -timeout=2 -rss_limit_mb=1024
"""

import os
import sys

# run as a script (also how libFuzzer's -merge re-executes it): the repository root first
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import atheris  # noqa: E402

import numpy  # noqa: F401  (imported uninstrumented)

with atheris.instrument_imports(include=["tfrnncomp.format", "tfrnncomp.errors",
                                         "tests.fuzz.harnesses"]):
    from tests.fuzz import harnesses


def main():
    atheris.Setup(sys.argv, harnesses.check_bitstream)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
