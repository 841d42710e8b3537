"""A short fuzz smoke run in the default suite (no atheris needed).

Random mutations of the committed fuzz corpus (``tests/fuzz/corpus``), with a fixed seed, go
through fuzz targets (a) the bitstream parser, (b) the context-mode entropy decoder and (d)
the BinaryRNN entropy decoder of ``tests/fuzz/harnesses.py``.  A target returns normally when the package gave a valid result
or raised its own error (a ``TfrnncompError`` subclass); anything else escaping it (another
exception type, or an ``AssertionError`` from a broken invariant) fails the test.  The long
runs with atheris are described in ``tests/fuzz/README.md``.
"""

import os
import random
import time

import pytest

from tests.fuzz import harnesses

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz", "corpus")
INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF)


def load_corpus(name):
    folder = os.path.join(CORPUS, name)
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    inputs = []
    for file_name in names:
        with open(os.path.join(folder, file_name), "rb") as handle:
            inputs.append(handle.read())
    assert inputs, f"no fuzz corpus in {folder} (run python -m tests.fuzz.make_corpus)"
    return inputs


def mutate(rng, data):
    """One to four random bit flips, truncations, insertions or byte overwrites."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        operation = rng.randrange(4)
        if operation == 0 and data:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif operation == 1 and data:
            del data[rng.randrange(len(data)):]
        elif operation == 2:
            at = rng.randrange(len(data) + 1)
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif data:
            data[rng.randrange(len(data))] = rng.choice(INTERESTING)
    return bytes(data)


def run_mutations(check, corpus, count, seed):
    rng = random.Random(seed)
    failures, slowest = [], 0.0
    for _ in range(count):
        data = mutate(rng, rng.choice(corpus))
        start = time.perf_counter()
        try:
            check(data)
        except Exception as error:  # noqa: BLE001 - every escape is a finding
            failures.append((data, f"{type(error).__name__}: {error}"))
        slowest = max(slowest, time.perf_counter() - start)
    return failures, slowest


@pytest.mark.parametrize("harness, count", [("bitstream", 5000), ("entropy", 1000),
                                            ("binaryrnn", 300)])
def test_random_mutations_of_the_corpus_raise_only_the_packages_own_errors(harness, count):
    check = {"bitstream": harnesses.check_bitstream, "entropy": harnesses.check_entropy,
             "binaryrnn": harnesses.check_binaryrnn}[harness]
    corpus = load_corpus(harness)
    for data in corpus:  # the unmutated corpus is clean too
        check(data)
    failures, slowest = run_mutations(check, corpus, count, seed=20240611)
    assert not failures, f"{len(failures)} inputs escaped, e.g. {failures[:3]}"
    assert slowest < 5.0, f"one input took {slowest:.2f} s"
