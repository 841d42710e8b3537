"""Tests of tools/bench/bench_roofline.py: the convolution floor of encoding and decoding."""

import json

import pytest

from tests.helpers import TINY_CONFIG, load_tool
from tfrnncomp.eval import flops

tool = load_tool("bench/bench_roofline.py")


def test_the_floor_counts_the_encoder_every_iteration_and_the_decoder_once_less():
    convs = flops.convolutions(TINY_CONFIG, 64, 64)
    seconds = {tool._geometry(c): 1.0 for part in convs.values() for c in part}
    floor = tool.floors(convs, seconds, 8)
    encoders, decoders = len(convs["encoder"]), len(convs["decoder"])
    assert floor == {"encode_s": 8 * encoders + 7 * decoders, "decode_s": 8 * decoders}


def test_a_target_below_the_floor_is_reported_as_not_meetable():
    convs = flops.convolutions(TINY_CONFIG, 64, 64)
    seconds = {tool._geometry(c): 0.01 for part in convs.values() for c in part}
    row = tool.workload("tiny", TINY_CONFIG, 64, 64, 2, seconds,
                        {"encode_s": 10.0, "decode_s": 0.001}, "test")
    assert row["encode_feasible"] and not row["decode_feasible"]
    encode_macs, _ = flops.codec_macs(TINY_CONFIG, 64, 64, 2)
    assert row["required_encode_gflops"] == pytest.approx(2 * encode_macs / 10.0 / 1e9)


def test_the_tool_writes_json_and_markdown_with_the_measured_reference(tmp_path,
                                                                       tiny_model_dir):
    reference = tmp_path / "pytorch.json"
    reference.write_text(json.dumps({"encode_wall_s": 4.0, "decode_wall_s": 3.0}))
    assert tool.main(["--height", "32", "--width", "32", "--repeats", "1", "--matmul-size", "64",
                      "--model", tiny_model_dir, "--pytorch-reference", str(reference),
                      "--speed", str(tmp_path / "absent.json"), "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "roofline.json").read_text())
    paper = result["workloads"][1]
    assert paper["target_encode_s"] == 2.0 and paper["target_decode_s"] == 1.5
    total = sum(min(c["tf_s"], c["xla_s"]) for c in result["convolutions"])
    assert 0 < paper["floor_decode_s"] and result["workloads"][0]["floor_decode_s"] > 0
    assert paper["floor_decode_s"] <= 8 * total
    assert result["measured"]["PyTorch reference"]["decode_s"][0] == 3.0
    assert "paper-size LSTM" in (tmp_path / "roofline.md").read_text()


def test_sizes_that_are_not_padded_are_refused(tmp_path, capsys):
    assert tool.main(["--height", "50", "--out", str(tmp_path)]) == 2
    assert "multiples of 32" in capsys.readouterr().err


def test_measured_times_keep_the_fastest_backend_of_each_workload():
    rows = [{"codec": "tfrnncomp m@1", "iterations": 8, "backend": "tf", "encode_s": 2.0,
             "decode_s": 1.0},
            {"codec": "tfrnncomp m@1", "iterations": 8, "backend": "tf-xla", "encode_s": 1.5,
             "decode_s": 1.2},
            {"codec": "tfrnncomp m@1", "iterations": 2, "backend": "tf", "encode_s": 0.1,
             "decode_s": 0.1},
            {"codec": "paper-size model (width 1.0, GRU, untrained)", "backend": "tf",
             "encode_s": 9.0, "decode_s": 9.0},
            {"codec": "untrained, width 0.0625", "backend": "tf", "encode_s": 0.4,
             "decode_s": 0.3}]
    measured = tool.measured_times({"rows": rows}, None)
    assert measured == {"shipped model": {"encode_s": (1.5, "tf-xla"), "decode_s": (1.0, "tf")},
                        "width 0.0625": {"encode_s": (0.4, "tf"), "decode_s": (0.3, "tf")}}
