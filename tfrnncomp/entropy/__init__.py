"""Entropy coding of the binarizer's codes (Toderici et al. 2017, Section 3).

Modes (the bitstream's entropy field): ``raw`` stores the bits as they are;
``context`` range-codes them with the portable integer context model of
:mod:`tfrnncomp.entropy.context`.
"""
