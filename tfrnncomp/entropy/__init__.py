"""Entropy coding of the binarizer's codes (Toderici et al. 2017, Section 3): ``coding/`` holds
the NumPy coders files use, ``training/`` the TensorFlow side that trains the BinaryRNN.

Modes (the container's entropy field): ``raw`` stores the bits as they are;
``context`` range-codes them with the portable integer context model of
:mod:`tfrnncomp.entropy.coding.context`; ``binaryrnn`` range-codes them with the
paper's BinaryRNN, run as an integer network (:mod:`.coding.integer_net`, spec in
``BINARYRNN.md``; trained in float by :mod:`.training.binaryrnn`, quantized by
:mod:`.training.quantize`, coded by :mod:`.coding.binaryrnn`).
"""
