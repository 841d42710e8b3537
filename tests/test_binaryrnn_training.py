"""Training the BinaryRNN entropy model further: continuing a run, and the integer net's
dequantization into a float model it can continue from.
"""

import os

import numpy as np
import pytest

from tfrnncomp.entropy.coding import integer_net
from tfrnncomp.entropy.training import binaryrnn
from tfrnncomp.entropy.training.quantize import quantize

from tests.binaryrnn_fixtures import (  # noqa: F401 - fixtures
    code_file, float_model, net, requantized, structured_codes)


def test_train_entropy_continues_a_run_from_its_best_weights_and_carries_on_its_log(
        tmp_path, tiny_codec, capsys):
    import csv

    from tests.helpers import load_tool

    codes = code_file(tmp_path, tiny_codec, iterations=3)
    config = tmp_path / "binaryrnn.json"
    config.write_text('{"channels": 8}')
    tool = load_tool("training/train_entropy.py")
    data = ["--train", codes, "--validation", codes, "--batch-size", "4"]
    first, second = str(tmp_path / "first"), str(tmp_path / "second")

    def log(run):
        with open(os.path.join(run, "log.csv"), newline="") as handle:
            return list(csv.DictReader(handle))

    assert tool.main(data + ["--config", str(config), "--out", first, "--epochs", "2"]) == 0
    # learning rate 0: the continued pass scores exactly the weights it started from
    assert tool.main(data + ["--init", first, "--out", second, "--epochs", "1",
                             "--learning-rate", "0"]) == 0
    before, after = log(first), log(second)
    assert after[:2] == before and after[2]["epoch"] == "2"
    best = min(float(row["val_loss"]) for row in before)
    assert float(after[2]["val_loss"]) == pytest.approx(best, rel=1e-5)
    capsys.readouterr()
    assert tool.main(data + ["--init", first, "--config", str(config), "--out", second]) == 2
    assert "--init takes the architecture" in capsys.readouterr().err
    assert tool.main(data + ["--init", str(tmp_path), "--out", second]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    # depth groups added to the run start at zero: the same loss as the run's best
    grouped = str(tmp_path / "grouped")
    assert tool.main(data + ["--init", first, "--depth-groups", "4", "--out", grouped,
                             "--epochs", "1", "--learning-rate", "0"]) == 0
    assert float(log(grouped)[2]["val_loss"]) == pytest.approx(best, rel=1e-5)
    assert binaryrnn.load_config(os.path.join(grouped, "config.json")).depth_groups == 4
    capsys.readouterr()
    assert tool.main(data + ["--depth-groups", "4", "--out", grouped]) == 2
    assert "give it with --init" in capsys.readouterr().err


def test_quantizing_the_dequantized_net_with_its_calibration_gives_back_its_integers(net):
    again = requantized(net)
    assert again.shifts == net.shifts and set(again.arrays) == set(net.arrays)
    for name, value in net.arrays.items():
        assert np.abs(again.arrays[name] - value).max() <= 1, name


def test_the_shipped_integer_net_dequantizes_and_quantizes_back_to_the_same_bytes():
    from tfrnncomp.model import zoo

    path = zoo.entropy_model_path("gru-w25")
    if path is None:
        pytest.skip("no shipped BinaryRNN")
    shipped = integer_net.IntegerNet.load(path)
    assert requantized(shipped).entropy_id == shipped.entropy_id


def test_the_dequantized_float_model_predicts_like_the_float_model_it_was_quantized_from(
        float_model, net):
    from tfrnncomp.entropy.training.quantize import dequantize

    codes = structured_codes(6, 6, 8, seed=11)
    bits = codes > 0
    original, restored = (binaryrnn.float_probabilities(model, codes)
                          for model in (float_model, dequantize(net)))
    assert np.abs(restored - original).max() < 0.01  # another random model: ~0.25

    def bits_per_bit(p1):
        return -np.log2(np.where(bits, p1, 1 - p1)).mean()

    assert bits_per_bit(restored) == pytest.approx(bits_per_bit(original), rel=0.01)


def test_train_entropy_continues_a_dequantized_integer_net_from_pass_zero(tmp_path, tiny_codec):
    import csv
    import json

    from tests.helpers import load_tool
    from tfrnncomp.entropy.training.codes_data import codes_dataset
    from tfrnncomp.entropy.training.quantize import dequantize

    codes = code_file(tmp_path, tiny_codec, iterations=3)
    tensors = [tensor.numpy() for tensor in codes_dataset([codes])]
    model = binaryrnn.build_model(binaryrnn.BinaryRNNConfig(channels=8))
    entropy = quantize(model, tensors, tiny_codec.model_id)
    (tmp_path / "binaryrnn.bin").write_bytes(entropy.to_bytes())
    run, out = str(tmp_path / "run"), str(tmp_path / "continued")
    tool = load_tool("training/dequantize_binaryrnn.py")
    assert tool.main(["--bin", str(tmp_path / "binaryrnn.bin"), "--out", run]) == 0
    with open(os.path.join(run, "source.json")) as handle:
        assert json.load(handle)["entropy_id"] == entropy.entropy_id
    train = load_tool("training/train_entropy.py")
    assert train.main(["--init", run, "--train", codes, "--validation", codes, "--out", out,
                       "--batch-size", "4", "--epochs", "1", "--learning-rate", "0"]) == 0
    with open(os.path.join(out, "log.csv"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0"]  # a fresh log, no best loss to beat
    start = dequantize(tool.load_net(str(tmp_path / "binaryrnn.bin")))
    p1 = np.concatenate([binaryrnn.float_probabilities(start, t).ravel() for t in tensors])
    bits = np.concatenate([(t > 0).ravel() for t in tensors])
    expected = -np.log2(np.where(bits, p1, 1 - p1)).mean()
    assert float(rows[0]["val_loss"]) == pytest.approx(expected, rel=1e-4)
    assert os.path.isfile(os.path.join(out, "float.weights.h5"))


def test_dequantize_binaryrnn_refuses_a_missing_or_foreign_file_in_one_line(
        tmp_path, capsys, net):
    from tests.helpers import load_tool

    tool = load_tool("training/dequantize_binaryrnn.py")
    out = str(tmp_path / "run")
    bad = tmp_path / "bad.bin"
    for data, message in ((None, "cannot read"), (b"PNG garbage", "not a BinaryRNN"),
                          (net.to_bytes()[:200], "not a BinaryRNN")):
        if data is not None:
            bad.write_bytes(data)
        assert tool.main(["--bin", str(bad if data else tmp_path / "absent.bin"),
                          "--out", out]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert tool.main(["--model", str(tmp_path), "--out", out]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not os.path.exists(out)
    os.makedirs(out)
    open(os.path.join(out, "log.csv"), "w").close()  # a run is never overwritten unasked
    bad.write_bytes(net.to_bytes())
    assert tool.main(["--bin", str(bad), "--out", out]) == 2
    assert "--force" in capsys.readouterr().err
