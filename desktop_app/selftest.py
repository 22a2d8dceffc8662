"""``resnet-lens --self-test``: prove an install (above all a frozen build) works, offline.

It starts Qt (offscreen unless ``QT_QPA_PLATFORM`` says otherwise), builds the main window
and paints it once, loads a model on the CPU from a weights file or from weights already on
this computer (bundled, ``RESNET_LENS_WEIGHTS_DIR`` or the torch cache; nothing is
downloaded), classifies a bundled sample with Grad-CAM, and prints one JSON object:
``{"ok": true, ...}`` with exit code 0, or ``{"ok": false, "error": ...}`` with exit code 1.

Windowed frozen apps have no stdout: ``--self-test-output FILE`` writes the JSON there too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from desktop_app import __version__
from desktop_app.core.errors import LensError, WeightsUnavailableError, one_line
from desktop_app.core.resources import ICON_FILE, resource_path, sample_images
from desktop_app.inference.catalog import DEFAULT_MODEL, MODEL_NAMES

SAMPLE = "traffic_light.png"
PAINT_TIMEOUT_MS = 10_000
# Modules whose files show where the code was loaded from (bundle or a Python install).
PROBED_MODULES = ("desktop_app", "torch", "torchvision", "PySide6", "numpy", "PIL", "cv2")


class SelfTestError(LensError):
    """A self-test step failed; the message says which and why."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resnet-lens --self-test",
        description="Check that this installation works: Qt, model loading and inference, "
        "offline. Prints one JSON object; exit code 0 when everything works.",
    )
    parser.add_argument(
        "--weights", type=Path, help="weights file to load (.pth, .pt, .safetensors)"
    )
    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        help="architecture (default: inferred from --weights, else the first model whose "
        f"official weights are on this computer, {DEFAULT_MODEL} first)",
    )
    parser.add_argument(
        "--backend",
        default="auto",
        help="inference backend: auto (default), eager, onednn, torchscript",
    )
    parser.add_argument("--image", type=Path, help=f"image to classify (default: bundled {SAMPLE})")
    parser.add_argument(
        "--no-window", action="store_true", help="skip building and painting the main window"
    )
    parser.add_argument(
        "--self-test-output", type=Path, metavar="FILE", help="also write the JSON result here"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    started = time.perf_counter()
    options = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        result = {"ok": True, **run(options, started)}
    except Exception as exc:  # anything at all is a failed self-test, reported as JSON
        result = {"ok": False, **_failure(exc), **environment()}
    written = _emit(result, options.self_test_output)
    return 0 if result["ok"] and written else 1


def run(options: argparse.Namespace, started: float) -> dict[str, Any]:
    """The checks, in the order the app itself needs them; returns the JSON fields."""
    timings: dict[str, float] = {}
    qt_platform, window = _check_qt(not options.no_window, timings)

    t = time.perf_counter()
    from desktop_app.inference import load_classifier

    model = options.model if options.weights else (options.model or _model_on_disk())
    try:
        clf = load_classifier(
            model, options.weights, device="cpu", download=False, backend=options.backend
        )
    except WeightsUnavailableError as exc:
        raise SelfTestError(
            f"{exc} The self-test never downloads: pass --weights FILE, or build with "
            "bundled weights (packaging/build.py --bundle-weights MODEL)."
        ) from exc
    timings["load_model"] = _ms(t)

    t = time.perf_counter()
    image = options.image or _bundled_sample()
    pred = clf.predict(image, topk=5, cam="gradcam")
    top = pred.topk[0].index
    cam = pred.cams[top] if pred.cams is not None else None
    if cam is None or cam.shape != (pred.image_size[1], pred.image_size[0]):
        raise SelfTestError(f"Grad-CAM map for class {top} has the wrong shape")
    timings["predict"] = _ms(t)
    timings["total"] = _ms(started)
    return {
        "model": clf.model_name,
        "backend": clf.backend,
        "device": clf.device,
        "weights": str(clf.weights_path),
        "image": str(image),
        "icon": resource_path(*ICON_FILE.split("/")).is_file(),
        "image_size": list(pred.image_size),
        "topk": [
            {"label": s.label, "index": s.index, "probability": round(s.probability, 6)}
            for s in pred.topk
        ],
        "cam": {"layer": pred.cam_layer, "classes": sorted(pred.cams or ()), "shape": cam.shape},
        "qt_platform": qt_platform,
        "window": window,
        "timings_ms": {**timings, **{f"predict_{k}": round(v, 1) for k, v in pred.timings.items()}},
        **environment(),
    }


def environment() -> dict[str, Any]:
    """Where and what this process runs: enough to tell a frozen bundle from a venv."""
    modules: dict[str, str | None] = {}
    versions: dict[str, str | None] = {}
    for name in PROBED_MODULES:
        module = sys.modules.get(name)
        modules[name] = getattr(module, "__file__", None) if module else None
        versions[name] = getattr(module, "__version__", None) if module else None
    return {
        "version": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "bundle": getattr(sys, "_MEIPASS", None),
        "executable": sys.executable,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": versions["torch"],
        "torchvision": versions["torchvision"],
        "qt": _qt_version(),
        "module_files": modules,
    }


def _check_qt(show_window: bool, timings: dict[str, float]) -> tuple[str, dict[str, Any] | None]:
    # Offscreen by default: a self-test must work on a machine with no display.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t = time.perf_counter()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "resnet-lens"])
    timings["qt"] = _ms(t)
    platform_name = app.platformName()  # type: ignore[union-attr]
    if not show_window:
        return platform_name, None
    t = time.perf_counter()
    window = _paint_main_window()
    timings["window"] = _ms(t)
    return platform_name, window


def _paint_main_window() -> dict[str, Any]:
    """Build the real main window (its worker not started: no model is loaded) and wait for
    its first paint; proves the UI's modules, icon and Qt plugins are all there."""
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop_app.ui.controllers.worker import TorchEngine
    from desktop_app.ui.main_window import APP_NAME, MainWindow
    from desktop_app.ui.settings import Settings, open_settings

    with tempfile.TemporaryDirectory(prefix="resnet-lens-selftest-") as folder:
        # A private settings file: the self-test must not change the user's settings.
        settings = Settings(open_settings(str(Path(folder) / "settings.ini")))
        window = MainWindow(settings, TorchEngine)
        loop = QEventLoop()
        painted: list[bool] = []
        window.first_painted.connect(lambda: (painted.append(True), loop.quit()))
        QTimer.singleShot(PAINT_TIMEOUT_MS, loop.quit)
        window.show()
        if not painted:
            loop.exec()
        title = window.windowTitle()
        size = [window.width(), window.height()]
        window.shutdown()
        window.close()
        window.deleteLater()
    if not painted:
        raise SelfTestError(f"the main window was not painted within {PAINT_TIMEOUT_MS} ms")
    if title != APP_NAME:
        raise SelfTestError(f"the main window is titled {title!r}, expected {APP_NAME!r}")
    return {"title": title, "size": size}


def _model_on_disk() -> str:
    """The first model whose official weights are already here, the default model first."""
    from desktop_app.inference import weights

    for model in (DEFAULT_MODEL, *(m for m in MODEL_NAMES if m != DEFAULT_MODEL)):
        if weights.official_weights_status(model).path is not None:
            return model
    where = ", ".join(str(d) for d in weights.search_dirs())
    raise SelfTestError(
        f"no official weights on this computer (looked in {where}) and the self-test never "
        "downloads: pass --weights FILE, or build with bundled weights "
        "(packaging/build.py --bundle-weights MODEL)"
    )


def _bundled_sample() -> Path:
    samples = {p.name: p for p in sample_images()}
    if SAMPLE not in samples:
        raise SelfTestError(f"bundled sample {SAMPLE} is missing from {resource_path('samples')}")
    return samples[SAMPLE]


def _qt_version() -> str | None:
    core = sys.modules.get("PySide6.QtCore")
    return getattr(core, "qVersion", lambda: None)() if core else None


def _failure(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, LensError):
        return {"error": one_line(exc)}
    # An unexpected error in a frozen build is a packaging bug: keep where it happened.
    return {
        "error": one_line(exc),
        "traceback": traceback.format_exception(exc),
    }


def _emit(result: dict[str, Any], output: Path | None) -> bool:
    """Print the JSON (windowed frozen apps have sys.stdout = None) and write it to
    ``output``; False when ``output`` cannot be written."""
    text = json.dumps(result, default=str)
    if sys.stdout is not None:
        print(text, flush=True)
    if output is None:
        return True
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        if sys.stderr is not None:
            print(f"resnet-lens: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000.0, 1)
