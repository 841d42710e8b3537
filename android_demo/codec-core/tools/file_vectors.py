"""Vectors (c) and (d) of make_vectors.py: whole ``.trc`` files of a tiny model (and the shipped
one), then truncated, corrupted and crafted files with what the Python reader says of them."""

import os
import struct
import zlib

import numpy as np

from tfrnncomp.format import container as bs
from tfrnncomp.entropy.coding import context, rangecoder
from tfrnncomp.entropy.coding.context import previous_bits
from tfrnncomp.errors import TfrnncompError
from tests.helpers import TINY_CONFIG, chunk_starts, smooth_image  # the test suite's

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


# --- (c) whole files ---------------------------------------------------------------------

def trc_vector(w, codec, name, image, iterations, entropy):
    import tfrnncomp.codec as codec_module

    data = codec.compress(image, iterations=iterations, entropy=entropy)
    container = codec.read(data)
    codes = codec.decode_chunks(container.header, container.chunks)
    array, _ = __import__("tfrnncomp.codec.image_io", fromlist=["to_array"]).to_array(image)
    ref, _ = codec.encode_codes(array, iterations)
    assert np.array_equal(codes, ref), "Python decode differs from the encoder's codes"
    h = container.header
    w.blob(name + ".trc", data)
    w.npz(name + ".npz", codes=codes.astype(np.int8))
    w.entry("trc", name + ".trc", codes=name + ".npz", model_id=h.model_id, height=h.height,
            width=h.width, channels=h.channels, pad_height=h.pad_height, pad_width=h.pad_width,
            iterations=h.iterations, entropy=h.entropy_mode.name.lower(),
            block_size=h.block_size, code_depth=h.code_depth, bytes=len(data))
    assert codec_module.ENTROPY_MODES[entropy] == h.entropy_mode
    return data, codes


def file_vectors(w, quick):
    import tensorflow as tf

    from tfrnncomp.codec import Codec
    from tfrnncomp.model.network import RNNCompressionModel

    tf.keras.utils.set_random_seed(0)
    codec = Codec(RNNCompressionModel(TINY_CONFIG).build_for_inference())
    files = {}
    image = smooth_image(40, 50, seed=1)
    files["raw"] = trc_vector(w, codec, "tiny_raw_40x50", image, 3, "raw")
    files["context"] = trc_vector(w, codec, "tiny_context_40x50", image, 3, "context")
    trc_vector(w, codec, "tiny_context_100x130", smooth_image(100, 130, seed=2), 4, "context")
    trc_vector(w, codec, "tiny_raw_1x1_grey", np.full((1, 1), 77, np.uint8), 2, "raw")
    noise = np.random.default_rng(5).integers(0, 256, (33, 65, 3), dtype=np.uint8)
    trc_vector(w, codec, "tiny_context_noise_33x65", noise, 5, "context")
    from binaryrnn_files import binaryrnn_file_vectors

    binaryrnn_file_vectors(w, codec.model, image)
    if not quick:
        try:
            shipped = Codec()
        except Exception as error:  # the shipped model is optional here
            print(f"skipping the shipped-model vectors: {error}")
        else:
            trc_vector(w, shipped, "shipped_context_96x128", smooth_image(96, 128, seed=4), 6,
                       "context")
            if shipped.default_entropy == "binaryrnn":
                from binaryrnn_files import shipped_binaryrnn_vector

                shipped_binaryrnn_vector(w, shipped, ROOT)
    return codec, files


# --- (d) truncated and corrupted files -------------------------------------------------------

def _expect(data, max_pixels=bs.DEFAULT_MAX_PIXELS, strict=False):
    try:
        c = bs.read(data, max_pixels=max_pixels, strict=strict)
    except TfrnncompError as error:
        return "error", type(error).__name__, str(error)
    info = bs.info_dict(c)
    return "ok", len(c.chunks), int(c.complete), dict(
        model_id=info["model_id"], entropy=info["entropy_mode"],
        chunk_bytes=",".join(map(str, info["chunk_bytes"])),
        extensions=",".join(f"{k}:{v}" for k, v in info["extensions"].items()))


def _record(w, name, data, source, max_pixels=bs.DEFAULT_MAX_PIXELS, strict=False, expect=None):
    result = _expect(data, max_pixels, strict)
    if expect is not None and result[0] != expect:
        raise AssertionError(f"{name}: expected {expect}, Python gave {result}")
    w.blob(name + ".trc", data)
    common = dict(max_pixels=max_pixels, strict=int(strict))
    if result[0] == "ok":
        container = bs.read(data, max_pixels=max_pixels, strict=strict)
        if container.complete:  # does bitstream.write give these bytes back?
            common["canonical"] = int(bs.write(container.header, container.chunks) == data)
        decoded = _decode_codes(bs.read(data, max_pixels=max_pixels, strict=strict))
        if isinstance(decoded, str):
            common["decode"] = decoded
        else:
            common["decode"] = "ok"
            if not source:
                common["codes"] = w.npz(name + ".codes.npz", codes=decoded)
        w.entry("trcread", name + ".trc", source=source, chunks=result[1], complete=result[2],
                **common, **result[3])
    else:
        w.entry("trcerror", name + ".trc", error=result[1], message=result[2], **common)


