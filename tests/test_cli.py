"""The ``resnet-lens`` command line, run as a user would: a separate process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from PIL import Image


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
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(d["file"]).name for d in lines] == ["a.png", "b.jpg"]
    assert all(len(d["topk"]) == 3 and d["model"] == "resnet18" for d in lines)
    assert lines[0]["image_size"] == [320, 240]
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and "broken.jpg" in errors[0] and "Traceback" not in result.stderr


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
    )
    assert result.returncode == 0, result.stderr
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
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 2 and all(n.endswith(("-1.png", "-2.png")) for n in names)
    with Image.open(out / names[0]) as im:
        assert im.size == (200, 300) and im.mode == "RGB"


def test_missing_input_and_offline_weights_are_one_line(tmp_path) -> None:
    result = run_cli(
        "predict",
        str(tmp_path / "nope.png"),
        "--model",
        "resnet101",
        env={"TORCH_HOME": str(tmp_path / "home")},
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert any("nope.png: no such file" in line for line in lines)
    assert any("resnet101-cd907fc2.pth" in line and "--weights" in line for line in lines)
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


def test_bench_runs(resnet18_weights) -> None:
    result = run_cli(
        "bench", "--models", "resnet18", "--runs", "2", "--warmup", "1", "--size", "320x240"
    )
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("resnet18"))
    assert len(row.split()) == 11  # model, device, backend, 6 stages, eager, ratio


def test_help_is_fast_and_lists_commands() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("predict", "weights", "bench"):
        assert command in result.stdout
