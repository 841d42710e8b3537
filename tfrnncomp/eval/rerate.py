"""Re-measure a model's RD curve in another entropy mode without decoding every prefix again.

Entropy coding is lossless (Toderici et al. 2017, Section 3): the k-iteration prefix of a file
decodes to the same codes, hence the same image, in every entropy mode. So when a curve of the
same model on the same images exists (``previous``, written by
:func:`tfrnncomp.eval.evaluate.run_model`), the quality of each point is already known and only the
file sizes change. :func:`rerate_model` encodes every image once in the new mode, checks that
the entropy decoder returns exactly the encoder's codes, measures the real k-iteration file
sizes (header declaring k plus the first k chunks) and takes the quality metrics of the same
image and k from ``previous``. Decode seconds are entropy decode plus the previous run's
model decode of that prefix.
"""

import dataclasses
import time

import numpy as np

from tfrnncomp.eval import evaluate, schema
from tfrnncomp.format import container as bitstream


def _previous_rows(previous, codec, dataset):
    if previous["codec"].get("model_id") != codec.model_id:
        raise ValueError(f"previous result is of model {previous['codec'].get('model_id')}, "
                         f"this codec is {codec.model_id}")
    if previous["codec"].get("post_filter_id") != codec.post_filter_id:
        raise ValueError(f"previous result's images went through post-filter "
                         f"{previous['codec'].get('post_filter_id')}, this codec's through "
                         f"{codec.post_filter_id}")
    rows = {}
    for point in previous["points"]:
        for row in point["per_image"]:
            rows[(row["image"], int(point["setting"]))] = row
    missing = [n for n in dataset.names if (n, int(previous["points"][0]["setting"])) not in rows]
    if missing:
        raise ValueError(f"previous result has no rows for {', '.join(missing)}")
    return rows


def rerate_model(codec, dataset, previous, entropy, name=None, log=None):
    """A result in the shared schema: ``previous``'s quality, file sizes in mode ``entropy``."""
    entropy = codec.resolve_entropy(entropy)
    known = _previous_rows(previous, codec, dataset)
    iterations = sorted(int(p["setting"]) for p in previous["points"])
    top = iterations[-1]
    rows = {k: [] for k in iterations}
    for image_name, image in zip(dataset.names, dataset.images):
        start = time.perf_counter()
        encoded = codec.encode(image, top, entropy)
        data, codes = encoded.data, encoded.codes
        encode_seconds = time.perf_counter() - start
        container = codec.read(data, strict=True)
        start = time.perf_counter()
        decoded = codec.decode_chunks(container.header, container.chunks)
        entropy_seconds = (time.perf_counter() - start) / top
        if not np.array_equal(decoded, np.asarray(codes, np.int8)):
            raise AssertionError(f"{image_name}: entropy decoding did not return the codes")
        for k in iterations:
            header = dataclasses.replace(container.header, iterations=k)
            size = len(bitstream.write(header, container.chunks[:k]))
            old = known[(image_name, k)]
            height, width = image.shape[:2]
            row = dict(old, bytes=size, bpp=size * 8.0 / (height * width),
                       encode_seconds=encode_seconds,
                       decode_seconds=old["decode_seconds"] + entropy_seconds * k)
            rows[k].append(row)
        if log:
            log(f"{image_name}: {entropy} file of {top} iterations, {len(data)} bytes")
    points = [evaluate.make_point(k, rows[k]) for k in iterations]
    info = dict(previous["codec"], entropy_mode=entropy, quality_from=previous["name"])
    if entropy == "binaryrnn":
        info["entropy_model_id"] = codec.entropy_net.entropy_id
    notes = list(previous.get("notes", [])) + [
        f"quality metrics from result {previous['name']!r} (same model, images and iteration "
        "counts; entropy coding is lossless and checked here to return the encoder's codes); "
        f"bytes are the real {entropy} files; decode_seconds adds the measured entropy decode "
        "time (per-iteration average) to that result's decode time"]
    return schema.new_result(
        name or f"tfrnncomp-{codec.config.name}-{entropy}",
        evaluate.model_description(codec, entropy), info, dataset, points, notes)
