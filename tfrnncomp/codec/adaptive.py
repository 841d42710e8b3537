"""Spatially adaptive bit allocation: per-block stopping (Johnston et al. 2018, Section 3.3).

``Codec.compress(image, target_psnr=32, adaptive=True)`` stops each block of
``block x block`` code positions (``block=2``: 32x32 pixels) after the
iteration at which its own PSNR (the MSE of its uint8 RGB pixels against the
input, over the image's pixels only) reaches the target, so flat sky stops
after few iterations and foliage keeps going.

``slope=L`` (rule ``lagrangian``) is equal-slope allocation with look-ahead:
a first, fixed-iteration pass records every block's MSE after each iteration;
each block then gets the ``k`` minimising ``mse_k + L * k`` (every block
iteration costs the same raw bits, so ``L`` is the distortion-rate slope, in
8-bit MSE units per iteration), and a second pass codes with that plan.  The
one-pass rule ``slope`` (stop once the last iteration gained at most ``L``)
is kept for the evaluation, where it measured worse.  The per-block iteration
counts go into the header (:mod:`tfrnncomp.format.blockmap`, extension ``Tag.ITERATION_MAP``).

Per-block MS-SSIM is ill-defined on 32x32 pixels (its coarsest scale needs 161
pixels a side), so an MS-SSIM target is not offered in adaptive mode; neither
is a pure rate budget (it would need a search over slopes).  The codec refuses tiled
images (above :data:`tfrnncomp.codec.tiling.AUTO_TILE_PIXELS`).

The passes run on a backend that can code adaptively
(:class:`~tfrnncomp.runtime.AdaptiveBackend`), over the code grid of the model's
:class:`~tfrnncomp.codec.layout.FileLayout`; what comes back are the codes and the map, which
the codec writes (:meth:`tfrnncomp.Codec.compress_adaptive`).
"""

import dataclasses
import math

import numpy as np

from tfrnncomp.codec.options import check_iterations
from tfrnncomp.format import blockmap
from tfrnncomp.errors import TfrnncompError

QUALITY, SLOPE, PLAN = 0, 1, 2  # rule ids of AdaptiveBackend.encode_adaptive


@dataclasses.dataclass(frozen=True)
class Allocation:
    """How iterations are allocated: each block of ``block x block`` code positions stops by
    ``rule`` at ``threshold`` (as :func:`encode` takes them), after at most ``iterations``."""

    rule: int | str
    threshold: float
    block: int
    iterations: int


def allocation(options, max_iterations):
    """The :class:`Allocation` of :class:`~tfrnncomp.codec.options.CompressOptions` ``options``
    with ``adaptive=True`` (checked; the cap defaults to ``max_iterations``)."""
    allowed = {"target_psnr"} if options.slope is None else {"iterations"}
    refused = [name for name in options.rate_settings() if name not in allowed]
    if refused:
        raise TfrnncompError(
            f"adaptive=True takes target_psnr, or slope with an optional iterations cap; "
            f"not {' and '.join(refused)}")
    iterations = max_iterations if options.iterations is None else check_iterations(
        options.iterations, max_iterations)
    rule, threshold = stopping_rule(options.target_psnr, options.slope)
    return Allocation(rule, threshold, check_block(options.block), iterations)


def psnr_to_mse(psnr):
    """The MSE (8-bit units) of a PSNR in dB."""
    return 255.0 ** 2 / 10.0 ** (psnr / 10.0)


def stopping_rule(target_psnr=None, slope=None):
    """``(rule, threshold)`` for :func:`encode` (rule :data:`QUALITY` or ``"lagrangian"``)."""
    if (target_psnr is None) == (slope is None):
        raise TfrnncompError("adaptive coding needs one stopping rule: target_psnr or slope")
    if target_psnr is not None:
        if not math.isfinite(target_psnr) or target_psnr <= 0:
            raise TfrnncompError(f"target PSNR must be a positive number, got {target_psnr}")
        return QUALITY, psnr_to_mse(float(target_psnr))
    if not math.isfinite(slope):
        raise TfrnncompError(f"slope must be a finite number, got {slope}")
    return "lagrangian", float(slope)


def check_block(block):
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or not 1 <= block <= 64:
        raise TfrnncompError(f"block must be an integer in 1..64 code positions, got {block!r}")
    return int(block)


def full_plan(layout, height, width, iterations, block):
    """The plan ``int32[rows, cols]`` that lets every block run ``iterations``: one entry per
    block of ``block x block`` code positions of an image of ``height x width`` pixels, its
    code grid given by the model's :class:`~tfrnncomp.codec.layout.FileLayout` ``layout``."""
    return np.full(blockmap.grid_shape(*layout.code_grid(height, width), block), iterations,
                   np.int32)


def run(backend, layout, array, iterations, block, rule, threshold, plan=None):
    """One adaptive pass on ``backend``: the dict of ``encode_adaptive`` as NumPy."""
    if plan is None:
        plan = full_plan(layout, array.shape[0], array.shape[1], iterations, block)
    result = backend.encode_adaptive(
        np.asarray(array, np.uint8), np.int32(iterations), np.int32(block), np.int32(rule),
        np.float32(threshold), np.asarray(plan, np.int32))
    return {key: np.asarray(value) for key, value in result.items()}


def history(backend, layout, array, iterations, block):
    """First pass of the lagrangian rule: block MSEs ``[T, rows, cols]`` of a fixed encode."""
    return run(backend, layout, array, iterations, block, PLAN, 0.0)["block_mse"]


def lagrangian_plan(block_mse, slope):
    """Each block's ``k`` in ``1..T`` minimising ``mse_k + slope * k``."""
    cost = block_mse + slope * np.arange(1, len(block_mse) + 1)[:, None, None]
    return (np.argmin(cost, axis=0) + 1).astype(np.int32)


def encode(backend, layout, array, iterations, block, rule, threshold, block_mse=None):
    """``(codes int8[T,h,w,bits], map uint8[rows,cols], reconstruction uint8[H,W,3])``.

    ``layout`` is the model's :class:`~tfrnncomp.codec.layout.FileLayout`; ``rule`` is
    :data:`QUALITY`, :data:`SLOPE` or ``"lagrangian"`` (two passes; pass the first pass's
    ``block_mse`` to reuse it across slopes).
    """
    plan = None
    if rule == "lagrangian":
        if block_mse is None:
            block_mse = history(backend, layout, array, iterations, block)
        rule, plan = PLAN, lagrangian_plan(block_mse, threshold)
    result = run(backend, layout, array, iterations, block, rule, threshold, plan)
    return (result["codes"], result["map"].astype(np.uint8), result["reconstruction"])
