"""Range coding with the integer BinaryRNN (entropy mode ``binaryrnn``, Toderici et al. 2017,
Section 3).

Each iteration is its own range-coded stream, conditioned on the earlier
iterations' codes, so a file cut after chunk ``k`` decodes ``k`` iterations.
The encoder computes every table index at once (the line LSTM runs
sequentially over rows, batched over iterations); the decoder runs the
integer net one code row at a time and decodes each row with one
range-decoder call per depth group, because a row's probabilities depend only
on the rows above it, on earlier iterations (row-causal) and, with depth
groups, on the same positions' bits of the earlier groups.  Bits are coded row
by row, within a row group by group, within a group in raster order.

An optional ``active`` mask ``bool[T, h, w]`` says which positions each
iteration codes: inactive positions are not coded, enter the network as 0,
and decode to 0.  ``active=None`` codes everything.
"""

import numpy as np

from tfrnncomp.entropy.coding import rangecoder
from tfrnncomp.errors import BitstreamError
from tfrnncomp.format.container import EntropyMode

ROW_BLOCK = 8  # code rows of im2col at once on the encoder side (bounds memory)


def _as_codes(codes, active):
    codes = np.asarray(codes).astype(np.int64)
    if codes.ndim != 4:
        raise ValueError("codes must be an array of shape (T, h, w, bits)")
    if active is not None:
        active = np.asarray(active, bool)
        if active.shape != codes.shape[:3]:
            raise ValueError(f"active mask must have shape {codes.shape[:3]}, got {active.shape}")
        codes = codes * active[..., None]  # inactive positions (0 in adaptive files) are not coded
    coded = codes if active is None else codes[active]
    if not np.isin(coded, (-1, 1)).all():
        raise ValueError("coded positions must hold codes -1/+1")
    return codes, active


def previous_codes(codes, t):
    """``concat(c_{t-1}, c_{t-2})`` of 0-based iteration ``t`` (zeros where absent)."""
    zeros = np.zeros(codes.shape[1:], np.int64)
    prev1 = codes[t - 1] if t >= 1 else zeros
    prev2 = codes[t - 2] if t >= 2 else zeros
    return np.concatenate([prev1, prev2], axis=-1)


def indices_for(net, codes, active=None, exact=False, trace=None):
    """Table indices ``int64[T, h, w, bits]`` of every bit (encoder side, vectorized).

    A ``trace`` dict receives the intermediate integers (test vectors for other runtimes):
    ``features`` X and ``lstm_h`` H, both ``[T, h, w, C]``.
    """
    codes, _ = _as_codes(codes, active)
    count, h = codes.shape[:2]
    previous = None
    if net.progressive:
        previous = np.stack([previous_codes(codes, t) for t in range(count)])
    half = net.config["previous_kernel"] // 2
    pieces = []
    for y0 in range(0, h, ROW_BLOCK):
        rows = min(ROW_BLOCK, h - y0)
        pacc = None
        if previous is not None:
            # the slice's zero padding is only used by rows that are cut away again
            lo, hi = max(0, y0 - half), min(h, y0 + rows + half)
            pacc = net.previous_acc(previous[:, lo:hi], np.arange(1, count + 1), exact)
            pacc = pacc[:, y0 - lo:y0 - lo + rows]
        x = net.features(net.masked_acc(codes, y0, rows, exact), pacc)
        if trace is not None:
            trace.setdefault("features", []).append(x)
        pieces.append(net.gates_x(x, exact))
    gates = np.concatenate(pieces, axis=1)
    units = gates.shape[-1] // 4
    state = np.zeros((count, codes.shape[2], units), np.int64)
    cell = state
    outputs = []
    for y in range(h):
        state, cell = net.lstm_step(gates[:, y], state, cell, exact)
        outputs.append(net.indices(net.head(state, exact), codes[:, y], exact))
        if trace is not None:
            trace.setdefault("lstm_h", []).append(state)
    if trace is not None:
        trace["features"] = np.concatenate(trace["features"], axis=1)
        trace["lstm_h"] = np.stack(trace["lstm_h"], axis=1)
    return np.stack(outputs, axis=1)


