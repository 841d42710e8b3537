"""The BinaryRNN as an integer network: the portable probability path of entropy mode
``binaryrnn`` (Toderici et al. 2017, Section 3; Balle et al. 2019, "Integer networks").

Every value on the path from code bits to range-coder table indices is an
integer, computed with integer multiply, add, arithmetic right shift with
rounding, clamp and table lookup; no runtime evaluates a transcendental
function.  The arithmetic is specified in ``BINARYRNN.md`` (next to this file)
so that other runtimes (the Java port) derive the same indices bit for bit.

Matrix products run as float32 BLAS calls on integer operands, split over the
inputs so that every partial sum is an integer below 2**24 in magnitude
(:func:`_float32_plan` checks it from the stored weights), so float32 represents
all of them exactly and the result does not depend on the summation order; the
chunks are added in int64 (accumulators stay below 2**31,
:func:`accumulator_bounds`).  ``exact=True`` uses int64
NumPy products instead (slow; tests compare both).

The net is row-causal: row ``y`` of iteration ``t`` is predicted from rows
``< y`` of ``t`` and from iterations ``t-1``, ``t-2`` (progressive variant).
"""

import hashlib
import json
import struct

import numpy as np

from tfrnncomp.errors import ModelMismatchError, TfrnncompError, shown_id

MAGIC = b"TRBN"
VERSION = 1
FORMAT = "tfrnncomp-binaryrnn-int"
# fixed-point formats (BINARYRNN.md, "Number formats")
GATE_FRAC = 8          # gate pre-activations and logits: value * 2**8
GATE_MAX = 2048        # gate pre-activations clamped to +-8.0
LOGIT_MAX = 3072       # logits clamped to +-12.0
UNIT_FRAC = 15         # sigmoid / tanh table values: value * 2**15
CELL_FRAC = 11         # LSTM cell state: value * 2**11
CELL_MAX = 1 << 15     # clamped to +-16.0
STATE_FRAC = 10        # LSTM output h: value * 2**10, |h| <= 1024
ACT_MAX = 2047         # features and hidden activations: 12-bit
_DTYPES = {1: np.dtype(">i1"), 4: np.dtype(">i4")}
ARRAYS = ("masked_w", "masked_b", "masked_m", "previous_w", "iteration_b", "previous_m",
          "lstm_x_w", "lstm_x_b", "lstm_x_m", "lstm_h_w", "lstm_h_m", "hidden_w", "hidden_b",
          "hidden_m", "logits_w", "logits_b", "logits_m", "sigmoid_lut", "tanh_lut",
          "cdf0_lut", "group_w", "group_m")


#: the largest |input| of each layer, by construction: codes by 1, features and hidden
#: activations by ACT_MAX, LSTM outputs by 2**STATE_FRAC
INPUT_PEAKS = {"masked": 1, "previous": 1, "lstm_x": ACT_MAX, "lstm_h": 1 << STATE_FRAC,
               "hidden": 1 << STATE_FRAC, "logits": ACT_MAX, "group": 1}
FLOAT32_EXACT = 1 << 24  # float32 represents every integer below this exactly


def _float32_plan(w, peak):
    """Split a layer's inputs into chunks whose float32 products are exact.

    A chunk qualifies when ``peak * sum|w|`` over its inputs stays below 2**24 for
    every output: then every product and partial sum is an integer that float32
    represents exactly, whatever the BLAS summation order; chunk results are added
    in int64.  Returns ``[(lo, hi, weights)]`` (float64 weights if no split works).
    """
    w = w.reshape(-1, w.shape[-1])
    for chunks in range(1, w.shape[0] + 1):
        edges = np.linspace(0, w.shape[0], chunks + 1).astype(int)
        if all(peak * np.abs(w[lo:hi]).sum(axis=0).max() < FLOAT32_EXACT
               for lo, hi in zip(edges[:-1], edges[1:])):
            return [(lo, hi, w[lo:hi].astype(np.float32))
                    for lo, hi in zip(edges[:-1], edges[1:])]
    return [(0, w.shape[0], w.astype(np.float64))]


def zero_pad(x, pads):
    """``np.pad`` with zeros, ``pads`` one ``(before, after)`` pair per axis (faster)."""
    out = np.zeros(tuple(n + a + b for n, (a, b) in zip(x.shape, pads)), x.dtype)
    out[tuple(slice(a, a + n) for n, (a, _) in zip(x.shape, pads))] = x
    return out


