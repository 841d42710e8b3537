#!/usr/bin/env python3
"""Atheris harness (c): ``Codec.decompress`` of the tiny untrained model on arbitrary files.

Files are limited to 128x128 pixels (``max_pixels``) so that every decode is small; half
of the inputs get their CRCs recomputed (control byte, see harnesses.py).  Run from the
repository root with the venv active (see tests/fuzz/README.md)::

    python tests/fuzz/fuzz_codec.py /tmp/fz/codec tests/fuzz/corpus/codec \
        -max_total_time=300 -timeout=5 -rss_limit_mb=4096
"""

import os
import sys

# run as a script (also how libFuzzer's -merge re-executes it): the repository root first
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import atheris  # noqa: E402

import numpy  # noqa: F401,E402  (imported uninstrumented)
import tensorflow as tf  # noqa: E402

# the model and its tf.functions stay uninstrumented (they are traced by TensorFlow)
import tfrnncomp.runtime.graph  # noqa: F401,E402
import tfrnncomp.model.network  # noqa: F401,E402
import tfrnncomp.model.zoo  # noqa: F401,E402

with atheris.instrument_imports(include=["tfrnncomp", "tests.fuzz.harnesses"]):
    from tests.fuzz import harnesses
    from tfrnncomp import codec as _codec  # noqa: F401
    from tfrnncomp.codec import image_io
    from tfrnncomp.entropy.coding import context, rangecoder  # noqa: F401

CODEC = None


def test_one_input(data):
    harnesses.check_codec(CODEC, data)


def main():
    global CODEC
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    CODEC = harnesses.make_tiny_codec()
    # compile the decode function before the clock of -timeout starts
    CODEC.decompress(CODEC.compress(numpy.zeros((8, 8, 3), numpy.uint8), 1, entropy="raw"))
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
