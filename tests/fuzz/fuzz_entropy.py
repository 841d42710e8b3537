#!/usr/bin/env python3
"""Atheris harness (b): ``tfrnncomp.entropy.coding.context.decode`` on arbitrary payloads.

The shape (at most 8x8x32) and the earlier iterations' bits come from the input too;
the tensorflow-compression range decoder runs inside.  Run from the repository root
with the venv active (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz_entropy.py /tmp/fz/entropy tests/fuzz/corpus/entropy \
        -max_total_time=900 -timeout=5 -max_len=1024 -len_control=0 -rss_limit_mb=3072
"""

import os
import sys

# run as a script (also how libFuzzer's -merge re-executes it): the repository root first
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import atheris  # noqa: E402

import numpy  # noqa: F401,E402  (imported uninstrumented)
import tensorflow as tf  # noqa: E402

with atheris.instrument_imports(include=["tfrnncomp.entropy", "tfrnncomp.errors",
                                         "tests.fuzz.harnesses"]):
    from tests.fuzz import harnesses
    from tfrnncomp.entropy.coding import (binaryrnn, context, integer_net,  # noqa: F401
                                          rangecoder)


def run(check, warm_up):
    """Fuzz ``check`` with one thread, after one call on ``warm_up`` (loads the op library
    and any model, so -timeout does not count them); also used by fuzz_binaryrnn.py."""
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    check(warm_up)
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


def main():
    run(harnesses.check_entropy, harnesses.entropy_input((2, 2, 32), b""))


if __name__ == "__main__":
    main()
