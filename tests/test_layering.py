"""Imports point one way: core <- inference/capture <- ui; torch loads lazily."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest
from support.processes import run_python

import desktop_app

PACKAGE_DIR = Path(desktop_app.__file__).parent


def _modules(subpackage: str) -> list[str]:
    path = PACKAGE_DIR / subpackage
    return [f"desktop_app.{subpackage}"] + [
        f"desktop_app.{subpackage}.{m.name}" for m in pkgutil.iter_modules([str(path)])
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
}


@pytest.mark.parametrize("module", [m for layer in FORBIDDEN for m in _modules(layer)])
def test_layer_imports_point_one_way(module: str) -> None:
    layer = module.split(".")[1]
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


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_lazy_qt_import_hides_in_a_qt_free_layer(layer: str) -> None:
    # Catches imports inside functions, which the sys.modules check cannot see.
    for path in (PACKAGE_DIR / layer).rglob("*.py"):
        assert "PySide6" not in path.read_text(encoding="utf-8"), path
