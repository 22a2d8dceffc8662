"""``resnet-lens --self-test`` from source, and the CLI with no stdout/stderr at all
(as in a windowed frozen app, where both are None)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.processes import REPO, run_cli, run_python

from desktop_app.core import resources
from desktop_app.core.errors import LensError

# The child process has no stdout and no stderr, like a windowed frozen app. It writes the
# return value of main() to a file: a crash would leave no file behind.
NO_STDIO = """\
import json, logging, sys
sys.stdout = None
sys.stderr = None
from {module} import main
code = main(json.loads(sys.argv[1]))
logging.getLogger("desktop_app").warning("logging still works with no stderr")
open(sys.argv[2], "w").write(str(code))
"""


def _run_without_stdio(
    module: str, args: list[str], tmp_path: Path, env: dict[str, str] | None = None
) -> int | None:
    code_file = tmp_path / "exit-code.txt"
    code_file.unlink(missing_ok=True)
    done = run_python(NO_STDIO.format(module=module), json.dumps(args), str(code_file), env=env)
    # Nothing may be written to the real stdio by the app either (it has none).
    assert done.stdout == "", done.stdout
    return int(code_file.read_text()) if code_file.exists() else None


def _self_test(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli("--self-test", *args, env=env)


@pytest.mark.slow
def test_self_test_with_no_stdio_writes_json_to_file(resnet18_weights, tmp_path) -> None:
    out = tmp_path / "result" / "self-test.json"
    args = ["--weights", str(resnet18_weights), "--self-test-output", str(out)]
    assert _run_without_stdio("desktop_app.selftest", args, tmp_path) == 0
    result = json.loads(out.read_text())
    assert result["ok"] is True, result
    assert result["model"] == "resnet18"
    assert result["device"] == "cpu"
    # The fast path must work, not silently fall back to eager PyTorch.
    assert result["backend"] in ("onednn", "torchscript")
    assert result["weights"] == str(resnet18_weights)
    assert Path(result["image"]).name == "traffic_light.png"
    assert result["image_size"] == [512, 384]
    assert len(result["topk"]) == 5
    probabilities = [entry["probability"] for entry in result["topk"]]
    assert probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1.0 + 1e-6
    assert result["cam"]["shape"] == [384, 512]
    assert sorted(e["index"] for e in result["topk"]) == result["cam"]["classes"]
    assert result["qt_platform"] == "offscreen"
    assert result["window"]["title"] == "ResNet Lens"
    assert result["icon"] is True
    assert result["frozen"] is False and result["bundle"] is None
    assert result["module_files"]["torch"].startswith(sys.prefix)
    assert result["timings_ms"]["total"] >= result["timings_ms"]["load_model"] > 0


@pytest.mark.slow
def test_self_test_picks_a_model_whose_weights_are_here(resnet18_weights, tmp_path) -> None:
    # A TORCH_HOME of its own holding only resnet18's file (other tests of the session put
    # resnet50's, the default model's, into the shared one).
    only = tmp_path / "torch" / "hub" / "checkpoints" / resnet18_weights.name
    only.parent.mkdir(parents=True)
    shutil.copyfile(resnet18_weights, only)
    done = _self_test("--no-window", env={"TORCH_HOME": str(tmp_path / "torch")})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 1  # exactly one JSON object on stdout
    result = json.loads(lines[0])
    assert result["ok"] is True
    assert result["model"] == "resnet18"
    assert result["weights"] == str(only)
    assert result["window"] is None


@pytest.mark.slow
def test_self_test_without_weights_fails_with_a_clear_message(tmp_path) -> None:
    out = tmp_path / "self-test.json"
    env = {"TORCH_HOME": str(tmp_path / "empty-torch-home")}
    args = ["--no-window", "--self-test-output", str(out)]
    assert _run_without_stdio("desktop_app.selftest", args, tmp_path, env) == 1
    result = json.loads(out.read_text())
    assert result["ok"] is False
    message = result["error"]
    assert "\n" not in message
    assert "--weights FILE" in message
    assert "--bundle-weights" in message
    assert str(tmp_path / "empty-torch-home") in message
    assert "traceback" not in result  # an expected failure, not a bug
    assert not list((tmp_path / "empty-torch-home").rglob("*.pth"))  # nothing downloaded


@pytest.mark.slow
def test_self_test_reports_an_unreadable_image(resnet18_weights, tmp_path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    done = _self_test("--no-window", "--weights", str(resnet18_weights), "--image", str(broken))
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["ok"] is False
    assert "broken.png" in result["error"]


@pytest.mark.slow
def test_self_test_output_that_cannot_be_written_fails(resnet18_weights, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    done = _self_test(
        "--no-window",
        "--weights",
        str(resnet18_weights),
        "--self-test-output",
        str(blocker / "self-test.json"),
    )
    assert done.returncode == 1
    assert json.loads(done.stdout)["ok"] is True  # the checks passed; the report did not land
    assert "cannot write" in done.stderr


@pytest.mark.slow
def test_cli_predict_with_no_stdio(resnet18_weights, tmp_path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)).save(photos / name)
    maps = tmp_path / "maps"
    args = [
        "predict",
        str(photos),
        "--model",
        "resnet18",
        "--json",
        "--topk",
        "2",
        "--cam-dir",
        str(maps),
    ]
    assert _run_without_stdio("desktop_app.cli", args, tmp_path) == 0
    for stem in ("a", "b"):
        written = sorted(maps.glob(f"{stem}.top*.jpg"))  # by default the top class only
        assert [p.name.split("-")[0] for p in written] == [f"{stem}.top1"]
        assert all(Image.open(p).size == (120, 90) for p in written)
    # A failing input goes through the error path (stderr is None there too).
    code = _run_without_stdio(
        "desktop_app.cli",
        ["predict", str(tmp_path / "missing.png"), "--model", "resnet18"],
        tmp_path,
    )
    assert code == 1


def test_resources_from_source() -> None:
    assert resources.resources_root() == REPO / "resources"
    assert resources.resource_path("icons", "resnet-lens.png").is_file()
    assert [p.name for p in resources.sample_images()] == [
        "goldfish.png",
        "honeycomb.png",
        "traffic_light.png",
    ]


def test_resources_inside_a_bundle(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert (
        resources.resource_path("samples", "x.png") == tmp_path / "resources" / "samples" / "x.png"
    )
    with pytest.raises(LensError, match="no sample images in"):
        resources.sample_images()
    (tmp_path / "resources" / "samples").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "resources" / "samples" / "one.png")
    assert resources.sample_images() == [tmp_path / "resources" / "samples" / "one.png"]