def requantize(acc, multiplier, shift):
    """``(acc * multiplier + 2**(shift-1)) >> shift`` in int64 (round half up)."""
    return (acc * multiplier + (1 << (shift - 1))) >> shift


class IntegerNet:
    """Integer BinaryRNN weights, tables and the meta data binding them to a codec model."""

    def __init__(self, arrays, meta):
        self.meta = dict(meta)
        self.arrays = {name: np.asarray(arrays[name]).astype(np.int64) for name in ARRAYS
                       if name in arrays}
        self.config = self.meta["config"]
        self.progressive = bool(self.config["progressive"])
        self.groups = int(self.config.get("depth_groups", 1))
        self._check_groups()
        self.shifts = self.meta["shifts"]
        self._plans = {f"{layer}_w": _float32_plan(self.arrays[f"{layer}_w"], peak)
                       for layer, peak in INPUT_PEAKS.items() if f"{layer}_w" in self.arrays}
        self.entropy_id = self.meta.get("entropy_id")

    def _check_groups(self):
        bits = int(self.config["bits"])
        if self.groups < 1 or bits % self.groups:
            raise TfrnncompError(f"BinaryRNN integer model: depth_groups {self.groups} does not "
                                 f"divide {bits} bits")
        if (self.groups > 1) != ("group_w" in self.arrays):
            raise TfrnncompError("BinaryRNN integer model: group weights do not match "
                                 "depth_groups")
        if self.groups > 1:
            group = np.arange(bits) // (bits // self.groups)
            if np.any(self.arrays["group_w"][group[:, None] >= group[None, :]]):
                raise TfrnncompError("BinaryRNN integer model: a depth group sees its own or "
                                     "later bits")

    @property
    def group_size(self):
        """Bits per depth group (the bits a decoder decodes per range-decoder call and x)."""
        return int(self.config["bits"]) // self.groups

    @property
    def codec_model_id(self):
        return self.meta["codec_model_id"]

    # -- serialization ------------------------------------------------------------
    def to_bytes(self):
        meta = {k: v for k, v in self.meta.items() if k != "entropy_id"}
        text = json.dumps(meta, sort_keys=True).encode("utf-8")
        parts = [MAGIC, bytes((VERSION,)), struct.pack(">I", len(text)), text,
                 struct.pack(">H", len(self.arrays))]
        for name in ARRAYS:
            if name not in self.arrays:
                continue
            value = self.arrays[name]
            code = 1 if name.endswith("_w") else 4
            parts += [bytes((len(name),)), name.encode("ascii"), bytes((code, value.ndim)),
                      struct.pack(f">{value.ndim}I", *value.shape),
                      value.astype(_DTYPES[code]).tobytes()]
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data):
        data = bytes(data)
        if data[:4] != MAGIC or len(data) < 11 or data[4] != VERSION:
            raise TfrnncompError("not a BinaryRNN integer model (bad magic or version)")
        size = struct.unpack_from(">I", data, 5)[0]
        meta = json.loads(data[9:9 + size].decode("utf-8"))
        pos = 9 + size
        count = struct.unpack_from(">H", data, pos)[0]
        pos += 2
        arrays = {}
        for _ in range(count):
            length = data[pos]
            name = data[pos + 1:pos + 1 + length].decode("ascii")
            pos += 1 + length
            code, ndim = data[pos], data[pos + 1]
            shape = struct.unpack_from(f">{ndim}I", data, pos + 2)
            pos += 2 + 4 * ndim
            dtype = _DTYPES[code]
            nbytes = int(np.prod(shape)) * dtype.itemsize
            arrays[name] = np.frombuffer(data, dtype, int(np.prod(shape)), pos).reshape(shape)
            pos += nbytes
        if pos != len(data):
            raise TfrnncompError("BinaryRNN integer model has trailing bytes")
        meta["entropy_id"] = entropy_id_of(data)
        return cls(arrays, meta)

    @classmethod
    def load(cls, path):
        with open(path, "rb") as handle:
            return cls.from_bytes(handle.read())

    # -- layers (BINARYRNN.md, "Layers") ---------------------------------------------
    def _matmul(self, x, name, exact):
        if exact:
            return np.matmul(x, self.arrays[name].reshape(-1, self.arrays[name].shape[-1]))
        out = None
        for lo, hi, w in self._plans[name]:
            part = np.matmul(x[:, lo:hi].astype(w.dtype), w).astype(np.int64)
            out = part if out is None else out + part
        return out

    def _taps(self, padded, rows, row0, count, kernel_w, name, exact):
        """Sum over taps (r, k) of padded[:, row0 + r + i, k + j] @ w[r, k] for i < count."""
        w = self.arrays[name]
        width = padded.shape[2] - kernel_w + 1
        patches = [padded[:, row0 + r:row0 + r + count, k:k + width]
                   for r in range(rows) for k in range(kernel_w)]
        stacked = np.concatenate(patches, axis=-1)  # [N, count, w, rows*kernel_w*cin]
        shape = stacked.shape
        out = self._matmul(stacked.reshape(-1, shape[-1]), name, exact)
        return out.reshape(shape[:-1] + (w.shape[-1],))

    def pad_codes(self, codes):
        """Codes ``[N, h, w, b]`` zero padded for :meth:`masked_acc_padded`."""
        rows, half = self.config["masked_rows"], self.config["masked_width"] // 2
        return zero_pad(codes, ((0, 0), (rows, 0), (half, half), (0, 0)))

    def masked_acc_padded(self, padded, row0, count, exact=False):
        """Masked-conv accumulators of rows ``row0 .. row0+count-1`` from padded codes."""
        # output row y covers padded rows y .. y+rows-1 = code rows y-rows .. y-1
        return self._taps(padded, self.config["masked_rows"], row0, count,
                          self.config["masked_width"], "masked_w", exact) + \
            self.arrays["masked_b"]

    def masked_acc(self, codes, row0, count, exact=False):
        """Masked-conv accumulators of rows ``row0 .. row0+count-1`` from codes ``[N,h,w,b]``."""
        return self.masked_acc_padded(self.pad_codes(codes), row0, count, exact)

    def previous_acc(self, previous, iterations, exact=False):
        """Earlier-iterations conv accumulators (+ iteration bias) ``[N,h,w,C]``."""
        k = self.config["previous_kernel"]
        half = k // 2
        padded = zero_pad(previous, ((0, 0), (half, half), (half, half), (0, 0)))
        acc = self._taps(padded, k, 0, previous.shape[1], k, "previous_w", exact)
        t = np.minimum(np.asarray(iterations), self.config["iterations"]) - 1
        return acc + self.arrays["iteration_b"][t][:, None, None, :]

    def features(self, masked_acc, previous_acc):
        s = self.shifts
        x = requantize(masked_acc, self.arrays["masked_m"], s["masked"])
        if previous_acc is not None:
            x = x + requantize(previous_acc, self.arrays["previous_m"], s["previous"])
        return np.clip(x, -ACT_MAX, ACT_MAX)

    def gates_x(self, x, exact=False):
        """Input-to-state part of the gate pre-activations, at Q8, ``[N, rows, w, 4C]``."""
        half = self.config["lstm_kernel"] // 2
        padded = zero_pad(x, ((0, 0), (0, 0), (half, half), (0, 0)))
        acc = self._taps(padded, 1, 0, x.shape[1], self.config["lstm_kernel"], "lstm_x_w",
                         exact) + self.arrays["lstm_x_b"]
        return requantize(acc, self.arrays["lstm_x_m"], self.shifts["lstm_x"])

    def lstm_step(self, gx, h, c, exact=False):
        """One row of the line LSTM: ``gx [N,w,4C]``, state ``h, c [N,w,C]`` -> ``h, c``."""
        half = self.config["lstm_kernel"] // 2
        padded = zero_pad(h[:, None], ((0, 0), (0, 0), (half, half), (0, 0)))
        acc = self._taps(padded, 1, 0, 1, self.config["lstm_kernel"], "lstm_h_w", exact)[:, 0]
        z = np.clip(gx + requantize(acc, self.arrays["lstm_h_m"], self.shifts["lstm_h"]),
                    -GATE_MAX, GATE_MAX) + GATE_MAX
        units = h.shape[-1]
        sig, tanh = self.arrays["sigmoid_lut"], self.arrays["tanh_lut"]
        i, f, o = (sig[z[..., n * units:(n + 1) * units]] for n in range(3))
        g = tanh[z[..., 3 * units:]]
        total = ((f * c) << 4) + i * g  # both Q30 (Q15 * Q11 << 4, Q15 * Q15)
        c = np.clip((total + (1 << 18)) >> 19, -CELL_MAX, CELL_MAX)
        tc = tanh[np.clip((c + 4) >> 3, -GATE_MAX, GATE_MAX) + GATE_MAX]
        h = (o * tc + (1 << 19)) >> 20
        return h, c

    def head(self, h, exact=False):
        """Requantized logits ``[..., bits]`` from LSTM outputs (before the depth-group
        term and the clamp)."""
        s, a = self.shifts, self.arrays
        shape = h.shape[:-1]
        acc = self._matmul(h.reshape(-1, h.shape[-1]), "hidden_w", exact) + a["hidden_b"]
        y = np.clip(requantize(acc, a["hidden_m"], s["hidden"]), 0, ACT_MAX)
        acc = self._matmul(y, "logits_w", exact) + a["logits_b"]
        return requantize(acc, a["logits_m"], s["logits"]).reshape(shape + (-1,))

    def indices(self, head, codes=None, exact=False, bits=slice(None)):
        """Table indices (``cdf0 - 1``, P(bit = 0) = cdf0 / 4096) of the bits ``bits`` (whole
        depth groups; default all) of :meth:`head`'s logits ``[..., D]`` plus, with depth
        groups, the term of the same positions' ``codes`` ``[..., D]``; only bits of earlier
        groups count, so a decoder may pass the codes decoded so far."""
        logit = head[..., bits]
        if self.groups > 1:
            shape = codes.shape
            acc = self._matmul(codes.reshape(-1, shape[-1]), "group_w", exact)[:, bits]
            logit = logit + requantize(acc, self.arrays["group_m"][bits],
                                       self.shifts["group"]).reshape(logit.shape)
        logit = np.clip(logit, -LOGIT_MAX, LOGIT_MAX)
        return self.arrays["cdf0_lut"][logit + LOGIT_MAX] - 1

    def group_bits(self):
        """The slices of the depth groups' bits, in coding order."""
        size = self.group_size
        return [slice(lo, lo + size) for lo in range(0, int(self.config["bits"]), size)]


