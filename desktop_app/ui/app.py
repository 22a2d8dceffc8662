"""Start the window: ``resnet-lens [IMAGE...]`` and ``python -m desktop_app``.

The window is shown before PyTorch is imported: the worker thread starts (and imports
torch) only once the window has painted, so the user sees it at once and the status bar
says the model is loading.

Set ``RESNET_LENS_EVENTS=<file>`` to have milestones ("window_visible", "model_ready",
"first_prediction") appended to that file as JSON lines with wall-clock times; the
benchmark and the screenshot script read them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from desktop_app.cli import _model_options, _positive_int
from desktop_app.core.process import configure_logging, exit_now, on_termination
from desktop_app.core.resources import ICON_FILE, resource_path
from desktop_app.ui.controllers.worker import EngineFactory, TorchEngine
from desktop_app.ui.main_window import APP_NAME, MainWindow
from desktop_app.ui.settings import THEMES, Settings, open_settings
from desktop_app.ui.widgets.theme import apply_theme

log = logging.getLogger(__name__)

EVENTS_ENV = "RESNET_LENS_EVENTS"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="resnet-lens",
        description="See what a ResNet sees: top-k classes and Grad-CAM maps.",
    )
    parser.add_argument("paths", nargs="*", metavar="IMAGE",
                        help="images, folders or a video file to open")
    _model_options(parser)  # the same options and types as ``predict``
    # Not given, the device is the one of last time (saved settings), not "auto".
    parser.set_defaults(device=None)
    parser.add_argument("--camera", type=int, metavar="N", help="start camera N at launch")
    parser.add_argument("--theme", choices=THEMES, help="colour theme (default: as last time)")
    # Checked here: torch refuses 0 or fewer only when the first image is classified.
    parser.add_argument("--threads", type=_positive_int, metavar="N", help="PyTorch CPU threads")
    parser.add_argument("--settings", metavar="FILE",
                        help="keep settings in this .ini file instead of the user's")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO if args.verbose else logging.WARNING,
                      "%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args.paths, model=args.model, weights=_text(args.weights),
               labels=_text(args.labels), device=args.device, camera=args.camera, theme=args.theme,
               threads=args.threads, settings_path=args.settings, exit_process=True)


def _text(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def run(paths: Sequence[str | os.PathLike[str]] = (), *, model: str | None = None,
        weights: str | None = None, labels: str | None = None, device: str | None = None,
        camera: int | None = None, theme: str | None = None, threads: int | None = None,
        settings_path: str | None = None, engine_factory: EngineFactory | None = None,
        exit_process: bool = False) -> int:
    """Open the window on ``paths`` and run the event loop; returns the exit code.

    ``exit_process=True`` (the command line) ends the process once the window has shut
    down, without waiting for a worker stuck inside torch (``core.process.exit_now``)."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("ResNetLens")
    app.setDesktopFileName("resnet-lens")  # ties the window to packaging's .desktop entry
    icon = resource_path(ICON_FILE)
    if icon.is_file():  # an installed wheel ships no resources/
        app.setWindowIcon(QIcon(str(icon)))
    settings = Settings(open_settings(settings_path))
    if theme is not None:
        settings.theme = theme
    apply_theme(app, settings.theme)
    window = MainWindow(settings, engine_factory or partial(TorchEngine, threads),
                        model=model, weights=weights, labels=labels, device=device)
    window.leave_busy_worker = exit_process
    events = _EventLog(os.environ.get(EVENTS_ENV), window)
    window.first_painted.connect(events.on_window_visible)
    window.client.worker.model_ready.connect(events.on_model_ready)
    window.prediction_shown.connect(events.on_prediction_shown)

    # The worker (and its torch import) starts once the window is on screen; the timer
    # covers platforms that never paint a hidden or minimised window.
    window.first_painted.connect(lambda: window.start(camera))
    QTimer.singleShot(1000, lambda: window.start(camera))
    window.show()
    if paths:
        window.open_paths(paths)
    restore_signals = _close_on_signals(window)
    try:
        code = app.exec()
    finally:
        window.shutdown()
        restore_signals()
    if exit_process:
        # Here, while ``window`` (and so its worker's QThread) is still referenced. Exit
        # handlers run, except while the worker runs: PySide6's would destroy its QThread,
        # and ours (capture) have nothing left to do.
        exit_now(code, run_exit_handlers=not window.client.running)
    return code


def _close_on_signals(window: MainWindow) -> Callable[[], None]:
    """Ctrl+C in the terminal, and SIGTERM (logout, ``kill``), close the window cleanly:
    settings saved, threads stopped. Returns what restores the previous handlers. Python
    handles signals only when it runs, so a timer wakes it while Qt waits.

    Python runs a signal handler at its next bytecode, which may be inside Python code
    that Qt called: a paint event, say. Closing there destroys the native window while its
    backing store is still being painted ("QBackingStore::flush() called for QWidgetWindow
    which does not have a handle"), so the handler only queues the close for the event
    loop, which runs it once the current event is done."""
    restore = on_termination(lambda: QTimer.singleShot(0, window.close))
    timer = QTimer(window, interval=100)
    timer.timeout.connect(lambda: None)
    timer.start()
    return restore


class _EventLog(QObject):
    """Milestones appended to a file as JSON lines (a QObject, so that the worker's
    signals reach it through the GUI thread's queue)."""

    def __init__(self, path: str | None, parent: QObject) -> None:
        super().__init__(parent)
        self._path = Path(path) if path else None
        self._predicted = False

    def write(self, event: str, **fields: Any) -> None:
        if self._path is None:
            return
        record = {"event": event, "time": time.time(), **fields}
        try:
            with self._path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
        except OSError as exc:
            log.warning("cannot write event to %s: %s", self._path, exc)

    @Slot()
    def on_window_visible(self) -> None:
        self.write("window_visible")

    @Slot(object)
    def on_model_ready(self, info: Any) -> None:
        self.write("model_ready", model=info.model, load_ms=info.load_ms)

    @Slot(object)
    def on_prediction_shown(self, prediction: Any) -> None:
        if not self._predicted:
            self._predicted = True
            top = prediction.topk[0] if prediction.topk else None
            self.write("first_prediction", label=top.label if top else None,
                       source=prediction.source, timings=dict(prediction.timings))


if __name__ == "__main__":
    raise SystemExit(main())
