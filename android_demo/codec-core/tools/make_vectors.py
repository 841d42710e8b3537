"""Writes the golden test vectors the Java codec core is checked against.

Run from the repository root (about half a minute on a CPU)::

    PYTHONPATH=. .venv/bin/python android_demo/codec-core/tools/make_vectors.py

Everything is produced by the Python package itself (tensorflow-compression's
range coder, :mod:`tfrnncomp.entropy.coding.context`, :mod:`tfrnncomp.format.container` and
:class:`tfrnncomp.Codec` with a tiny untrained model), so the Java tests pin
the Java port to the Python reference bit for bit.

Output (``src/test/resources/vectors/``):

``index.txt``
    one vector per line, tab-separated: ``kind``, file name, then ``key=value``
    fields (values may contain spaces, never tabs).
``*.npz``
    NumPy archives (zip of ``.npy``); the Java tests read them with
    ``java.util.zip`` and a small ``.npy`` parser.
``*.trc``
    whole, truncated and corrupted ``.trc`` files.

Kinds: ``rangecoder`` (indices + bits -> bytes), ``rangegarbage`` (random bytes
decoded with random indices -> bits + the decoder's final check),
``context`` (code tensors -> context-mode chunks), ``contextbad`` (garbage
context payloads -> bits or the error), ``trc`` (whole files + their codes),
``trcread`` (truncated files that still decode a prefix) and ``trcerror``
(files that must be rejected, with the Python error class and message), ``pixels``
(``steps.to_uint8``, ``image_io.from_array``, ``steps.pad_image`` + ``to_model_range``)
and ``steploop`` (``steps.run_decoder_steps`` with a fake decoder step), and the
entropy mode ``binaryrnn`` files of ``binaryrnn_files.py``.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path[:0] = [ROOT, HERE]

from tfrnncomp.format import container as bs  # noqa: E402
from tfrnncomp.entropy.coding import context, rangecoder  # noqa: E402
from tfrnncomp.entropy.coding.context import previous_bits  # noqa: E402
from tfrnncomp.errors import TfrnncompError  # noqa: E402
from vector_writer import concat as _concat  # noqa: E402
from vector_writer import vector_folder  # noqa: E402

DEFAULT_OUT = os.path.join(HERE, "..", "src", "test", "resources", "vectors")
GOLDEN = os.path.join(ROOT, "tests", "golden", "context_v1.npz")


# --- (b) the context model -------------------------------------------------------------

def structured_codes(t, h, w, d, seed, flip=0.2):
    """Biased, persistent bits (the same recipe as tests/test_entropy.py)."""
    rng = np.random.default_rng(seed)
    bias = rng.uniform(0.05, 0.95, size=d)
    bits = [(rng.uniform(size=(h, w, d)) < bias).astype(np.uint8)]
    for _ in range(t - 1):
        f = rng.uniform(size=(h, w, d)) < flip
        bits.append(np.where(f, 1 - bits[-1], bits[-1]).astype(np.uint8))
    return np.stack(bits)


def context_vector(w, table, name, bits, chunks=None):
    if chunks is None:
        chunks = [context.encode(table, bits[t], previous_bits(bits, t)) for t in range(len(bits))]
    decoded = []
    for t, chunk in enumerate(chunks):
        decoded.append(context.decode(table, chunk, bits.shape[1:], previous_bits(decoded, t)))
    assert np.array_equal(np.stack(decoded), bits)
    flat, offsets = _concat([np.frombuffer(c, np.uint8) for c in chunks], np.uint8)
    w.entry("context", w.npz(name, bits=bits.astype(np.uint8), chunks=flat,
                             chunk_offsets=offsets),
            shape=",".join(map(str, bits.shape)), bytes=len(flat))


def context_vectors(w, table, rng):
    golden = np.load(GOLDEN)
    bits = golden["bits"]
    chunks = [golden[f"chunk{t}"].tobytes() for t in range(len(bits))]
    context_vector(w, table, "ctx_golden_v1.npz", bits, chunks)
    for i, shape in enumerate([(1, 1, 1, 32), (3, 2, 3, 32), (2, 5, 4, 8), (4, 7, 9, 32),
                               (2, 1, 40, 32), (2, 30, 1, 32)]):
        bits = rng.integers(0, 2, size=shape).astype(np.uint8)
        context_vector(w, table, f"ctx_random_{i}.npz", bits)
    context_vector(w, table, "ctx_structured_0.npz", structured_codes(4, 24, 32, 32, seed=0))
    context_vector(w, table, "ctx_structured_1.npz", structured_codes(6, 9, 13, 32, seed=11,
                                                                      flip=0.05))
    # nearly constant codes: the counts grow large and the probabilities extreme
    const = structured_codes(3, 40, 48, 32, seed=3, flip=0.0)
    const[:, :, :, :16] = 0
    const[:, :, :, 16:] = 1
    const[1, 5, 7, 3] = 1
    context_vector(w, table, "ctx_constant.npz", const)

    # garbage payloads: Python either decodes something or reports the failed check
    for i, size in enumerate((0, 1, 2, 5, 40, 300, 2000)):
        payload = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        shape = (3, 4, 32) if size < 1000 else (8, 8, 32)
        try:
            out = context.decode(table, payload, shape)
            ok, message = 1, ""
        except TfrnncompError as error:
            out, ok, message = np.zeros(shape, np.uint8), 0, str(error)
        w.entry("contextbad", w.npz(f"ctx_bad_{i}.npz", payload=np.frombuffer(payload, np.uint8),
                                    bits=out),
                shape=",".join(map(str, shape)), ok=ok, message=message)


# --- (e) the host loop: pixels and the decoder-step loop of tfrnncomp.runtime.steps ---------

#: state layout of the fake decoder step: [scale, channels] per state
FAKE_LAYOUT = [[16, 4], [8, 3]]


def fake_decoder_step(bits, reconstruction, gain, states):
    """A made-up decoder step in float32 arithmetic (FakeDecoderStep.java does the same)."""
    f = np.float32
    s0, s1 = states
    depth = bits.shape[-1]
    n0 = s0 * f(0.5) + bits[..., np.arange(4) % depth] * f(0.25)
    up0 = n0.repeat(2, axis=1).repeat(2, axis=2)
    n1 = s1 + up0[..., np.arange(3) % 4] * f(0.125)
    up1 = n1.repeat(8, axis=1).repeat(8, axis=2)
    upb = bits.repeat(16, axis=1).repeat(16, axis=2)
    new_reconstruction = reconstruction + (up1[..., :3] + upb[..., 3:6] * f(0.1)) / gain
    return new_reconstruction, gain * f(1.25), [n0, n1]


def host_loop_vectors(w, rng):
    from tfrnncomp.codec import image_io
    from tfrnncomp.runtime import steps

    # to_uint8 / from_array on random values, extremes and exact rounding ties
    recon = rng.normal(0, 0.35, (64, 96, 3)).astype(np.float32)
    special = [-0.5, 0.5, -2.0, 2.0, 0.0, -0.499, 0.499, np.float32(1e-8)]
    for k in range(256):
        v = np.float32((k + 0.5) / 255.0 - 0.5)
        if (v + np.float32(0.5)) * np.float32(255.0) == np.float32(k + 0.5):
            special.append(v)
    recon.reshape(-1)[:len(special)] = np.array(special, np.float32)
    rgb = steps.to_uint8(recon[:50, :77])
    grey = image_io.from_array(rgb, 1)
    image = rng.integers(0, 256, (37, 45, 3), dtype=np.uint8)
    model_input = steps.to_model_range(steps.pad_image(image))
    w.entry("pixels", w.npz("pixels.npz", reconstruction=recon, rgb=rgb, grey=grey, image=image,
                            model_input=model_input.astype(np.float32)),
            ties=len(special) - 8)

    fake = steps.step_callable(fake_decoder_step,
                               lambda h, ww: steps.shapes_from_layout(FAKE_LAYOUT, h, ww))
    for name in ("tiny_context_40x50", "tiny_raw_1x1_grey", "tiny_context_noise_33x65"):
        data = open(os.path.join(w.out, name + ".trc"), "rb").read()
        header = bs.read(data).header
        codes = np.load(os.path.join(w.out, name + ".npz"))["codes"]
        frames = [image_io.from_array(
            steps.run_decoder_steps(fake, codes[:t + 1], header.height, header.width,
                                    block=header.block_size),
            header.channels) for t in range(len(codes))]
        w.entry("steploop", w.npz(f"steploop_{name}.npz", frames=np.stack(frames)),
                trc=name + ".trc", layout=";".join(f"{a},{b}" for a, b in FAKE_LAYOUT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="folder of the vectors, replaced whole (refused if it holds "
                        "anything else)")
    parser.add_argument("--quick", action="store_true", help="skip the shipped-model file")
    args = parser.parse_args()
    from file_vectors import error_vectors, file_vectors
    from range_coder_vectors import range_coder_vectors

    rng = np.random.default_rng(20240501)
    with vector_folder(args.out, "make_vectors.py") as w:
        table = rangecoder.BinaryTable()
        range_coder_vectors(w, table, rng)
        context_vectors(w, table, rng)
        _, files = file_vectors(w, args.quick)
        error_vectors(w, files)
        host_loop_vectors(w, rng)
    print(f"wrote {len(w.lines)} vectors ({w.size / 1024:.0f} KiB) to {os.path.abspath(args.out)}")


if __name__ == "__main__":
    main()