def entropy_id_of(data):
    """``binaryrnn@<first 8 hex digits of the SHA-256 of the integer model file>``."""
    return f"binaryrnn@{hashlib.sha256(bytes(data)).hexdigest()[:8]}"


def check_binding(net, codec_model_id, file_entropy_id=None):
    """Refuse an entropy model trained for another codec model, or not the file's one."""
    if net.codec_model_id != codec_model_id:
        raise ModelMismatchError(f"entropy model {shown_id(net.entropy_id)} belongs to codec "
                                 f"model {shown_id(net.codec_model_id)}, not "
                                 f"{shown_id(codec_model_id)}")
    if file_entropy_id is not None and file_entropy_id != net.entropy_id:
        raise ModelMismatchError(f"file was entropy-coded with {shown_id(file_entropy_id)}, "
                                 f"this codec has {shown_id(net.entropy_id)}")


def accumulator_bounds(net):
    """Per layer: the largest ``|accumulator|`` any input can produce, and the largest
    ``|acc * m + 2**(s-1)|`` of its requantization, from the stored weights.

    Inputs are bounded by construction: codes by 1, features and hidden
    activations by :data:`ACT_MAX`, LSTM outputs by ``2**STATE_FRAC``.
    """
    a = net.arrays
    biases = {"masked": "masked_b", "previous": "iteration_b", "lstm_x": "lstm_x_b",
              "lstm_h": None, "hidden": "hidden_b", "logits": "logits_b", "group": None}
    out = {}
    for layer, bias in biases.items():
        peak = INPUT_PEAKS[layer]
        if f"{layer}_w" not in a:
            continue
        w = a[f"{layer}_w"]
        acc = peak * np.abs(w.reshape(-1, w.shape[-1])).sum(axis=0)
        if bias is not None:
            acc = acc + np.abs(a[bias]).reshape(-1, w.shape[-1]).max(axis=0)
        product = acc * np.abs(a[f"{layer}_m"]) + (1 << (net.shifts[layer] - 1))
        out[layer] = {"accumulator": int(acc.max()), "product": int(product.max())}
    return out
