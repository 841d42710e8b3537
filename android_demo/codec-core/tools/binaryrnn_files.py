"""Whole ``.trc`` files of entropy mode ``binaryrnn`` for the Java tests (called by
``make_vectors.py``; spec: ``tfrnncomp/entropy/BINARYRNN.md``).

A tiny, randomly initialized progressive BinaryRNN is quantized and bound to the
tiny test codec model; :class:`tfrnncomp.Codec` writes a file with it.  Kinds:

``binaryrnnmodel``
    an integer model file (``*.bin``) with its ``entropy_id`` and ``codec_model_id``.
``trcbinaryrnn``
    a file, the model file the decoder is given, and what Python makes of it: ``decode=ok``
    with ``codes`` (an ``.npz``) and the iterations, or ``error`` (class) and ``message``.
"""

import dataclasses
import os
import struct
import zlib

import numpy as np

from tfrnncomp.format import container as bs
from tfrnncomp.errors import TfrnncompError

TAG = 3  # header extension: the entropy model id


def tiny_binaryrnn(codec_model_id, codes, seed):
    """A tiny progressive BinaryRNN (8 channels), quantized on ``codes``."""
    import tensorflow as tf

    from tfrnncomp.entropy.training import binaryrnn
    from tfrnncomp.entropy.training.quantize import quantize

    tf.keras.utils.set_random_seed(seed)  # Keras 3 initializers ignore tf.random.set_seed
    model = binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=8, progressive=True))
    model.embedding.embeddings.assign(np.random.default_rng(seed).normal(0, 0.3, (16, 8)))
    return quantize(model, [codes], codec_model_id)


def _outcome(codec, data):
    """``("ok", codes)`` or ``("error", class name, message)`` of Python's decode."""
    try:
        container = codec.read(data)
        return "ok", codec.decode_chunks(container.header, container.chunks).astype(np.int8)
    except TfrnncompError as error:
        return "error", type(error).__name__, str(error)


def _with_extension(data, value):
    """``data`` with header extension 3 replaced (header CRC fixed)."""
    container = bs.read(data)
    header = container.header
    extensions = dict(header.extensions.items())
    extensions.pop(TAG)
    if value is not None:
        extensions[TAG] = value
    return bs.write(dataclasses.replace(header, extensions=extensions), container.chunks)


def _corrupt_chunk(data, index, offset):
    """Flip one payload byte of chunk ``index`` and fix that chunk's CRC."""
    header, pos = bs.decode_header(data)
    out = bytearray(data)
    for i in range(index):
        pos += 8 + struct.unpack_from(">I", data, pos)[0]
    size = struct.unpack_from(">I", data, pos)[0]
    out[pos + 4 + offset] ^= 0x5A
    payload = bytes(out[pos + 4:pos + 4 + size])
    out[pos + 4 + size:pos + 8 + size] = struct.pack(">I", zlib.crc32(payload,
                                                                       zlib.crc32(bytes((index,)))))
    return bytes(out)


def binaryrnn_file_vectors(w, tiny_model, image):
    """Files of the tiny codec with a tiny BinaryRNN; ``w`` is make_vectors' Writer."""
    from tfrnncomp.codec import Codec

    base = Codec(tiny_model, entropy_model=None)
    codes, _ = base.encode_codes(image, 4)
    nets = {"tiny_binaryrnn.bin": tiny_binaryrnn(base.model_id, codes, 7),
            "tiny_binaryrnn_other.bin": tiny_binaryrnn(base.model_id, codes, 8),
            "tiny_binaryrnn_foreign.bin": tiny_binaryrnn("tiny@00000000", codes, 7)}
    codecs = {}
    for name, net in nets.items():
        w.entry("binaryrnnmodel", w.blob(name, net.to_bytes()), entropy_id=net.entropy_id,
                codec_model_id=net.codec_model_id)
        codecs[name] = Codec(tiny_model, entropy_model=net)
    codec = codecs["tiny_binaryrnn.bin"]
    data = codec.compress(image, iterations=4, entropy="binaryrnn")
    assert np.array_equal(_outcome(codec, data)[1], codes), "binaryrnn round trip"
    header_end = bs.decode_header(data)[1]
    chunk2 = header_end + 8 + struct.unpack_from(">I", data, header_end)[0]
    chunk3 = chunk2 + 8 + struct.unpack_from(">I", data, chunk2)[0]
    files = [("tiny_binaryrnn_40x50", data, "tiny_binaryrnn.bin"),
             ("binaryrnn_cut_2", data[:chunk3 + 3], "tiny_binaryrnn.bin"),
             ("binaryrnn_other_model", data, "tiny_binaryrnn_other.bin"),
             ("binaryrnn_foreign_model", data, "tiny_binaryrnn_foreign.bin"),
             ("binaryrnn_wrong_id", _with_extension(data, b"binaryrnn@00000000"),
              "tiny_binaryrnn.bin"),
             ("binaryrnn_no_id", _with_extension(data, None), "tiny_binaryrnn.bin")]
    for offset in (0, 5):
        files.append((f"binaryrnn_chunk2_byte{offset}", _corrupt_chunk(data, 1, offset),
                      "tiny_binaryrnn.bin"))
    for name, blob, model in files:
        result = _outcome(codecs[model], blob)
        fields = {"model": model, "model_id": base.model_id}
        if result[0] == "ok":
            fields.update(decode="ok", iterations=len(result[1]),
                          codes=w.npz(name + ".npz", codes=result[1]))
        else:
            fields.update(decode="error", error=result[1], message=result[2])
        w.entry("trcbinaryrnn", w.blob(name + ".trc", blob), **fields)


def shipped_binaryrnn_vector(w, shipped, root):
    """A file of the shipped codec and its shipped BinaryRNN for a 96x128 crop of Kodak
    image 23 (``../shared/data/kodak``), or of a synthetic image when that is absent."""
    from tfrnncomp.codec import image_io

    path = os.path.join(root, "..", "shared", "data", "kodak", "kodim23.png")
    if os.path.isfile(path):
        image, source = image_io.to_array(path)[0][160:256, 320:448], "kodim23[160:256,320:448]"
    else:
        from tests.helpers import smooth_image

        image, source = smooth_image(96, 128, seed=4), "smooth_image(96,128,seed=4)"
    data = shipped.compress(image, iterations=8, entropy="binaryrnn")
    kind, codes = _outcome(shipped, data)
    assert kind == "ok", codes
    from tfrnncomp.model import zoo

    with open(zoo.entropy_model_path(), "rb") as handle:
        model = w.blob("shipped_binaryrnn.bin", handle.read())
    w.entry("binaryrnnmodel", model, entropy_id=shipped.entropy_net.entropy_id,
            codec_model_id=shipped.entropy_net.codec_model_id)
    w.entry("trcbinaryrnn", w.blob("shipped_binaryrnn_96x128.trc", data), model=model,
            model_id=shipped.model_id, decode="ok", iterations=len(codes),
            codes=w.npz("shipped_binaryrnn_96x128.npz", codes=codes), image=source)
