"""Writes the golden test vectors of entropy mode ``binaryrnn`` for a port of the integer
BinaryRNN (spec: ``tfrnncomp/entropy/BINARYRNN.md``).

Run from the repository root (under a minute on a CPU)::

    PYTHONPATH=. python android_demo/codec-core/tools/make_binaryrnn_vectors.py

Output (``src/test/resources/vectors_binaryrnn/``):

``index.txt``
    tab-separated lines ``kind``, file name, ``key=value`` fields (as ``make_vectors.py``).
    Kind ``model``: an integer model file (``*.bin``, format in BINARYRNN.md section 5) and
    its ``entropy_id``.  Kind ``binaryrnn``: a ``.npz`` holding ``codes`` int8
    ``[T, h, w, 32]`` (0 = inactive), ``active`` bool ``[T, h, w]``, ``indices`` int32
    (the table index of every bit, -1 where inactive), ``features`` and ``lstm_h`` int32
    ``[T, h, w, C]`` (X and H of section 3) and ``chunk_<t>`` uint8 (the range-coded chunk of
    iteration t, 0-based); fields name the model file.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_OUT = os.path.join(HERE, "..", "src", "test", "resources", "vectors_binaryrnn")

sys.path[:0] = [ROOT, HERE]


def structured(rng, t, h, w, flip=0.15):
    base = rng.random((1, 1, w, 32)) < 0.3
    return np.where(base ^ (rng.random((t, h, w, 32)) < flip), 1, -1).astype(np.int8)


def tiny_net(progressive, seed, codec_model_id="tiny@00000000", depth_groups=1):
    import tensorflow as tf

    from tfrnncomp.entropy.training import binaryrnn
    from tfrnncomp.entropy.training.quantize import quantize

    tf.keras.utils.set_random_seed(seed)  # Keras 3 initializers ignore tf.random.set_seed
    model = binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=8, progressive=progressive,
                                                            depth_groups=depth_groups))
    rng = np.random.default_rng(seed)
    if progressive:
        model.embedding.embeddings.assign(rng.normal(0, 0.3, (16, 8)))
    if depth_groups > 1:
        model.depth_group.kernel.assign(rng.normal(0, 1.0, (32, 32)))
    return quantize(model, [structured(np.random.default_rng(seed), 4, 5, 6)], codec_model_id)


def write_case(w, name, net, model_file, codes, active=None):
    from tfrnncomp.entropy.coding import binaryrnn as binaryrnn_coder, rangecoder

    table = rangecoder.BinaryTable()
    trace = {}
    indices = binaryrnn_coder.indices_for(net, codes, active, trace=trace)
    chunks = binaryrnn_coder.encode(net, table, codes, active)
    mask = np.ones(codes.shape[:3], bool) if active is None else active
    decoded = binaryrnn_coder.decode(net, table, chunks, codes.shape[1:], active)
    assert np.array_equal(decoded, codes * mask[..., None])
    arrays = {"codes": decoded, "active": mask,
              "indices": np.where(mask[..., None], indices, -1).astype(np.int32),
              "features": trace["features"].astype(np.int32),
              "lstm_h": trace["lstm_h"].astype(np.int32)}
    arrays.update({f"chunk_{t}": np.frombuffer(c, np.uint8) for t, c in enumerate(chunks)})
    w.entry("binaryrnn", w.npz(name, **arrays), model=model_file,
            shape=",".join(str(v) for v in codes.shape),
            chunk_bytes=",".join(str(len(c)) for c in chunks))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT,
                        help="folder of the vectors, replaced whole (refused if it holds "
                        "anything else)")
    args = parser.parse_args()
    from tfrnncomp.model import zoo
    from tfrnncomp.entropy.coding.integer_net import IntegerNet
    from vector_writer import vector_folder

    rng = np.random.default_rng(20261122)
    models = {"tiny_progressive.bin": tiny_net(True, 1), "tiny_plain.bin": tiny_net(False, 2),
              "tiny_grouped.bin": tiny_net(True, 3, depth_groups=4)}
    shipped = zoo.entropy_model_path()
    if shipped:
        models["shipped.bin"] = IntegerNet.load(shipped)
    with vector_folder(args.out, "make_binaryrnn_vectors.py") as w:
        for file, net in models.items():
            w.entry("model", w.blob(file, net.to_bytes()), entropy_id=net.entropy_id,
                    codec_model_id=net.codec_model_id)
        for file, net in models.items():
            stem = file[:-4]
            write_case(w, f"{stem}_random.npz", net, file,
                       np.where(rng.random((3, 4, 5, 32)) < 0.5, 1, -1).astype(np.int8))
            write_case(w, f"{stem}_structured.npz", net, file, structured(rng, 4, 6, 7))
            write_case(w, f"{stem}_one.npz", net, file, structured(rng, 2, 1, 1))
            codes = structured(rng, 3, 5, 6)
            write_case(w, f"{stem}_active.npz", net, file, codes,
                       rng.random(codes.shape[:3]) < 0.6)
    print(f"wrote {len(w.lines)} vectors ({w.size / 1024:.0f} KiB) to {os.path.abspath(args.out)}")


if __name__ == "__main__":
    main()