def _decode_codes(container):
    """What Codec.decode_chunks makes of a container: int8 codes, or the error message."""
    header = container.header
    try:
        if header.entropy_mode == bs.EntropyMode.RAW:
            return np.stack([bs.unpack_codes(c, header.code_shape) for c in container.chunks])
        if header.entropy_mode == bs.EntropyMode.BINARYRNN and 3 not in header.extensions:
            return "binaryrnn file has no entropy model id (extension 3)"
        if header.entropy_mode != bs.EntropyMode.CONTEXT:
            return (f"entropy mode {header.entropy_mode.name.lower()} is not supported "
                    "by this version")
        table, bits = rangecoder.BinaryTable(), []
        for chunk in container.chunks:
            bits.append(context.decode(table, chunk, header.code_shape,
                                       previous_bits(bits, len(bits))))
        return np.stack(bits).astype(np.int8) * 2 - 1
    except TfrnncompError as error:
        return str(error)


def _reforge(data, offset, new_bytes):
    """Patch header bytes and fix the header CRC so only the patch is wrong."""
    _, end = bs.decode_header(data)
    body = bytearray(data[:end - 4])
    body[offset:offset + len(new_bytes)] = new_bytes
    return bytes(body) + struct.pack(">I", zlib.crc32(bytes(body))) + data[end:]


def _craft(model_id=b"tiny@00000000", version=1, flags=0, fixed=(40, 50, 3, 64, 64, 16, 32, 1, 0),
           ext=b"", chunks=()):
    body = b"TRNC" + bytes((version, flags, len(model_id))) + model_id
    body += struct.pack(">IIBIIBBBBH", *fixed, len(ext)) + ext
    out = body + struct.pack(">I", zlib.crc32(body))
    for i, payload in enumerate(chunks):
        out += struct.pack(">I", len(payload)) + payload
        out += struct.pack(">I", zlib.crc32(payload, zlib.crc32(bytes((i,)))))
    return out


