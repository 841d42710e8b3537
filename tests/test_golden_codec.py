"""The whole codec pinned: a fixed image compresses to the same bytes in every mode, and
decodes to the same pixels."""

import hashlib
import json
import os

import pytest

from tests.helpers import smooth_image

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "codec_v1.json")
REGENERATE = os.environ.get("TFRNNCOMP_REGENERATE_GOLDEN") == "1"

#: name -> compress() arguments: every entropy mode, tiling and spatially adaptive coding
CASES = {
    "raw": dict(iterations=3, entropy="raw"),
    "context": dict(iterations=3, entropy="context"),
    "binaryrnn": dict(iterations=3, entropy="binaryrnn"),
    "tiled": dict(iterations=2, entropy="context", tile=32),
    "adaptive": dict(iterations=4, entropy="raw", adaptive=True, slope=2.0),
    "bpp": dict(bpp=0.5, entropy="context"),
}


def _compress(codec, image, arguments):
    from tfrnncomp import Codec

    arguments = dict(arguments)
    tile = arguments.pop("tile", None)
    if tile is not None:
        codec = Codec(codec.model, tile=tile, entropy_model=codec.entropy_net)
    return codec.compress(image, **arguments)


def test_fixed_image_compresses_to_the_same_bytes(shipped_codec):
    image = smooth_image(48, 80, seed=5)
    files = {name: _compress(shipped_codec, image, arguments) for name, arguments in CASES.items()}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    for name in ("raw", "tiled", "adaptive"):  # the decoder too: its pixels
        pixels = shipped_codec.decompress(files[name]).tobytes()
        digests[f"{name} decoded"] = hashlib.sha256(pixels).hexdigest()
    if REGENERATE or not os.path.exists(GOLDEN):
        if not REGENERATE:
            pytest.fail(f"golden file {GOLDEN} is missing; run with "
                        "TFRNNCOMP_REGENERATE_GOLDEN=1 to create it")
        with open(GOLDEN, "w") as f:
            json.dump(digests, f, indent=1, sort_keys=True)
            f.write("\n")
    with open(GOLDEN) as f:
        assert digests == json.load(f)
