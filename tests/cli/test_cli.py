"""The ``resnet-lens`` command line, run as a user would: a separate process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.processes import run_cli, run_python

from desktop_app.cli import FORWARDS_TO_COMPILE


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(root / "a.png")
    Image.fromarray(rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)).save(root / "b.jpg")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    (root / "notes.txt").write_text("not an image, and not picked from a folder")
    return root


def test_predict_folder_json_with_a_bad_file(folder, resnet18_weights) -> None:
    result = run_cli("predict", str(folder), "--model", "resnet18", "--json", "--topk", "3")
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    lines = [d for d in records if "topk" in d]
    assert [Path(d["file"]).name for d in lines] == ["a.png", "b.jpg"]
    assert all(len(d["topk"]) == 3 and d["model"] == "resnet18" for d in lines)
    assert lines[0]["image_size"] == [320, 240]
    # Two images take fewer forwards than building the fused forward would save.
    assert {d["backend"] for d in lines} == {"eager"}
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "broken.jpg" in errors[0] and "Traceback" not in result.stderr
    # A program reading stdout learns what is missing, and why, without parsing stderr.
    failed = [d for d in records if "topk" not in d]
    assert [(Path(d["file"]).name, d["error"]) for d in failed] == [("broken.jpg", errors[0][
        len("resnet-lens: "):])]


def test_a_folder_of_many_images_builds_the_fused_forward(tmp_path, resnet18_weights) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(5)
    for i in range(FORWARDS_TO_COMPILE):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(
            photos / f"{i:02d}.png")
    result = run_cli("predict", str(photos), "--model", "resnet18", "--json", "--topk", "1")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == FORWARDS_TO_COMPILE
    assert {d["backend"] for d in lines} <= {"onednn", "torchscript"}


def test_predict_writes_npy_maps_at_image_size(folder, tmp_path, resnet18_weights) -> None:
    out = tmp_path / "maps"
    result = run_cli(
        "predict",
        str(folder / "a.png"),
        "--model",
        "resnet18",
        "--topk",
        "2",
        "--cam-dir",
        str(out),
        "--cam-format",
        "npy",
        "--cam-classes",
        "topk",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    # One photo never waits for a compile: eager PyTorch is fastest for a single forward.
    assert json.loads(result.stdout)["backend"] == "eager"
    maps = sorted(out.glob("*.npy"))
    assert len(maps) == 2 and maps[0].name.startswith("a.top1-")
    m = np.load(maps[0])
    assert m.shape == (240, 320) and m.dtype == np.float32 and np.isnan(m).any()


def test_predict_writes_png_overlays_and_chosen_classes(folder, tmp_path, resnet18_weights) -> None:
    out = tmp_path / "overlays"
    result = run_cli(
        "predict",
        str(folder / "b.jpg"),
        "--model",
        "resnet18",
        "--cam-dir",
        str(out),
        "--cam-classes",
        "1,2",
        "--cam-layer",
        "layer3",
        "--cam-format",
        "png",
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2
    assert all(n.endswith(("-1.gradcam.layer3.png", "-2.gradcam.layer3.png")) for n in names)
    with Image.open(out / names[0]) as im:
        assert im.size == (200, 300) and im.mode == "RGB"


def test_missing_input_is_one_line_and_loads_no_model(tmp_path) -> None:
    """Nothing to classify: no download is attempted and no message about weights."""
    result = run_cli("predict", str(tmp_path / "nope.png"), "--model", "resnet101",
                     env={"TORCH_HOME": str(tmp_path / "home")})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"resnet-lens: {tmp_path / 'nope.png'}: no such file or folder"]


def test_offline_weights_are_one_line(tmp_path, folder) -> None:
    result = run_cli("predict", str(folder / "a.png"), str(tmp_path / "nope.png"), "--model",
                     "resnet101", env={"TORCH_HOME": str(tmp_path / "home")})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "nope.png: no such file" in lines[0]
    assert "resnet101-cd907fc2.pth" in lines[1] and "--weights" in lines[1]
    assert "Traceback" not in result.stderr


def test_weights_command_lists_cache(resnet18_weights) -> None:
    result = run_cli("weights")
    assert result.returncode == 0
    assert f"cache folder: {resnet18_weights.parent}" in result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("resnet18 "))
    assert str(resnet18_weights) in row
    assert "not present" in next(r for r in result.stdout.splitlines() if r.startswith("resnet152"))


def test_weights_fetch_offline_fails_clearly(tmp_path) -> None:
    result = run_cli("weights", "--fetch", "resnet34", env={"TORCH_HOME": str(tmp_path / "h")})
    assert result.returncode == 1
    assert "resnet34-b627a593.pth" in result.stderr
    assert not list((tmp_path / "h").rglob("*.part"))


@pytest.fixture(scope="module")
def three_class_model(tmp_path_factory) -> Path:
    """A custom ResNet-18 checkpoint with three classes (labels a, b, c beside it)."""
    import torch
    import torchvision

    folder = tmp_path_factory.mktemp("three")
    torch.manual_seed(0)
    torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), folder / "three.pth")
    (folder / "three.txt").write_text("a\nb\nc\n")
    return folder / "three.pth"


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--cam-layer", "layer5", "layer1, layer2, layer3, layer4, or a block: layer1.0-layer1.1"),
    ("--cam-layer", "layer3.9", "layer3.0-layer3.1"),
    ("--topk", "0", "from 1 up"),
    ("--topk", "many", "from 1 up"),
    ("--cam-classes", "7", "this model has 3 classes, 0-2"),
    ("--cam-classes", "-1", "from 0 up"),
    ("--cam-classes", "top2", "expected top1, topk or class indices"),
    ("--cluster", "rai", "expected ray or ray://HOST:PORT"),
    ("--colormap", "rainbow", "choose from jet, turbo"),
    ("--alpha", "1.5", "from 0 to 1"),
    ("--cam-dir", "{image}", "a.png: a file, not a folder"),
    ("--cam-dir", "{image}/maps", "Not a directory"),
    ("--out", "{tmp}", "a folder, not a file"),
    ("--out", "{image}/results.jsonl", "a.png: a file, not a folder"),
    ("--cam", "gradcam,nope", "unknown CAM method nope; choose from gradcam, hirescam"),
    ("--metrics", "deletion,nope", "unknown metric nope; choose from deletion, insertion, road"),
])
def test_a_bad_argument_is_one_line_naming_it_with_exit_status_2(
        folder, tmp_path, three_class_model, option, value, says) -> None:
    value = value.format(image=folder / "a.png", tmp=tmp_path)
    result = run_cli("predict", str(folder / "a.png"), "--weights", str(three_class_model),
                     "--cam-dir", str(tmp_path / "maps"), option, value)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    # argparse's own errors come after its usage lines; ours are the error line alone.
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"resnet-lens predict: error: argument {option}: ")
    assert says in errors[0]
    assert result.stderr.strip().splitlines()[-1] == errors[0]


def test_bench_reports_stage_medians_and_the_ratio_to_eager(resnet18_weights) -> None:
    result = run_cli(
        "bench", "--models", "resnet18", "--runs", "3", "--warmup", "1", "--size", "320x240"
    )
    assert result.returncode == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if line.startswith("model"))
    row = next(line for line in result.stdout.splitlines() if line.startswith("resnet18"))
    columns = dict(zip(header.split()[3:], row.split()[3:], strict=False))
    name, device, backend, *numbers = row.split()
    assert (name, device) == ("resnet18", "cpu") and backend in ("onednn", "torchscript", "eager")
    decode, preprocess, forward, cam, maps, total, eager, ratio = map(float, numbers)
    assert columns["decode"] == numbers[0] and columns["total"] == numbers[5]
    assert min(preprocess, forward, cam, maps, eager) > 0 and decode >= 0
    # Medians of each stage need not add up exactly, but none can exceed the total.
    assert max(decode, preprocess, forward, cam, maps) <= total
    assert ratio == pytest.approx(total / eager, abs=0.006)  # printed with two decimals


def test_help_lists_commands_without_loading_torch_or_qt() -> None:
    """--help is instant because it imports neither torch (~4 s) nor Qt."""
    code = ("import sys\nfrom desktop_app.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit as exit:\n    assert exit.code == 0\n"
            "print(sorted(m for m in ('torch', 'PySide6', 'cv2') if m in sys.modules))")
    result = run_python(code, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    for command in ("predict", "train", "sanity", "weights", "bench"):
        assert command in result.stdout


def test_predict_scores_each_methods_maps(folder, resnet18_weights) -> None:
    result = run_cli("predict", str(folder / "a.png"), "--model", "resnet18", "--topk", "1",
                     "--cam", "gradcam,eigencam", "--metrics", "deletion", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    # Scoring sends dozens of perturbed images through the forward: one photo is enough
    # to build the fused one.
    assert record["backend"] in ("onednn", "torchscript")
    top = str(record["topk"][0]["index"])
    assert set(record["metrics"]) == {"gradcam", "eigencam"}
    for method in ("gradcam", "eigencam"):
        assert list(record["metrics"][method]) == [top]
        assert 0.0 <= record["metrics"][method][top]["deletion"] <= 1.0
    assert record["maps"] == []  # scored without --cam-dir: nothing written
    result = run_cli("predict", str(folder / "a.png"), "--model", "resnet18", "--topk", "1",
                     "--metrics", "deletion")
    assert result.returncode == 0, result.stderr
    label = record["topk"][0]["label"]
    assert result.stdout.splitlines()[1] == (
        f"  gradcam {label} ({top}): deletion "
        f"{record['metrics']['gradcam'][top]['deletion']:.3f}")
