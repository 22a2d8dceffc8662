"""Packaging: resources, the .desktop file, bundled weights, and (slow) a real PyInstaller
build run with no Python visible."""

from __future__ import annotations

import configparser
import importlib.util
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image
from support.processes import REPO, run

from desktop_app.core.errors import LensError
from desktop_app.core.image_io import IMAGE_EXTENSIONS

PACKAGING = REPO / "packaging"
RESOURCES = REPO / "resources"


def _load(name: str) -> ModuleType:
    """A module from packaging/ (a folder of scripts, not a package)."""
    sys.path.insert(0, str(PACKAGING))
    try:
        spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(PACKAGING))


# -- resources ---------------------------------------------------------------------------------


def test_resources_match_their_generator(tmp_path) -> None:
    written = _load("make_resources").write_all(tmp_path)
    pngs = [p for p in written if p.suffix == ".png"]
    assert {p.relative_to(tmp_path).as_posix() for p in pngs} == {
        "icons/resnet-lens.png",
        "samples/goldfish.png",
        "samples/honeycomb.png",
        "samples/traffic_light.png",
    }
    for fresh in pngs:
        committed = RESOURCES / fresh.relative_to(tmp_path)
        a = np.asarray(Image.open(committed), dtype=np.int16)
        b = np.asarray(Image.open(fresh), dtype=np.int16)
        assert a.shape == b.shape, committed
        # Resampling may differ by a level between Pillow versions, never by a drawing.
        assert np.abs(a - b).mean() < 0.5, committed


def test_icon_files() -> None:
    icon = Image.open(RESOURCES / "icons" / "resnet-lens.png")
    assert icon.size == (256, 256) and icon.mode == "RGBA"
    alpha = np.asarray(icon)[..., 3]
    assert alpha[0, 0] == 0 and alpha[128, 100] == 255  # transparent corner, opaque lens
    ico = Image.open(RESOURCES / "icons" / "resnet-lens.ico")
    assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= set(ico.info["sizes"])
    icns = Image.open(RESOURCES / "icons" / "resnet-lens.icns")
    assert icns.format == "ICNS" and icns.size[0] >= 512


def test_samples_are_small_rgb_images() -> None:
    samples = sorted((RESOURCES / "samples").iterdir())
    assert [p.name for p in samples] == ["goldfish.png", "honeycomb.png", "traffic_light.png"]
    for path in samples:
        image = Image.open(path)
        assert image.mode == "RGB" and image.size == (512, 384)
        assert path.stat().st_size < 200_000
        assert np.asarray(image).std() > 20  # a picture, not a flat fill


def test_resources_readme_names_every_file() -> None:
    readme = (RESOURCES / "README.md").read_text(encoding="utf-8")
    for path in RESOURCES.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert f"`{path.relative_to(RESOURCES).as_posix()}`" in readme, path


# -- Linux desktop entry -----------------------------------------------------------------------


