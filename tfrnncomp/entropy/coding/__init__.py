"""Entropy coders of the binarizer's codes, one per entropy mode of the file format (``raw``
packed bits; ``context`` and ``binaryrnn`` range coding), all behind one :class:`Coder`."""

from typing import Protocol

import numpy as np

from tfrnncomp.format.container import EntropyMode


class Coder(Protocol):
    """Codes ``int8[T, h, w, bits]`` in {-1, +1} <-> one chunk payload per iteration.

    ``active`` (bool ``[T, h, w]``, or None: every position) marks the positions each
    iteration codes in a spatially adaptive file; the others carry no bits and decode to 0.
    Iteration ``t`` is coded given iterations ``< t`` only, so files stay progressive.
    """

    mode: EntropyMode

    def encode(self, codes, active=None) -> list:
        """The payload (bytes) of every iteration of ``codes``."""

    def decode(self, chunks, shape, active=None) -> np.ndarray:
        """Codes ``int8[len(chunks), h, w, bits]`` of the payloads; ``shape = (h, w, bits)``."""


def coder_for(mode, table=None, net=None) -> Coder:
    """The coder of ``mode`` (an :class:`EntropyMode`).  ``table`` is the range coder's
    :class:`~.rangecoder.BinaryTable` (made if None); ``net`` the
    :class:`~.integer_net.IntegerNet` of mode ``binaryrnn``."""
    mode = EntropyMode(mode)
    if mode == EntropyMode.RAW:
        from tfrnncomp.entropy.coding.raw import RawCoder

        return RawCoder()
    if mode == EntropyMode.CONTEXT:
        from tfrnncomp.entropy.coding.context import ContextCoder

        return ContextCoder(table)
    from tfrnncomp.entropy.coding.binaryrnn import BinaryRNNCoder

    if net is None:
        raise ValueError("entropy mode binaryrnn needs its integer BinaryRNN (net=)")
    return BinaryRNNCoder(net, table)


def active_positions(header, count):
    """Bool ``[count, h, w]``: the positions the first ``count`` chunks of ``header`` code;
    None if it (or the header) has no iteration map: every position is coded."""
    if header is None or header.iteration_map is None:
        return None
    return np.stack([header.active_positions(t) for t in range(count)])
