"""Imports point one way: core <- inference/capture <- ui; torch loads lazily."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest
from support.processes import run_python

import desktop_app

PACKAGE_DIR = Path(desktop_app.__file__).parent


def _path(layer: str) -> Path:
    return PACKAGE_DIR.joinpath(*layer.split("."))


def _modules(subpackage: str) -> list[str]:
    return [f"desktop_app.{subpackage}"] + [
        f"desktop_app.{subpackage}.{m.name}"
        for m in pkgutil.iter_modules([str(_path(subpackage))])
    ]


def _loaded_after_import(*modules: str) -> set[str]:
    code = f"import sys, {', '.join(modules)}; print('\\n'.join(sys.modules))"
    out = run_python(code, check=True)
    return {name.split(".")[0] for name in out.stdout.split()} | set(out.stdout.split())


FORBIDDEN = {
    "core": {
        "torch",
        "torchvision",
        "PySide6",
        "desktop_app.inference",
        "desktop_app.ui",
        "desktop_app.capture",
    },
    "capture": {"torch", "torchvision", "PySide6", "desktop_app.inference", "desktop_app.ui"},
    "inference": {"PySide6", "desktop_app.ui", "desktop_app.capture"},
    # The window's Qt-free logic: what is on screen, requests, export formats.
    "ui.state": {
        "torch",
        "torchvision",
        "PySide6",
        "desktop_app.inference",
        "desktop_app.capture",
        "desktop_app.ui.widgets",
        "desktop_app.ui.controllers",
    },
    # Widgets show what they are given: they never reach for the worker or a controller.
    "ui.widgets": {"torch", "torchvision", "desktop_app.capture", "desktop_app.ui.controllers"},
}


@pytest.mark.parametrize("module", [m for layer in FORBIDDEN for m in _modules(layer)])
def test_layer_imports_point_one_way(module: str) -> None:
    layer = next(name for name in sorted(FORBIDDEN, key=len, reverse=True)
                 if module == f"desktop_app.{name}" or module.startswith(f"desktop_app.{name}."))
    loaded = _loaded_after_import(module)
    assert not (FORBIDDEN[layer] & loaded), FORBIDDEN[layer] & loaded


@pytest.mark.parametrize(
    "module",
    [
        "desktop_app.inference",
        "desktop_app.inference.catalog",
        "desktop_app.cli",
        "desktop_app.ui.app",
        "desktop_app.ui.main_window",
    ],
)
def test_torch_is_imported_lazily(module: str) -> None:
    assert "torch" not in _loaded_after_import(module)


@pytest.mark.parametrize("layer", sorted(k for k, v in FORBIDDEN.items() if "PySide6" in v))
def test_no_lazy_qt_import_hides_in_a_qt_free_layer(layer: str) -> None:
    # Catches imports inside functions, which the sys.modules check cannot see.
    for path in _path(layer).rglob("*.py"):
        assert "PySide6" not in path.read_text(encoding="utf-8"), path