def test_desktop_file() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(PACKAGING / "resnet-lens.desktop", encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "ResNet Lens"
    spec = (PACKAGING / "resnet-lens.spec").read_text(encoding="utf-8")
    app = re.search(r'^APP = "([^"]+)"', spec, re.MULTILINE)
    assert app is not None
    assert entry["Exec"].split() == [app.group(1), "%F"]  # the executable the spec builds
    assert entry["TryExec"] == app.group(1)
    assert (RESOURCES / "icons" / f"{entry['Icon']}.png").is_file()
    assert entry["Terminal"] == "false"
    for key in ("Categories", "MimeType", "Keywords"):
        assert entry[key].endswith(";"), key
    if shutil.which("desktop-file-validate"):  # the freedesktop.org checker, when installed
        done = run(["desktop-file-validate", str(PACKAGING / "resnet-lens.desktop")])
        assert done.returncode == 0 and not done.stdout, done.stdout
    for mime in entry["MimeType"].rstrip(";").split(";"):
        extensions = set(mimetypes.guess_all_extensions(mime)) | {f".{mime.split('/')[1]}"}
        assert extensions & set(IMAGE_EXTENSIONS), f"the app does not open {mime}"


# -- bundled weights ---------------------------------------------------------------------------


def test_bundle_weights_by_model_or_file(resnet18_weights) -> None:
    bundled = _load("bundled_weights")
    assert bundled.resolve(["resnet18"]) == [resnet18_weights]
    assert bundled.resolve([str(resnet18_weights), "resnet18"]) == [resnet18_weights]
    assert bundled.resolve([]) == []


def test_bundle_weights_refuses_what_the_app_would_not_find(resnet18_weights, tmp_path) -> None:
    bundled = _load("bundled_weights")
    with pytest.raises(LensError, match=r"resnet-lens weights --fetch resnet34"):
        bundled.resolve(["resnet34"])  # official, but not in the cache
    renamed = tmp_path / "my-resnet18.pth"
    shutil.copy(resnet18_weights, renamed)
    with pytest.raises(LensError, match="torchvision's file names"):
        bundled.resolve([str(renamed)])
    with pytest.raises(LensError, match="not a model"):
        bundled.resolve([str(tmp_path / "missing.pth")])
    with pytest.raises(LensError, match="cannot bundle resnet34"):
        bundled.resolve(["all"])  # every model: most are not cached here


def test_bundle_weights_from_the_environment() -> None:
    bundled = _load("bundled_weights")
    assert bundled.items_from_env(f"resnet18, /a/b.pth{os.pathsep}resnet50,") == [
        "resnet18",
        "/a/b.pth",
        "resnet50",
    ]
    assert bundled.items_from_env("") == []


# -- the frozen app ----------------------------------------------------------------------------


def _no_python_env(home: Path) -> dict[str, str]:
    """No PYTHONPATH/PYTHONHOME, no venv on PATH, a private HOME (no weights cache)."""
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def _run_app(app: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Outside the repository: nothing importable from the working directory.
    return run([str(app), *args], env=_no_python_env(home), inherit_env=False, cwd=home)


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory, resnet18_weights) -> Iterator[Path]:
    """A one-folder build with resnet18's (fake) weights bundled; ~4 GB, removed after."""
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.skip("PyInstaller is not installed (pip install -e .[packaging])")
    root = tmp_path_factory.mktemp("pyinstaller")
    done = run(
        [sys.executable, str(PACKAGING / "build.py"), "--bundle-weights", "resnet18",
         "--dist", str(root / "dist"), "--work", str(root / "work")],
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    shutil.rmtree(root / "work")  # build cache, not needed to run
    yield root / "dist" / "resnet-lens" / "resnet-lens"
    shutil.rmtree(root)  # pytest keeps old temp folders: do not leave GBs behind


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(1800)  # whichever runs first builds the app: 2-5 min idle, more if busy
def test_frozen_self_test_with_bundled_weights(frozen_app, tmp_path) -> None:
    out = tmp_path / "self-test.json"
    done = _run_app(frozen_app, tmp_path, "--self-test", "--self-test-output", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text())
    assert json.loads(done.stdout.splitlines()[-1]) == result
    bundle = str(frozen_app.parent / "_internal")
    assert result["ok"] is True
    assert result["frozen"] is True
    assert result["bundle"] == bundle
    assert result["executable"] == str(frozen_app)
    # Every probed module comes from the bundle, none from the build's virtualenv.
    for module, path in result["module_files"].items():
        assert path is not None and path.startswith(bundle + os.sep), (module, path)
    assert result["model"] == "resnet18"  # the only weights in the bundle
    assert result["weights"] == os.path.join(bundle, "weights", "resnet18-f37072fd.pth")
    # TorchScript works frozen: the fast path is used, not a silent eager fallback.
    assert result["backend"] in ("onednn", "torchscript")
    assert result["qt_platform"] == "offscreen"
    assert result["window"]["title"] == "ResNet Lens"
    assert result["icon"] is True
    assert result["image"] == os.path.join(bundle, "resources", "samples", "traffic_light.png")
    assert len(result["topk"]) == 5 and result["cam"]["shape"] == [384, 512]


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(1800)  # whichever runs first builds the app: 2-5 min idle, more if busy
def test_frozen_self_test_with_weights_by_path(frozen_app, resnet18_weights, tmp_path) -> None:
    custom = tmp_path / "my-finetune.pth"
    shutil.copy(resnet18_weights, custom)
    done = _run_app(frozen_app, tmp_path, "--self-test", "--no-window", "--weights", str(custom))
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["ok"] is True
    assert result["weights"] == str(custom)
    assert result["model"] == "resnet18 (my-finetune.pth)"


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(1800)  # whichever runs first builds the app: 2-5 min idle, more if busy
def test_frozen_torchscript_compiles_from_bundled_sources(frozen_app, tmp_path) -> None:
    # torch.jit.script reads Python source: it fails if the bundle holds only bytecode.
    done = _run_app(frozen_app, tmp_path, "--self-test", "--no-window", "--backend", "torchscript")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["ok"] is True
    assert result["backend"] == "torchscript", done.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(1800)  # whichever runs first builds the app: 2-5 min idle, more if busy
def test_frozen_cli_predicts_offline(frozen_app, tmp_path) -> None:
    sample = frozen_app.parent / "_internal" / "resources" / "samples" / "goldfish.png"
    done = _run_app(frozen_app, tmp_path, "predict", str(sample), "--model", "resnet18", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["file"] == str(sample)
    assert len(result["topk"]) == 5


@pytest.mark.slow
@pytest.mark.packaging
@pytest.mark.timeout(1800)  # whichever runs first builds the app: 2-5 min idle, more if busy
def test_frozen_bundle_is_lean(frozen_app) -> None:
    internal = frozen_app.parent / "_internal"
    assert (internal / "torchvision" / "_C_stable.so").is_file()  # torchvision's operators
    top = {p.name for p in internal.iterdir()}
    for unused in (
        "triton",
        "matplotlib",
        "scipy",
        "sklearn",
        "pytest",
        "hypothesis",
        "pytorch_grad_cam",
        "tkinter",
        "PyInstaller",
        "setuptools",
    ):
        assert unused not in top, unused
    assert not list(internal.rglob("libqgtk3*"))
    assert not list(internal.rglob("libQt6WebEngine*"))
    assert not (internal / "torch" / "include").exists()
