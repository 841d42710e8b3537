"""Entropy coding of the binarizer's codes (Toderici et al. 2017, Section 3).

Modes (the bitstream's entropy field): ``raw`` stores the bits as they are;
``context`` range-codes them with the portable integer context model of
:mod:`tfrnncomp.entropy.context`; ``binaryrnn`` range-codes them with the
paper's BinaryRNN, run as an integer network (:mod:`.integer_net`, spec in
``BINARYRNN.md``; trained in float by :mod:`.binaryrnn`, quantized by
:mod:`.binaryrnn_export`, coded by :mod:`.binaryrnn_coder`).
"""
