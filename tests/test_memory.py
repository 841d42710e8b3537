"""Many compress/decompress calls in one process neither retrace nor grow memory.

A short run of ``tools/bench/bench_memory.py`` on the tiny model; the 1000-call run on the
shipped model is quoted in README "Speed and memory" (``results/memory/growth.json``).
"""

import json

import pytest

from tests.helpers import load_tool


@pytest.fixture(scope="module")
def bench_memory():
    return load_tool("bench/bench_memory.py")


def test_repeated_calls_do_not_retrace_and_memory_stays_bounded(bench_memory, tiny_model_dir,
                                                                tmp_path):
    out = tmp_path / "growth.json"
    assert bench_memory.main(["--model", tiny_model_dir, "--calls", "48", "--every", "12",
                              "--warmup", "12", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [s["calls"] for s in result["samples"]] == [0, 12, 24, 36, 48]
    # every setting (3 iteration counts x 2 entropy modes) ran in the warm-up: no retrace after
    assert result["traces_after_warmup"] == dict.fromkeys(bench_memory.FUNCTIONS, 0)
    assert result["traces_total"]["encode_codes"] == 1 and result["traces_total"]["decode"] == 1
    assert result["growth_after_warmup_mb"] < 16
    assert "| 48 |" in (tmp_path / "growth.md").read_text()


def test_the_slope_is_a_least_squares_fit_after_the_warmup(bench_memory):
    samples = [{"calls": c, "rss_mb": r} for c, r in [(0, 100), (50, 400), (100, 402),
                                                      (150, 404), (200, 406)]]
    assert bench_memory.slope_per_100(samples, 50) == pytest.approx(4.0)
    assert bench_memory.slope_per_100(samples[:2], 50) is None
