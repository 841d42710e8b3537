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
