"""Entropy mode ``raw``: every coded bit stored as it is (+1 -> 1), MSB first."""

import numpy as np

from tfrnncomp.format import blockmap
from tfrnncomp.format import container
from tfrnncomp.format.container import EntropyMode


class RawCoder:
    """Packed bits: a chunk holds exactly its active positions' bits."""

    mode = EntropyMode.RAW

    def encode(self, codes, active=None):
        if active is None:
            return [container.pack_codes(c) for c in codes]
        return [blockmap.pack_active(c, a) for c, a in zip(codes, active)]

    def decode(self, chunks, shape, active=None):
        if active is None:
            return np.stack([container.unpack_codes(c, shape) for c in chunks])
        return np.stack([blockmap.unpack_active(c, a, shape[2]) for c, a in zip(chunks, active)])
