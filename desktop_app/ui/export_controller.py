"""Saving what the window shows (overlay PNG, raw map, clipboard text) and classifying a
whole list of files, with its CSV/JSON export. File writing runs in the background pool."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.errors import LensError, one_line
from desktop_app.core.results import Prediction
from desktop_app.ui import export
from desktop_app.ui.background import Background
from desktop_app.ui.folder_run import FolderRun
from desktop_app.ui.overlay_layer import DIM_UNSEEN
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.requests import PredictResult, WorkerFailure
from desktop_app.ui.settings import Settings
from desktop_app.ui.status_panel import StatusPanel
from desktop_app.ui.worker import WorkerClient

log = logging.getLogger(__name__)


class ExportController(QObject):
    message = Signal(str, str)  # text, level
    run_state_changed = Signal()

    def __init__(self, window: QWidget, background: Background, client: WorkerClient,
                 settings: Settings, status: StatusPanel) -> None:
        super().__init__(window)
        self._window = window
        self._background = background
        self._client = client
        self._settings = settings
        self._status = status
        self._run: FolderRun | None = None
        self._results: list[export.BatchEntry] = []
        status.cancel_button.clicked.connect(self.cancel_run)

    # -- the image on screen -------------------------------------------------------------
    def ask_save_overlay(self, prediction: Prediction, index: int, pixels: np.ndarray,
                         colormap: str, opacity: float) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save overlay", self._suggested(prediction, index, ".png"),
            "PNG image (*.png)")
        if path:
            self.save_overlay(path, prediction, index, pixels, colormap, opacity)

    def save_overlay(self, path: str | os.PathLike[str], prediction: Prediction, index: int,
                     pixels: np.ndarray, colormap: str, opacity: float) -> None:
        """The overlay at the image's full size, as on screen (same colours and dimming)."""
        def write() -> None:
            from desktop_app.core.overlay import overlay, save_png

            h, w = pixels.shape[:2]
            assert prediction.cams is not None
            cam = prediction.cams.at_size(index, w, h)
            save_png(path, overlay(pixels, cam, colormap, opacity, DIM_UNSEEN))

        self._background.run(_write_file, path, write, callback=self._saved("overlay", path))

    def ask_save_map(self, prediction: Prediction, index: int) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save raw Grad-CAM map", self._suggested(prediction, index, ".npy"),
            "NumPy array (*.npy)")
        if path:
            self.save_map(path, prediction, index)

    def save_map(self, path: str | os.PathLike[str], prediction: Prediction, index: int) -> None:
        """The class's map at the image's full size: float32 in [0, 1], NaN where unseen."""
        def write() -> None:
            from desktop_app.core.overlay import save_npy

            assert prediction.cams is not None
            save_npy(path, np.asarray(prediction.cams[index], dtype=np.float32))

        self._background.run(_write_file, path, write, callback=self._saved("map", path))

    def copy_predictions(self, prediction: Prediction) -> None:
        QGuiApplication.clipboard().setText(export.predictions_text(prediction))

    # -- folder runs ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._run is not None and self._run.active

    @property
    def results(self) -> list[export.BatchEntry]:
        return list(self._results)

    @property
    def folder_run(self) -> FolderRun | None:
        return self._run

    def classify_all(self, paths: list[Path], topk: int) -> None:
        if self.running:
            return
        run = FolderRun(paths, topk, lambda request: self._client.submit("batch", request),
                        self)
        run.progress.connect(self._on_run_progress)
        run.finished.connect(self._on_run_finished)
        self._run = run
        run.start()
        # After start: until then the run is not active, and Export would stay enabled.
        emit(self.run_state_changed)

    @Slot()
    def cancel_run(self, reason: str = "cancelled") -> None:
        if self._run is not None and self._run.active:
            self._client.discard("batch")
            self._run.cancel(reason)

    def forget_results(self) -> None:
        """The list of images changed: a run over the old list stops, and the results, no
        longer those of the images shown, cannot be exported as if they were."""
        run = self._run
        if run is not None and run.active:
            self._client.discard("batch")
            run.finished.disconnect(self._on_run_finished)
            run.cancel("other images were opened")
            self._status.show_progress(None)
            emit(self.message, f"Classification stopped after {len(run.entries)} of "
                               f"{len(run.paths)} images: other images were opened", "info")
        self._run = None
        self._results = []
        emit(self.run_state_changed)

    def handle_result(self, result: PredictResult) -> None:
        if self._run is not None:
            self._run.handle_result(result)

    def handle_failure(self, failure: WorkerFailure) -> None:
        if self._run is not None:
            self._run.handle_failure(failure)

    def ask_export_results(self) -> None:
        start = str(Path(self._settings.last_dir or Path.home()) / "resnet-lens-results.csv")
        path, chosen = QFileDialog.getSaveFileName(self._window, "Export results", start,
                                                   "CSV (*.csv);;JSON (*.json)")
        if path:
            if not Path(path).suffix:
                path += ".json" if "json" in chosen.lower() else ".csv"
            self.export_results(path)

    def export_results(self, path: str | os.PathLike[str]) -> None:
        entries = list(self._results)
        self._background.run(_write_file, path, lambda: export.write_results(path, entries),
                             callback=self._saved(f"{len(entries)} results", path))

    @Slot(int, int)
    def _on_run_progress(self, done: int, total: int) -> None:
        self._status.show_progress((done, total))

    @Slot(bool)
    def _on_run_finished(self, stopped: bool) -> None:
        run = self._run
        if run is None:
            return
        self._status.show_progress(None)
        self._results = list(run.entries)
        ok = len(run.entries) - run.failures
        text = f"Classified {ok} of {len(run.paths)} images"
        if run.failures:
            text += f" ({run.failures} could not be read)"
        if stopped:
            text += f"; stopped: {run.stop_reason}" if run.stop_reason else "; stopped"
        emit(self.message, text + ". File > Export results saves them.", "info")
        emit(self.run_state_changed)

    # -- helpers -------------------------------------------------------------------------
    def _suggested(self, prediction: Prediction, index: int, suffix: str) -> str:
        stem = export.file_stem(prediction.source)
        return str(Path(self._settings.last_dir or Path.home()) / f"{stem}-class{index}{suffix}")

    def _saved(self, what: str, target: str | os.PathLike[str]) -> Any:
        def done(path: str | None, error: str | None) -> None:
            if error is not None:
                # Named here: the OS's own text may name only the temporary file.
                emit(self.message, f"Saving the {what} to {target} failed: {error}", "error")
            else:
                self._settings.last_dir = str(Path(str(path)).parent)
                emit(self.message, f"Saved the {what} to {path}", "info")

        return done


def _write_file(path: str | os.PathLike[str], write: Callable[[], object]) -> str:
    """Run ``write`` (an atomic writer) in the background pool; returns ``path`` for the
    callback. An OSError becomes its reason alone ("No space left on device")."""
    try:
        write()
    except OSError as exc:
        raise LensError(one_line(exc)) from exc
    return str(path)
