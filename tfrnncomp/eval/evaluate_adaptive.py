"""Evaluation of spatially adaptive coding (:mod:`tfrnncomp.codec.adaptive`) in the shared harness.

The runner of :mod:`tfrnncomp.eval.evaluate` for adaptive settings: the same :class:`Measurer`, the
same results schema (``setting_name`` ``adaptive_<rule>``; rows add ``map_bytes`` and
``mean_iterations``), so :mod:`tfrnncomp.eval.rd` and ``tools/research/adaptive_bdrate.py``
compare it with the fixed-iteration curve.
"""

import time

import numpy as np

from tfrnncomp.eval.evaluate import Measurer, log_point, make_point, model_description, new_result


def run_adaptive(codec, dataset, settings, rule="psnr", block=2, entropy=None, name=None,
                 log=None):
    """Evaluate spatially adaptive coding (:mod:`tfrnncomp.codec.adaptive`) at each setting.

    ``rule`` ``"psnr"``: settings are per-block PSNR targets; ``"slope"``: one-pass
    MSE-gain thresholds; ``"lagrangian"``: two-pass equal-slope allocation (its first
    pass is run once per image and its time added to every setting's encode_seconds).
    Each image is encoded once per setting into a real file (its bytes are
    measured); the first image's file is decoded and must equal the encoder's
    reconstruction, which is what the other rows measure (decoding is bit-exact, tested).
    Rows also hold the iteration map's bytes (``map_bytes``) and mean iterations per block.
    """
    from tfrnncomp.codec import adaptive
    from tfrnncomp.format import container as bitstream
    from tfrnncomp.codec import DEFAULT_ENTROPY

    entropy = entropy or DEFAULT_ENTROPY
    measure = Measurer()
    points, first_pass = [], {}
    kinds = {"psnr": adaptive.QUALITY, "slope": adaptive.SLOPE, "lagrangian": "lagrangian"}
    for setting in settings:
        threshold = adaptive.psnr_to_mse(setting) if rule == "psnr" else float(setting)
        allocation = adaptive.Allocation(kinds[rule], threshold, block, codec.max_iterations)
        rows = []
        for index, (image_name, image) in enumerate(zip(dataset.names, dataset.images)):
            if rule == "lagrangian" and image_name not in first_pass:
                start = time.perf_counter()
                found = codec.adaptive_history(image, codec.max_iterations, block)
                first_pass[image_name] = (found, time.perf_counter() - start)
            rows.append(_row(codec, measure, allocation, entropy, image_name, image,
                             first_pass.get(image_name, (None, 0.0)), check=index == 0))
        point = make_point(setting, rows)
        point["decode_seconds"] = rows[0]["decode_seconds"]
        points.append(point)
        log_point(log, name or "adaptive", point)
    info = {"family": "tfrnncomp", "setting_name": f"adaptive_{rule}", "settings": list(settings),
            "model_id": codec.model_id, "config": codec.config.to_dict(),
            "entropy_mode": entropy, "adaptive": {"rule": rule, "block": block,
                                                  "max_iterations": codec.max_iterations},
            "format_version": bitstream.FORMAT_VERSION}
    notes = measure.notes + [
        "adaptive: one encode per image and setting; decode_seconds and a bit-exact check "
        "from the first image's file only; the other rows measure the encoder's "
        "reconstruction, which the decoder reproduces exactly"]
    default = f"tfrnncomp-{codec.config.name}-adaptive" + ("" if rule == "psnr" else f"-{rule}")
    return new_result(name or default, f"{model_description(codec, entropy)}; spatially "
                      f"adaptive ({rule} rule, blocks of {block}x{block} codes)",
                      info, dataset, points, notes)


def _row(codec, measure, allocation, entropy, image_name, image, first_pass, check):
    """The row of one image at one setting; ``first_pass`` is ``(block_mse, seconds)`` of the
    lagrangian rule's first pass (``(None, 0.0)`` for the other rules).  With ``check`` the
    file is decoded, timed and compared with the encoder's reconstruction."""
    from tfrnncomp.format import blockmap

    block_mse, first_seconds = first_pass
    start = time.perf_counter() - first_seconds
    encoded = codec.compress_adaptive(image, allocation, entropy, block_mse)
    encode_seconds = time.perf_counter() - start
    decoded, decode_seconds = encoded.reconstruction, None
    if check:
        start = time.perf_counter()
        if not np.array_equal(codec.decompress(encoded.data, strict=True), decoded):
            raise RuntimeError(f"{image_name}: decoding differs from the encoder")
        decode_seconds = time.perf_counter() - start
    row = measure.row(image_name, image, decoded, len(encoded.data), encode_seconds,
                      decode_seconds or 0.0)
    row["decode_seconds"] = decode_seconds
    the_map = encoded.iteration_map
    row["map_bytes"] = len(blockmap.encode(allocation.block, the_map)) + 3  # + TLV head
    row["mean_iterations"] = float(the_map.mean())
    return row
