"""A portable adaptive context model for the binarizer's codes (entropy mode ``context``).

The paper codes bits with a BinaryRNN (Toderici et al. 2017, Section 3);
this mode is an exact, portable alternative: every
probability is computed with integer arithmetic only, so NumPy, Java and any
other runtime derive the same range-coder indices bit for bit.

Codes of iteration t are coded in raster order (row, column, bit channel).
The context of bit ``c_t(y, x, d)`` is

    (d, c_{t-1}(y, x, d), c_{t-2}(y, x, d), c_t(y - 1, x, d))

with 3 states for each neighbour (0, 1, or absent), 32 * 27 = 864 contexts
for 32 bits.  Probabilities adapt row by row: row y is coded with counts
``n0, n1`` gathered over rows < y of the same iteration (counts restart every
iteration), using the Krichevsky-Trofimov estimator in integers:

    cdf0 = clip(((2 n0 + 1) << 12) // (2 (n0 + n1) + 2), 1, 4095)

Because a row depends only on earlier rows and earlier iterations, the
decoder decodes a whole row per range-decoder call, and iteration t needs
only iterations < t: files stay progressive.

Spatially adaptive files (:mod:`tfrnncomp.format.blockmap`) pass ``active``, a bool
``[h, w]`` mask of the positions coded at this iteration: only their bits are
coded and counted, and an inactive ``up`` neighbour counts as absent.  (An
active position was active at the two earlier iterations too, since the map
is monotone, so its ``c_{t-1}``, ``c_{t-2}`` are real bits.)  Without
``active`` every position is coded, as before.
"""

import numpy as np

from tfrnncomp.entropy.coding import rangecoder
from tfrnncomp.errors import BitstreamError
from tfrnncomp.format.container import EntropyMode

ABSENT = 2
STATES = 3


def num_contexts(depth):
    return depth * STATES ** 3


def _neighbour(previous, shape):
    return np.full(shape, ABSENT, np.int64) if previous is None else previous.astype(np.int64)


def _contexts(up, prev1, prev2, depth):
    channel = np.arange(depth, dtype=np.int64)
    return ((channel * STATES + prev1) * STATES + prev2) * STATES + up


def cdf0_from_counts(n0, n1):
    """Integer KT estimate of P(bit = 0), scaled to ``2**PRECISION``."""
    p = rangecoder.PRECISION
    cdf0 = ((2 * n0 + 1) << p) // (2 * (n0 + n1) + 2)
    return np.clip(cdf0, 1, (1 << p) - 1)


def _check(bits, name):
    if bits.ndim != 3 or not np.isin(bits, (0, 1)).all():
        raise ValueError(f"{name} must be a 0/1 array of shape (h, w, depth)")


def _active(active, shape):
    if active is None:
        return np.ones(shape[:2], bool)
    active = np.asarray(active, bool)
    if active.shape != tuple(shape[:2]):
        raise ValueError(f"active mask has shape {active.shape}, expected {tuple(shape[:2])}")
    return active


def indices_for(bits, previous=(None, None), active=None):
    """Table indices of the coded bits of one iteration (encoder side, vectorized).

    ``[h, w, depth]`` without ``active``; else a flat array over the active positions
    in raster order.
    """
    bits = np.asarray(bits)
    _check(bits, "bits")
    h, w, depth = bits.shape
    mask = _active(active, bits.shape)
    prev1 = _neighbour(previous[0], bits.shape)
    prev2 = _neighbour(previous[1], bits.shape)
    up = np.full(bits.shape, ABSENT, np.int64)
    up[1:] = np.where(mask[:-1, :, None], bits[:-1], ABSENT)
    ctx = _contexts(up, prev1, prev2, depth)  # [h, w, depth]
    n = num_contexts(depth)
    # inactive positions count as an extra symbol 2n that no context reads
    symbols = np.where(mask[:, :, None], ctx * 2 + bits, 2 * n).reshape(h, -1)
    per_row = np.stack([np.bincount(row, minlength=2 * n + 1)[:2 * n] for row in symbols])
    before = np.cumsum(per_row, axis=0) - per_row  # counts over earlier rows
    before = before.reshape(h, n, 2)
    rows = np.arange(h)[:, None, None]
    n0 = before[rows, ctx, 0]
    n1 = before[rows, ctx, 1]
    indices = cdf0_from_counts(n0, n1) - 1
    return indices if active is None else indices[mask].reshape(-1)


