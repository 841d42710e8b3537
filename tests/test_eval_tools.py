"""The visual comparison and the architecture ablation tools (issue #4), on tiny inputs."""

import importlib.util
import inspect
import json
import os
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.conftest import smooth_image
from tfrnncomp import classic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool(name):
    spec = importlib.util.spec_from_file_location(f"tool_{name}", os.path.join(REPO, "tools", name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_automatic_crop_lands_on_the_detailed_part_of_an_image():
    visual = _tool("visual_compare.py")
    image = np.full((200, 300, 3), 128, np.uint8)
    image[96:160, 176:240] = smooth_image(64, 64)[..., :3] // 2 * 2  # texture on a flat field
    x, y = visual.detailed_spot(image, 64)
    assert (x, y) == (176, 96)


def test_the_visual_comparison_matches_file_sizes_and_draws_one_figure(tmp_path, tiny_model_dir):
    pytest.importorskip("matplotlib")
    visual = _tool("visual_compare.py")
    folder = tmp_path / "images"
    folder.mkdir()
    image = smooth_image(192, 192, seed=3)
    Image.fromarray(image).save(folder / "synthetic.png")
    out = tmp_path / "visual"
    assert visual.main(["synthetic.png", "--data", str(folder), "--model", tiny_model_dir,
                        "--bpp", "0.5", "--crop", "128", "--out", str(out)]) == 0
    assert sorted(os.listdir(out)) == ["synthetic.png", "visual.json", "visual.md"]
    record, = json.loads((out / "visual.json").read_text())["records"]
    ours, *others = record["panels"]
    assert ours["codec"] == "tfrnncomp" and ours["setting"] >= 1
    assert abs(ours["bpp"] - 0.5) <= 0.125  # the closest whole iteration
    assert {p["codec"] for p in others} == {"JPEG", "WebP"}
    for panel in others:
        name = "jpeg420" if panel["codec"] == "JPEG" else "webp"
        assert panel["bytes"] <= ours["bytes"]
        larger = [q for q in range(panel["setting"] + 1, 96 if name == "jpeg420" else 101)]
        assert all(len(classic.get(name).encode(image, q)) > ours["bytes"] for q in larger)
    assert "| synthetic.png | 0.5 | tfrnncomp |" in (out / "visual.md").read_text()


def _split_names(fraction, train, validation):
    """File names whose hash puts them in the train / validation split (tfrnncomp.data)."""
    names = {"train": [], "validation": []}
    i = 0
    while len(names["train"]) < train or len(names["validation"]) < validation:
        name = f"photo{i}.png"
        side = "validation" if zlib.crc32(name.encode()) / 2.0**32 < fraction else "train"
        names[side].append(name)
        i += 1
    return names["train"][:train], names["validation"][:validation]


def test_the_ablation_trains_scores_on_validation_and_resumes(tmp_path, capsys):
    ablation = _tool("ablation.py")
    from tfrnncomp import data

    fraction = ablation.Budget().validation_fraction
    assert fraction == inspect.signature(data.patch_dataset).parameters[
        "validation_fraction"].default  # the split training uses
    train, validation = _split_names(fraction, 3, 1)
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed, name in enumerate(train + validation):
        Image.fromarray(smooth_image(192, 224, seed=seed)).save(folder / name)
    out, runs = tmp_path / "out", tmp_path / "runs"
    argv = ["--data", str(folder), "--out", str(out), "--runs", str(runs), "--steps", "2",
            "--steps-per-epoch", "1", "--batch-size", "4", "--iterations", "2",
            "--widths", "0.0625", "--val-images", "4", "--val-crop", "192",
            "--variants", "baseline"]
    assert ablation.main(argv) == 0
    summary = json.loads((out / "ablation.json").read_text())
    variant, = summary["variants"]
    assert summary["validation"]["images"] == validation  # never a training image
    assert summary["validation"]["split_size"] == 1
    assert variant["variant"] == "baseline" and 0 < variant["auc_ms_ssim"] <= 0.125
    result = json.loads((out / "variants" / "baseline.json").read_text())
    assert [p["bpp"] for p in result["points"]] == [0.125, 0.25]  # raw code bits
    run_dir, = os.listdir(runs)
    assert len((runs / run_dir / "log.csv").read_text().splitlines()) == 1 + 2  # two epochs
    assert "| baseline |" in (out / "ablation.md").read_text()
    capsys.readouterr()
    assert ablation.main(argv) == 0  # resumed: nothing is trained again
    assert "done before, skipped" in capsys.readouterr().err
    assert json.loads((out / "ablation.json").read_text())["variants"] == summary["variants"]
    assert ablation.main([*argv[:-2], "--steps", "3", "--variants", "baseline"]) == 2
