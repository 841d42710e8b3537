"""tools/bench/bench_tflite.py reports what the TFLite table needs.

Per variant: file size, MS-SSIM and PSNR and their difference to TF at every
checkpoint (4, 8 and 16 iterations), and encode and decode seconds; the means cover
the images done so far (the tool rewrites its results after every image).
"""

import pytest

from tests.helpers import load_tool


@pytest.fixture(scope="module")
def tool():
    return load_tool("bench/bench_tflite.py")


def _row(name, ms_ssim, psnr, seconds, agreement=None):
    row = {"image": name, "encode_seconds": seconds, "decode_seconds": seconds / 2,
           "quality": {k: {"ms_ssim": ms_ssim + k / 100, "psnr": psnr + k} for k in (4, 8, 16)}}
    if agreement is not None:
        row["bit_agreement"] = agreement
    return row


def test_the_table_has_size_quality_deltas_at_4_8_16_and_latency_per_variant(tool, tmp_path):
    checkpoints = [4, 8, 16]
    tf_rows = [_row("a.png", 0.80, 24.0, 10.0), _row("b.png", 0.90, 26.0, 12.0)]
    int8_rows = [_row("a.png", 0.78, 23.0, 4.0, 0.9), _row("b.png", 0.88, 25.0, 6.0, 0.8)]
    summary = {"tf": dict(tool.summarize(tf_rows, checkpoints), bytes=None)}
    summary["int8"] = dict(tool.summarize(int8_rows, checkpoints, summary["tf"]), bytes=1_820_000)
    assert summary["int8"]["quality"][8]["ms_ssim_delta"] == pytest.approx(-0.02)
    assert summary["int8"]["quality"][16]["psnr_delta"] == pytest.approx(-1.0)
    assert summary["int8"]["encode_seconds"] == 5.0
    assert summary["int8"]["bit_agreement"] == pytest.approx(0.85)
    result = {"model_id": "m@0", "images": ["a.png", "b.png"], "iterations": checkpoints,
              "threads": 2, "summary": summary}
    table = tool.write_results(str(tmp_path / "r.json"), result)
    assert (tmp_path / "r.md").read_text() == table
    header, _, tf_line, int8_line = table.splitlines()[:4]
    for k in checkpoints:
        assert f"MS-SSIM @{k} (Δ)" in header and f"PSNR @{k} (Δ dB)" in header
    assert int8_line.split(" | ")[:4] == ["| int8", "1.82 MB", "0.8500", "0.8700 (-0.0200)"]
    assert int8_line.endswith("| 5.00 | 2.50 |") and tf_line.startswith("| tf | – | 1 (ref)")
    assert "2 Kodak images (a.png, b.png)" in table


def test_a_variant_is_scored_on_the_images_its_decoder_shows_through_the_post_filter(
        tool, tiny_model, tmp_path):
    pytest.importorskip("ai_edge_litert")
    import numpy as np

    from tfrnncomp.codec import Codec
    from tfrnncomp.export.litert_backend import LiteRTSteps
    from tfrnncomp.model import postfilter

    layer = postfilter.build({"channels": 4, "depth": 2})
    kernel = layer.convs[-1].kernel
    kernel.assign(np.random.default_rng(0).normal(0, 0.05, kernel.shape).astype("float32"))
    codec = Codec(tiny_model, post_filter=layer)
    manifest = tool._exported(codec, str(tmp_path), ["float32"], 192, 192, lambda _: None)
    assert manifest["post_filter_id"] == postfilter.weights_id(layer)
    image = np.random.default_rng(1).integers(0, 256, (170, 180, 3), dtype=np.uint8)  # MS-SSIM
    reference = tool.bench_tf(codec, "x.png", image, [1, 2], lambda _: None)
    # the variant's own decoder must rebuild what its encoder showed (the tool checks it)
    row = tool.bench_variant(LiteRTSteps(str(tmp_path)), "x.png", image, [1, 2], reference,
                             lambda _: None)
    for k in (1, 2):
        assert row["quality"][k]["psnr"] == pytest.approx(reference["quality"][k]["psnr"], abs=0.05)