def code_length(bits, previous=(None, None), active=None):
    """The model's ideal code length in bits (the cross-entropy of the coded bits)."""
    bits = np.asarray(bits)
    coded = bits if active is None else bits[_active(active, bits.shape)].reshape(-1)
    cdf0 = (indices_for(bits, previous, active) + 1) / float(1 << rangecoder.PRECISION)
    p = np.where(coded == 0, cdf0, 1.0 - cdf0)
    return float(-np.log2(p).sum())


def encode(table, bits, previous=(None, None), active=None):
    """Range-code one iteration's 0/1 codes ``[h, w, depth]`` given earlier iterations
    (only the positions of ``active``, if given)."""
    bits = np.asarray(bits)
    coded = bits if active is None else bits[_active(active, bits.shape)]
    return rangecoder.encode(table, indices_for(bits, previous, active), coded)


def decode(table, payload, shape, previous=(None, None), active=None):
    """Decode one iteration's 0/1 codes of ``shape`` given the earlier iterations' codes.

    With ``active``, only those positions are decoded; the others are 0.
    """
    h, w, depth = shape
    mask = _active(active, shape)
    prev1 = _neighbour(previous[0], shape)
    prev2 = _neighbour(previous[1], shape)
    counts = np.zeros((num_contexts(depth), 2), np.int64)
    out = np.zeros(shape, np.uint8)
    decoder = rangecoder.Decoder(table, payload)
    up = np.full((w, depth), ABSENT, np.int64)
    for y in range(h):
        ctx = _contexts(up, prev1[y], prev2[y], depth)[mask[y]]
        row = np.zeros((w, depth), np.uint8)
        if ctx.size:
            indices = cdf0_from_counts(counts[ctx, 0], counts[ctx, 1]) - 1
            coded = decoder.decode(indices).reshape(-1, depth)
            if not np.isin(coded, (0, 1)).all():
                raise BitstreamError("entropy-coded chunk decodes to invalid symbols")
            row[mask[y]] = coded
            np.add.at(counts, (ctx.reshape(-1), coded.reshape(-1).astype(np.int64)), 1)
        out[y] = row
        up = np.where(mask[y][:, None], row, ABSENT).astype(np.int64)
    if not decoder.finish():
        raise BitstreamError("entropy-coded chunk is inconsistent (range decoder check failed)")
    return out


def previous_bits(bits, t):
    """The two earlier iterations' 0/1 codes that iteration ``t`` is conditioned on."""
    return (bits[t - 1] if t >= 1 else None, bits[t - 2] if t >= 2 else None)


class ContextCoder:
    """The :class:`~tfrnncomp.entropy.coding.Coder` of mode ``context``."""

    mode = EntropyMode.CONTEXT

    def __init__(self, table=None):
        self.table = rangecoder.BinaryTable() if table is None else table

    def encode(self, codes, active=None):
        bits = (np.asarray(codes) > 0).astype(np.uint8)
        return [encode(self.table, bits[t], previous_bits(bits, t),
                       None if active is None else active[t]) for t in range(len(bits))]

    def decode(self, chunks, shape, active=None):
        bits = []
        for t, chunk in enumerate(chunks):
            bits.append(decode(self.table, chunk, shape, previous_bits(bits, t),
                               None if active is None else active[t]))
        codes = np.stack(bits).astype(np.int8) * 2 - 1
        if active is not None:
            codes *= active[..., None].astype(np.int8)
        return codes
