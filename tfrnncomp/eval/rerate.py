"""Re-measure a model's RD curve in another entropy mode without decoding every prefix again.

Entropy coding is lossless (Toderici et al. 2017, Section 3): the k-iteration prefix of a file
decodes to the same codes, hence the same image, in every entropy mode. So when a curve of the
same model on the same images exists (``previous``, written by
:func:`tfrnncomp.eval.evaluate.run_model`), the quality of each point is already known and only the
file sizes change. :func:`rerate_model` encodes every image once in the new mode, checks that
the entropy decoder returns exactly the encoder's codes, measures the real k-iteration file
sizes (header declaring k plus the first k chunks) and takes the quality metrics of the same
image and k from ``previous``. Decode seconds are entropy decode plus the previous run's
model decode of that prefix; each row keeps the entropy part as ``entropy_decode_seconds``.

A second curve of the same files (the same codes decoded another way, such as without the
post-filter) needs no second encoding: :func:`sizes_from` takes the file sizes and entropy
times of a :func:`rerate_model` result and the quality of another result of the same model.
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
            rows[k].append(_row(old, size * 8.0 / (height * width), size, encode_seconds,
                                entropy_seconds * k))
        if log:
            log(f"{image_name}: {entropy} file of {top} iterations, {len(data)} bytes")
    note = (f"quality metrics from result {previous['name']!r} (same model, images and "
            "iteration counts; entropy coding is lossless and checked here to return the "
            f"encoder's codes); bytes are the real {entropy} files; decode_seconds adds the "
            "measured entropy decode time (per-iteration average) to that result's decode time")
    return _result(codec, dataset, previous, entropy, rows, name, note)


def _row(quality, bpp, size, encode_seconds, entropy_seconds):
    return dict(quality, bytes=size, bpp=bpp, encode_seconds=encode_seconds,
                entropy_decode_seconds=entropy_seconds,
                decode_seconds=quality["decode_seconds"] + entropy_seconds)


def _result(codec, dataset, previous, entropy, rows, name, note, **info):
    points = [evaluate.make_point(k, rows[k]) for k in sorted(rows)]
    info = dict(previous["codec"], entropy_mode=entropy, quality_from=previous["name"], **info)
    if entropy == "binaryrnn":
        info["entropy_model_id"] = codec.entropy_net.entropy_id
    return schema.new_result(
        name or f"tfrnncomp-{codec.config.name}-{entropy}",
        evaluate.model_description(codec, entropy), info, dataset, points,
        list(previous.get("notes", [])) + [note])


def _check_sized(sized, codec, dataset, iterations):
    """Raise unless ``sized`` holds this codec's files (model and entropy model), on
    ``dataset``'s images at ``iterations``, with their entropy decode times."""
    info, name = sized["codec"], sized["name"]
    if info.get("model_id") != codec.model_id:
        raise ValueError(f"result {name!r} is of model {info.get('model_id')}, this codec is "
                         f"{codec.model_id}")
    if info.get("entropy_mode") == "binaryrnn" and (
            info.get("entropy_model_id") != codec.entropy_net.entropy_id):
        raise ValueError(f"result {name!r} was coded by BinaryRNN {info.get('entropy_model_id')},"
                         f" this codec's is {codec.entropy_net.entropy_id}")
    if sorted(int(p["setting"]) for p in sized["points"]) != iterations:
        raise ValueError(f"result {name!r} has other iteration counts")
    for point in sized["points"]:
        if [row["image"] for row in point["per_image"]] != list(dataset.names):
            raise ValueError(f"result {name!r} is of other images")
        if any("entropy_decode_seconds" not in row for row in point["per_image"]):
            raise ValueError(f"result {name!r} records no entropy decode times: re-rate it "
                             "with this version (evaluate_model.py --metrics-from)")


def sizes_from(codec, dataset, previous, sized, name=None):
    """A result in the shared schema: ``previous``'s quality, the file sizes, encode times and
    entropy decode times of ``sized`` (a :func:`rerate_model` result of the same codec on the
    same images), without encoding again."""
    known = _previous_rows(previous, codec, dataset)
    iterations = sorted(int(p["setting"]) for p in previous["points"])
    _check_sized(sized, codec, dataset, iterations)
    rows = {k: [] for k in iterations}
    for point in sized["points"]:
        k = int(point["setting"])
        for row in point["per_image"]:
            rows[k].append(_row(known[(row["image"], k)], row["bpp"], row["bytes"],
                                row["encode_seconds"], row["entropy_decode_seconds"]))
    entropy = sized["codec"]["entropy_mode"]
    note = (f"quality metrics from result {previous['name']!r}; bytes, encode_seconds and the "
            f"entropy decode time from result {sized['name']!r} (the same model's {entropy} "
            "files of the same images); decode_seconds adds that entropy decode time to the "
            "quality result's decode time")
    return _result(codec, dataset, previous, entropy, rows, name, note, sizes_from=sized["name"])
