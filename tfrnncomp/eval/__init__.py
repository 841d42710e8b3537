"""Evaluation: the harness and its results schema (:mod:`.evaluate`), classic codecs to compare
with, rate-distortion summaries and plots, re-rating in another entropy mode, and MAC counts."""
