"""Vectors (a) of make_vectors.py: the range coder, against tensorflow-compression's ops."""

import numpy as np

from tfrnncomp.entropy.coding import rangecoder
from vector_writer import concat as _concat


# --- (a) the range coder ---------------------------------------------------------------

def _sequences(rng):
    """Index/bit sequences that drive the coder through all of its branches.

    Near-certain bits coded with extreme probabilities keep the interval near
    the 2^32 boundary (the encoder's carry-delay state); unlikely bits shrink
    it fast (16-bit renormalisation, several in a row).
    """
    seqs = [(np.zeros(0, np.int32), np.zeros(0, np.int32))]  # empty
    for index in (0, 2047, 4094):
        for bit in (0, 1):
            seqs.append((np.array([index], np.int32), np.array([bit], np.int32)))
    for n in (2, 3, 5, 17, 100, 1000, 5000):
        for kind in ("uniform", "matched", "extreme", "adversarial", "mixed"):
            for _ in range(3 if n <= 100 else 1):
                if kind == "uniform":
                    idx = rng.integers(0, 4095, n)
                    bits = rng.integers(0, 2, n)
                elif kind == "matched":  # bits drawn from the coded probability
                    idx = rng.integers(0, 4095, n)
                    bits = (rng.uniform(size=n) * 4096 >= idx + 1).astype(np.int64)
                elif kind == "extreme":
                    idx = rng.choice([0, 1, 2, 4092, 4093, 4094], n)
                    bits = (idx < 2048).astype(np.int64)  # the likely symbol
                    flip = rng.uniform(size=n) < 0.02
                    bits = np.where(flip, 1 - bits, bits)
                elif kind == "adversarial":  # mostly the unlikely symbol
                    idx = rng.choice([0, 4094, 3, 4091], n)
                    bits = (idx > 2048).astype(np.int64)
                    keep = rng.uniform(size=n) < 0.3
                    bits = np.where(keep, 1 - bits, bits)
                else:
                    idx = np.where(rng.uniform(size=n) < 0.5, rng.integers(0, 4095, n),
                                   rng.choice([0, 4094], n))
                    bits = rng.integers(0, 2, n)
                seqs.append((idx.astype(np.int32), bits.astype(np.int32)))
    # long runs of the likely symbol at the extremes: long carry delays
    for index, bit in ((4094, 0), (0, 1), (4094, 1), (0, 0)):
        for n in (10, 50, 300, 3000):
            seqs.append((np.full(n, index, np.int32), np.full(n, bit, np.int32)))
    # every index once, bits alternating
    idx = np.arange(4095, dtype=np.int32)
    seqs.append((idx, (idx % 2).astype(np.int32)))
    seqs.append((idx[::-1].copy(), ((idx // 3) % 2).astype(np.int32)))
    return seqs


class _EncoderModel:
    """Just enough of the range encoder's state to steer sequences into rare branches.

    Only used to *choose* inputs; the vector bytes always come from
    tensorflow-compression, and the Java test reports which branches they hit.
    """

    def __init__(self):
        self.base, self.sm1, self.delay, self.grown = 0, 0xFFFFFFFF, 0, 0

    def encode(self, index, bit):
        m, c = 0xFFFFFFFF, index + 1
        lo, hi = (0, c) if bit == 0 else (c, 4096)
        size = self.sm1 + 1
        a, b = (size * lo) >> 12, ((size * hi) >> 12) - 1
        self.base, self.sm1 = (self.base + a) & m, (b - a) & m
        if (self.base + self.sm1) & m < self.base:  # straddles 2^32
            if self.sm1 >> 16 == 0:
                self.base, self.sm1 = (self.base << 16) & m, ((self.sm1 << 16) | 0xFFFF) & m
                self.delay += 0x20000
                self.grown += 1
            return
        self.delay = 0
        if self.sm1 >> 16 == 0:
            top = self.base >> 16
            self.base, self.sm1 = (self.base << 16) & m, ((self.sm1 << 16) | 0xFFFF) & m
            if self.base > (self.base + self.sm1) & m:
                self.delay = top + 1

    def tightest(self):
        """(index, bit) whose sub-interval still holds 2^32 and is smallest."""
        size, o = self.sm1 + 1, (1 << 32) - self.base
        best = None
        # bit 1 keeps [A, size): the largest cut A < o
        c = min(4095, ((o << 12) - 1) // size)
        while c >= 1 and (size * c) >> 12 >= o:
            c -= 1
        if c >= 1:
            best = (size - ((size * c) >> 12), c - 1, 1)
        # bit 0 keeps [0, A): the smallest cut A > o
        c = max(1, ((o + 1) << 12) // size)
        while c <= 4095 and (size * c) >> 12 <= o:
            c += 1
        if c <= 4095 and (best is None or (size * c) >> 12 < best[0]):
            best = ((size * c) >> 12, c - 1, 0)
        return best[1], best[2]


def _carry_sequences(rng):
    """Sequences that keep the interval across 2^32 while it shrinks (long carry delays)."""
    seqs = []
    for grow in (1, 1, 2, 3, 5, 9, 20):
        for tail in (0, 1, 30):
            model, idx, bits = _EncoderModel(), [], []
            for _ in range(100000):
                if model.grown >= grow:
                    break
                if model.delay:
                    i, b = model.tightest()
                else:
                    i, b = int(rng.integers(0, 4095)), int(rng.integers(0, 2))
                model.encode(i, b)
                idx.append(i)
                bits.append(b)
            for _ in range(tail):
                i, b = int(rng.integers(0, 4095)), int(rng.integers(0, 2))
                model.encode(i, b)
                idx.append(i)
                bits.append(b)
            seqs.append((np.array(idx, np.int32), np.array(bits, np.int32)))
    # sequences ending in the delay state with a delayed value ending in a zero byte
    found = 0
    for _ in range(20000):
        model, idx, bits = _EncoderModel(), [], []
        for _ in range(60):
            i, b = int(rng.integers(0, 4095)), int(rng.integers(0, 2))
            model.encode(i, b)
            idx.append(i)
            bits.append(b)
            if model.delay and model.delay & 0xFF == 0:
                break
        if model.delay and model.delay & 0xFF == 0:
            seqs.append((np.array(idx, np.int32), np.array(bits, np.int32)))
            found += 1
            if found == 3:
                break
    return seqs


def range_coder_vectors(w, table, rng):
    seqs = _sequences(rng) + _carry_sequences(rng)
    encoded = [rangecoder.encode(table, idx, bits) for idx, bits in seqs]
    # the Python decoder must give the bits back (guards against a bad vector)
    for (idx, bits), data in zip(seqs, encoded):
        if len(idx):
            dec = rangecoder.Decoder(table, data)
            assert np.array_equal(dec.decode(idx), bits)
            assert dec.finish()
    ind, sym_off = _concat([s[0] for s in seqs], np.int32)
    bits, _ = _concat([s[1] for s in seqs], np.uint8)
    enc, enc_off = _concat([np.frombuffer(e, np.uint8) for e in encoded], np.uint8)
    w.entry("rangecoder", w.npz("rc_vectors.npz", indices=ind, bits=bits, sym_offsets=sym_off,
                                encoded=enc, enc_offsets=enc_off), count=len(seqs))

    # garbage: random bytes decoded with random indices in one or several calls
    data_parts, idx_parts, out_parts, calls, finals = [], [], [], [], []
    for size in (0, 1, 2, 3, 4, 5, 8, 13, 50, 300):
        for count in (0, 1, 7, 40, 400, 3000):
            data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            idx = rng.choice([rng.integers(0, 4095), 0, 4094, 2047], count).astype(np.int32)
            if rng.uniform() < 0.5:
                idx = rng.integers(0, 4095, count).astype(np.int32)
            dec = rangecoder.Decoder(table, data)
            split = [0] + sorted(rng.integers(0, count + 1, 2).tolist()) + [count]
            out = [dec.decode(idx[a:b]) if b > a else np.zeros(0, np.int32)
                   for a, b in zip(split, split[1:])]
            finals.append(int(dec.finish()))
            data_parts.append(np.frombuffer(data, np.uint8))
            idx_parts.append(idx)
            out_parts.append(np.concatenate(out))
            calls.append(len(split) - 1)
    data, data_off = _concat(data_parts, np.uint8)
    ind, idx_off = _concat(idx_parts, np.int32)
    out, _ = _concat(out_parts, np.uint8)
    w.entry("rangegarbage", w.npz("rc_garbage.npz", data=data, data_offsets=data_off,
                                  indices=ind, idx_offsets=idx_off, decoded=out,
                                  finalize=np.array(finals, np.uint8)),
            count=len(finals))