def error_vectors(w, files):
    for mode in ("raw", "context"):
        data, _ = files[mode]
        src = f"tiny_{mode}_40x50.trc"
        starts, end = chunk_starts(data)
        header_end = starts[0]
        pre = f"{mode}_"
        # cuts inside the header
        for cut in sorted({0, 2, 4, 5, 6, 7, 12, header_end // 2, header_end - 1}):
            _record(w, f"{pre}cut_header_{cut}", data[:cut], src, expect="error")
        # cuts inside and between chunks: whole chunks survive (not the first)
        cuts = {header_end, header_end + 3, header_end + 4, starts[1] - 1, starts[1],
                starts[1] + 2, starts[2] - 4, starts[2] - 1, starts[2], starts[2] + 9, end - 1}
        for cut in sorted(cuts):
            _record(w, f"{pre}cut_{cut}", data[:cut], src)
        _record(w, f"{pre}cut_strict", data[:end - 1], src, strict=True, expect="error")
        _record(w, f"{pre}whole_strict", data, src, strict=True, expect="ok")
        _record(w, f"{pre}whole_limit", data, src, max_pixels=64 * 64, expect="ok")
        _record(w, f"{pre}over_limit", data, src, max_pixels=40 * 50 - 1, expect="error")
        _record(w, f"{pre}padded_over_limit", data, src, max_pixels=64 * 64 - 1, expect="error")
        # corruption
        flipped = bytearray(data)
        flipped[starts[1] + 4 + 1] ^= 0x10
        _record(w, f"{pre}chunk2_bitflip", bytes(flipped), src, expect="error")
        flipped = bytearray(data)
        flipped[end - 1] ^= 0x01
        _record(w, f"{pre}chunk3_crc_flip", bytes(flipped), src, expect="error")
        flipped = bytearray(data)
        flipped[10] ^= 0x04
        _record(w, f"{pre}header_bitflip", bytes(flipped), src, expect="error")
        swapped = data[:starts[0]] + data[starts[1]:starts[2]] + data[starts[0]:starts[1]] + \
            data[starts[2]:]
        _record(w, f"{pre}swapped_chunks", swapped, src, expect="error")
        _record(w, f"{pre}trailing_byte", data + b"\0", src, expect="error")
        _record(w, f"{pre}trailing_chunk", data + data[starts[2]:], src, expect="error")
        size_field = bytearray(data)
        size_field[starts[1]:starts[1] + 4] = struct.pack(">I", 0x7FFFFFFF)
        _record(w, f"{pre}huge_chunk_length", bytes(size_field), src, expect="error")
        _record(w, f"{pre}huge_chunk_length_cut", bytes(size_field[:starts[1] + 6]), src,
                expect="error")
        fixed_at = 7 + data[6]
        _record(w, f"{pre}bad_magic", b"TRNX" + data[4:], src, expect="error")
        _record(w, f"{pre}version_2", _reforge(data, 4, b"\x02"), src, expect="error")
        _record(w, f"{pre}version_0", _reforge(data, 4, b"\x00"), src, expect="error")
        _record(w, f"{pre}flags", _reforge(data, 5, b"\x01"), src, expect="error")
        _record(w, f"{pre}entropy_7", _reforge(data, fixed_at + 20, b"\x07"), src, expect="error")
        _record(w, f"{pre}entropy_binaryrnn", _reforge(data, fixed_at + 20, b"\x01"), src)
        _record(w, f"{pre}iterations_2", _reforge(data, fixed_at + 19, b"\x02"), src,
                expect="error")
        _record(w, f"{pre}huge_image", _reforge(data, fixed_at, struct.pack(">II", 50000, 50000)),
                src, expect="error")
    # crafted headers (valid CRC, bad fields)
    pay = bytes(64)  # 4x4x32 bits
    cases = {
        "model_id_empty": dict(model_id=b""),
        "model_id_nonascii": dict(model_id=b"tiny\xff"),
        "model_id_control": dict(model_id=b"ti\x01ny'q\"\\"),
        "model_id_201": dict(model_id=b"m" * 201),
        "model_id_200": dict(model_id=b"m" * 200, chunks=[pay]),
        "height_0": dict(fixed=(0, 50, 3, 64, 64, 16, 32, 1, 0)),
        "width_0": dict(fixed=(40, 0, 3, 64, 64, 16, 32, 1, 0)),
        "channels_2": dict(fixed=(40, 50, 2, 64, 64, 16, 32, 1, 0)),
        "channels_1": dict(fixed=(40, 50, 1, 64, 64, 16, 32, 1, 0), chunks=[pay]),
        "block_0": dict(fixed=(40, 50, 3, 64, 64, 0, 32, 1, 0)),
        "depth_0": dict(fixed=(40, 50, 3, 64, 64, 16, 0, 1, 0)),
        "pad_not_multiple": dict(fixed=(40, 50, 3, 64, 48, 16, 32, 1, 0)),
        "pad_too_small": dict(fixed=(40, 70, 3, 64, 64, 16, 32, 1, 0)),
        "iterations_0": dict(fixed=(40, 50, 3, 64, 64, 16, 32, 0, 0)),
        "iterations_65": dict(fixed=(40, 50, 3, 64, 64, 16, 32, 65, 0)),
        "iterations_64_cut": dict(fixed=(40, 50, 3, 64, 64, 16, 32, 64, 0), chunks=[pay, pay]),
        "u32_sizes_limit": dict(fixed=(0xFFFFFFFF, 1, 3, 0xFFFFFFE0, 32, 16, 32, 1, 0)),
        "ext_ok": dict(ext=b"\x07\x00\x05hello\x01\x00\x00\xc8\x00\x02ab", chunks=[pay]),
        "ext_cut_record": dict(ext=b"\x07\x00"),
        "ext_cut_value": dict(ext=b"\x07\x00\x09hello"),
        "ext_duplicate": dict(ext=b"\x07\x00\x01a\x07\x00\x01b"),
        "raw_chunk_short": dict(chunks=[bytes(63)]),
        "context_chunk_empty": dict(fixed=(40, 50, 3, 64, 64, 16, 32, 1, 2), chunks=[b""]),
        "context_chunk_bound": dict(fixed=(40, 50, 3, 64, 64, 16, 32, 1, 2),
                                    chunks=[bytes(4 * 64 + 1024)]),
        "context_chunk_over_bound": dict(fixed=(40, 50, 3, 64, 64, 16, 32, 1, 2),
                                         chunks=[bytes(4 * 64 + 1025)]),
        "odd_depth_block": dict(fixed=(5, 7, 3, 16, 16, 8, 5, 2, 0),  # 2x2x5 = 20 bits
                                chunks=[b"\xa5\x3c\xf0", b"\x0f\xff\x10"]),
    }
    for name, kwargs in cases.items():
        data = _craft(**kwargs)
        _record(w, f"craft_{name}", data, "")