def code_length(net, codes, active=None):
    """The integer model's ideal code length in bits, per iteration (cross-entropy)."""
    codes_in, active = _as_codes(codes, active)
    cdf0 = (indices_for(net, codes, active) + 1) / float(1 << rangecoder.PRECISION)
    p = np.where(codes_in > 0, 1.0 - cdf0, cdf0)
    bits = -np.log2(p)
    if active is not None:
        bits = bits * active[..., None]
    return bits.sum(axis=(1, 2, 3))


def coding_order(net, values, keep):
    """The coded entries of one iteration's ``values [h, w, bits]`` in coding order: rows,
    then depth groups, then the active positions ``keep [h, w]``, then the group's bits."""
    h, w, bits = values.shape
    size = net.group_size
    grouped = values.reshape(h, w, bits // size, size).transpose(0, 2, 1, 3)
    return grouped[np.broadcast_to(keep[:, None, :], grouped.shape[:3])]


def encode(net, table, codes, active=None):
    """Range-coded payloads (bytes), one per iteration, of codes ``[T, h, w, bits]``."""
    masked, active = _as_codes(codes, active)
    indices = indices_for(net, codes, active)
    bits = (masked > 0).astype(np.int32)
    payloads = []
    for t in range(len(bits)):
        keep = np.ones(bits.shape[1:3], bool) if active is None else active[t]
        payloads.append(rangecoder.encode(table, coding_order(net, indices[t], keep),
                                          coding_order(net, bits[t], keep)))
    return payloads


def decode_iteration(net, table, payload, t, previous, shape, active=None):
    """Decode 0-based iteration ``t`` (``shape = (h, w, bits)``) given ``previous``
    ``= concat(c_{t-1}, c_{t-2})`` ``int64[h, w, 2 bits]``; codes in {-1, 0, +1}."""
    h, w, depth = shape
    rows, half = net.config["masked_rows"], net.config["masked_width"] // 2
    padded = net.pad_codes(np.zeros((1, h, w, depth), np.int64))
    codes = padded[:, rows:, half:half + w]  # a view: decoded rows land in ``padded``
    pacc = net.previous_acc(previous[None], [t + 1]) if net.progressive else None
    units = net.config["channels"]
    state = np.zeros((1, w, units), np.int64)
    cell = state
    decoder = rangecoder.Decoder(table, payload)
    for y in range(h):
        x = net.features(net.masked_acc_padded(padded, y, 1),
                         None if pacc is None else pacc[:, y:y + 1])
        state, cell = net.lstm_step(net.gates_x(x)[:, 0], state, cell)
        head = net.head(state)[0]
        keep = slice(None) if active is None else active[y]
        for bits in net.group_bits():
            indices = net.indices(head, codes[0, y], bits=bits)
            row = decoder.decode(indices[keep]).reshape(-1, bits.stop - bits.start)
            if row.size and (row.min() < 0 or row.max() > 1):
                raise BitstreamError("entropy-coded chunk decodes to invalid symbols")
            codes[0, y, keep, bits] = row * 2 - 1
    if not decoder.finish():
        raise BitstreamError("entropy-coded chunk is inconsistent (range decoder check failed)")
    return codes[0].copy()


def decode(net, table, payloads, shape, active=None):
    """Codes ``int8[T, h, w, bits]`` (0 where inactive) of the payloads of a file."""
    out = np.zeros((len(payloads),) + tuple(shape), np.int64)
    for t, payload in enumerate(payloads):
        mask = None if active is None else np.asarray(active[t], bool)
        out[t] = decode_iteration(net, table, payload, t, previous_codes(out, t), shape, mask)
    return out.astype(np.int8)


class BinaryRNNCoder:
    """The :class:`~tfrnncomp.entropy.coding.Coder` of mode ``binaryrnn`` with one integer
    BinaryRNN ``net``."""

    mode = EntropyMode.BINARYRNN

    def __init__(self, net, table=None):
        self.net = net
        self.table = rangecoder.BinaryTable() if table is None else table

    def encode(self, codes, active=None):
        return encode(self.net, self.table, codes, active)

    def decode(self, chunks, shape, active=None):
        return decode(self.net, self.table, chunks, shape, active)
