"""Write the seed corpus of the fuzz harnesses from real files of the tiny model.

Real ``.trc`` files of the tests' tiny untrained model (``tests/helpers.py``
TINY_CONFIG, weights fixed by seed 0 so the model id is stable), at 1..4
iterations, in both entropy modes (``raw`` and ``context``), for a few tiny
images (RGB and greyscale), plus tiled files (32x32 tiles, the tile size in a header
extension).  Run from the repository root::

    python -m tests.fuzz.make_corpus [--out tests/fuzz/corpus]

It writes ``<out>/bitstream`` and ``<out>/codec`` (control byte 0 + a file, see
harnesses.py), ``<out>/entropy`` (the context-mode chunks with their shapes and
earlier iterations) and ``<out>/binaryrnn`` (chunks of random codes range-coded with
the shipped BinaryRNN, with and without an active mask; ``--only binaryrnn`` writes
just these).  Existing files of the same name are overwritten; other files
(fuzzer findings) are kept.
"""

import argparse
import dataclasses
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tests.helpers import smooth_image  # noqa: E402
from tests.fuzz import harnesses  # noqa: E402
from tfrnncomp.format import container as bitstream  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: (name, height, width, greyscale): every one within harnesses.CODEC_MAX_PIXELS
IMAGES = [("rgb1x1", 1, 1, False), ("grey17x33", 17, 33, True), ("rgb40x24", 40, 24, False)]
#: only for the entropy corpus: the largest code shape the entropy harness makes (8x8)
ENTROPY_ONLY = [("rgb128x128", 128, 128, False)]
ITERATIONS = (1, 2, 3, 4)
MODES = ("raw", "context")


def _save(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(data)


def image_for(height, width, grey, seed):
    image = smooth_image(height, width, seed=seed)
    return image[..., 0] if grey else image


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(HERE, "corpus"))
    parser.add_argument("--only", choices=["binaryrnn"])
    args = parser.parse_args(argv)
    if args.only == "binaryrnn":
        print(binaryrnn_seeds(args.out), "binaryrnn inputs written to", args.out)
        return
    codec = harnesses.make_tiny_codec()
    print("model id", codec.model_id)
    count = {"bitstream": 0, "codec": 0, "entropy": 0}

    def save(harness, name, data):
        _save(os.path.join(args.out, harness), name, data)
        count[harness] += 1

    for seed, (name, height, width, grey) in enumerate(IMAGES + ENTROPY_ONLY):
        image = image_for(height, width, grey, seed)
        for mode in MODES:
            for iterations in ITERATIONS:
                data = codec.compress(image, iterations, entropy=mode)
                assert codec.decompress(data).shape[:2] == (height, width)
                stem = f"{name}_{mode}_it{iterations}"
                if (name, height, width, grey) in IMAGES:
                    save("bitstream", stem, b"\x00" + data)
                    save("codec", stem, b"\x00" + data)
            if mode == "context":  # the chunks of the 4-iteration file, with their contexts
                container = bitstream.read(data)
                codes = codec.decode_chunks(container.header, container.chunks)
                bits = (codes > 0).astype(np.uint8)
                for t, chunk in enumerate(container.chunks):
                    previous = [bits[u] for u in (t - 1, t - 2) if u >= 0]
                    save("entropy", f"{name}_chunk{t + 1}",
                         harnesses.entropy_input(container.header.code_shape, chunk, previous))

    # a few unusual but valid shapes for the entropy decoder: other depths, empty payloads
    from tfrnncomp.entropy.coding import context

    rng = np.random.default_rng(0)
    for shape in [(1, 1, 1), (3, 5, 8), (8, 1, 17), (8, 8, 32)]:
        bits = rng.integers(0, 2, size=(3,) + shape).astype(np.uint8)
        previous = [bits[1], bits[0]]
        payload = context.encode(harnesses._table(), bits[2], previous)
        stem = "x".join(map(str, shape))
        save("entropy", f"random{stem}_t3", harnesses.entropy_input(shape, payload, previous))
        save("entropy", f"empty{stem}", harnesses.entropy_input(shape, b""))

    # unusual but valid containers: extensions, a cut file, the strict and CRC-fixing flags
    full = codec.compress(image_for(17, 33, True, 1), 3, entropy="context")
    container = bitstream.read(full)
    extended = bitstream.write(
        dataclasses.replace(container.header, extensions={1: b"", 7: b"comment", 200: b"\xff"}),
        container.chunks)
    cut = full[:len(full) - 3]
    for harness in ("bitstream", "codec"):
        save(harness, "extensions", b"\x00" + extended)
        save(harness, "cut_in_chunk3", b"\x00" + cut)
        save(harness, "fixcrc", b"\x01" + full)
    save("bitstream", "strict_cut", b"\x02" + cut)
    save("codec", "iterations2", b"\x04" + full)
    save("codec", "progressive", b"\x08" + full)
    # tiled files (32x32 tiles: 2x3 of them), in both entropy modes
    from tfrnncomp.codec import Codec

    tiled_codec = Codec(codec.model, max_pixels=codec.max_pixels, tile=32)
    for mode in MODES:
        tiled = tiled_codec.compress(image_for(40, 70, False, 2), 2, entropy=mode)
        assert tiled_codec.decompress(tiled).shape == (40, 70, 3)
        for harness in ("bitstream", "codec"):
            save(harness, f"tiled32_{mode}_it2", b"\x00" + tiled)
    count["binaryrnn"] = binaryrnn_seeds(args.out)
    print(", ".join(f"{n} {h} inputs" for h, n in count.items()), "written to", args.out)


def binaryrnn_seeds(out):
    """Chunks of the shipped BinaryRNN (iterations 1-3 of random codes; some adaptive)."""
    from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder

    net = harnesses._binaryrnn_net()
    depth, count = net.config["bits"], 0
    rng = np.random.default_rng(1)
    for h, w in [(1, 1), (3, 5), (8, 2), (8, 8)]:
        codes = rng.choice(np.array([-1, 1], np.int8), size=(3, h, w, depth))
        active = rng.random((3, h, w)) < 0.7
        active[:2] = True  # the harness gives earlier iterations as signs (all active)
        for mask in (None, active):
            payloads = binaryrnn_coder.encode(net, harnesses._table(), codes, mask)
            kept = codes if mask is None else codes * mask[..., None]
            for t, payload in enumerate(payloads):
                previous = [kept[u] for u in (t - 1, t - 2) if u >= 0]
                stem = f"{h}x{w}_t{t + 1}" + ("_adaptive" if mask is not None else "")
                data = harnesses.binaryrnn_input((h, w), t, payload, previous,
                                                 None if mask is None else mask[t])
                shape, t_, prev, act, rest = harnesses.parse_binaryrnn_input(data, depth)
                decoded = binaryrnn_coder.decode_iteration(net, harnesses._table(), rest, t_,
                                                           prev, shape, act)
                assert (decoded == kept[t]).all(), stem  # the seed decodes exactly
                _save(os.path.join(out, "binaryrnn"), stem, data)
                count += 1
    return count


if __name__ == "__main__":
    main()
