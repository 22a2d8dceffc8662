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
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from desktop_app.core.errors import LensError, one_line
from desktop_app.core.results import Prediction
from desktop_app.ui.controllers.background import Background
from desktop_app.ui.controllers.folder_run import FolderRun
from desktop_app.ui.controllers.worker import WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings
from desktop_app.ui.state import export
from desktop_app.ui.state.overlay_layer import DIM_UNSEEN
from desktop_app.ui.state.requests import FolderOutput
from desktop_app.ui.state.screen import ScreenState
from desktop_app.ui.widgets.controls_panel import OverlayControls
from desktop_app.ui.widgets.folder_output_dialog import FolderOutputDialog
from desktop_app.ui.widgets.status_panel import StatusPanel

log = logging.getLogger(__name__)


class ExportController(QObject):
    message = Signal(str, str)  # text, level
    note = Signal(str)  # an engine note during a folder run, to show once
    run_state_changed = Signal()
    # A file of the folder run finished: its position in the run's paths, and its
    # BatchEntry (None: an earlier run into the same output folder did it).
    folder_item = Signal(int, object)

    def __init__(self, window: QWidget, state: ScreenState, background: Background,
                 client: WorkerClient, settings: Settings, overlay_controls: OverlayControls,
                 status: StatusPanel, status_bar: QStatusBar) -> None:
        super().__init__(window)
        self._window = window
        self._state = state
        self._background = background
        self._client = client
        self._settings = settings
        self._overlay_controls = overlay_controls
        self._status = status
        self._status_bar = status_bar
        self._run: FolderRun | None = None
        # Not connected directly: clicked(bool) would pass its False as the reason.
        status.run.cancel_requested.connect(lambda: self.cancel_run())

    # -- the image on screen -------------------------------------------------------------
    def _shown_map(self) -> tuple[Prediction, int, np.ndarray] | None:
        """The prediction on screen, its selected class and the pixels it was made from."""
        state = self._state
        pixels = state.shown_pixels()
        if pixels is None or not state.has_map:
            emit(self.message, "Nothing to save yet: open an image and wait for its "
                               "prediction", "error")
            return None
        assert state.prediction is not None and state.selected is not None
        return state.prediction, state.selected, pixels

    @Slot()
    def ask_save_overlay(self) -> None:
        shown = self._shown_map()
        if shown is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save overlay", self._suggested(shown[0], shown[1], ".png"),
            "PNG image (*.png)")
        if path:
            self._save_overlay(path, *shown)

    def save_overlay(self, path: str | os.PathLike[str]) -> None:
        """Write the selected class's overlay at the image's full size (in the background)."""
        shown = self._shown_map()
        if shown is not None:
            self._save_overlay(path, *shown)

    def _save_overlay(self, path: str | os.PathLike[str], prediction: Prediction, index: int,
                      pixels: np.ndarray) -> None:
        """The overlay at the image's full size, as on screen (same colours and dimming)."""
        colormap = self._overlay_controls.colormap
        opacity = self._overlay_controls.opacity

        def write() -> None:
            from desktop_app.core.overlay import overlay, save_png

            h, w = pixels.shape[:2]
            assert prediction.cams is not None
            cam = prediction.cams.at_size(index, w, h)
            save_png(path, overlay(pixels, cam, colormap, opacity, DIM_UNSEEN))

        self._background.run(_write_file, path, write, callback=self._saved("overlay", path))

    @Slot()
    def ask_save_map(self) -> None:
        shown = self._shown_map()
        if shown is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self._window, "Save raw CAM map", self._suggested(shown[0], shown[1], ".npy"),
            "NumPy array (*.npy)")
        if path:
            self._save_map(path, shown[0], shown[1])

    def save_map(self, path: str | os.PathLike[str]) -> None:
        """Write the selected class's map (float32, NaN where unseen) as .npy."""
        shown = self._shown_map()
        if shown is not None:
            self._save_map(path, shown[0], shown[1])

    def _save_map(self, path: str | os.PathLike[str], prediction: Prediction,
                  index: int) -> None:
        """The class's map at the image's full size: float32 in [0, 1], NaN where unseen."""
        def write() -> None:
            from desktop_app.core.overlay import save_npy

            assert prediction.cams is not None
            save_npy(path, np.asarray(prediction.cams[index], dtype=np.float32))

        self._background.run(_write_file, path, write, callback=self._saved("map", path))

    @Slot()
    def copy_predictions(self) -> None:
        prediction = self._state.prediction
        if prediction is None:
            emit(self.message, "No predictions to copy yet", "error")
            return
        QGuiApplication.clipboard().setText(export.predictions_text(prediction))
        self._status_bar.showMessage("Predictions copied to the clipboard", 3000)

    # -- folder runs ---------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._state.folder_running

    @property
    def results(self) -> list[export.BatchEntry]:
        return list(self._state.folder_results)

    @property
    def cancellable(self) -> bool:
        """A folder run is under way and not yet cancelled (stopping, it only finishes its
        batch)."""
        run = self._run
        return run is not None and run.active and run.stop_reason is None

    @property
    def folder_run(self) -> FolderRun | None:
        return self._run

    def classify_all(self, paths: list[Path], topk: int, *, cam_method: str = "gradcam",
                     cam_layer: str | None = None, output: FolderOutput | None = None) -> None:
        """Classify every opened file (a folder run), with progress and cancel; with
        ``output``, also write its results and overlays there."""
        if not self._may_start(paths):
            return
        run = FolderRun(paths, topk, self._client.submit, cam_method=cam_method,
                        cam_layer=cam_layer, output=output, parent=self)
        run.progress.connect(self._on_run_progress)
        run.map_progress.connect(self._status.show_map_progress)
        run.item.connect(self._on_run_item)
        run.skipped.connect(lambda position: emit(self.folder_item, position, None))
        run.stopping.connect(self._status.show_stopping)
        run.stopping.connect(lambda: emit(self.run_state_changed))  # no longer cancellable
        run.finished.connect(self._on_run_finished)
        run.note.connect(self.note)
        self._run = run
        self._state.folder_started()
        run.start()
        emit(self.run_state_changed)

    def _may_start(self, paths: list[Path]) -> bool:
        """A folder run needs files to classify, and only one runs at a time."""
        if not paths:
            emit(self.message, "Open a folder or several images first (Ctrl+Shift+O)",
                 "error")
            return False
        return not self.running

    def ask_classify_and_write(self, paths: list[Path], topk: int, *,
                               cam_method: str = "gradcam",
                               cam_layer: str | None = None) -> None:
        """Ask where to write the folder's results and overlays, then classify it all."""
        if not self._may_start(paths):
            return
        dialog = FolderOutputDialog(self._window, str(default_output_folder(paths)),
                                    self._overlay_controls.colormap,
                                    self._overlay_controls.opacity)
        if dialog.exec() != FolderOutputDialog.DialogCode.Accepted:
            return
        output = dialog.output()
        self.classify_all(paths, topk, cam_method=cam_method, cam_layer=cam_layer,
                          output=output)

    @Slot()
    def cancel_run(self, reason: str = "cancelled") -> None:
        """Stop the folder run after the worker's current batch (kept, as on disk)."""
        if self._run is not None and self._run.active:
            waiting = self._client.cancel("batch")
            self._run.cancel(reason, wait=not waiting)

    def forget_results(self) -> None:
        """The list of images changed: a run over the old list stops, and the results, no
        longer those of the images shown, cannot be exported as if they were."""
        run = self._run
        if run is not None and run.active:
            self._client.cancel("batch")
            run.finished.disconnect(self._on_run_finished)
            run.cancel("other images were opened")
            self._status.show_progress(None)
            emit(self.message, f"Classification stopped after {len(run.entries)} of "
                               f"{len(run.paths)} images: other images were opened", "info")
        self._run = None
        self._state.images_changed()
        emit(self.run_state_changed)

    @Slot()
    def ask_export_results(self) -> None:
        if not self._state.folder_results:
            emit(self.message, "No results to export: classify the images first (Ctrl+R)",
                 "error")
            return
        start = str(Path(self._settings.last_dir or Path.home()) / "resnet-lens-results.csv")
        path, chosen = QFileDialog.getSaveFileName(self._window, "Export results", start,
                                                   "CSV (*.csv);;JSON (*.json)")
        if path:
            if not Path(path).suffix:
                path += ".json" if "json" in chosen.lower() else ".csv"
            self.export_results(path)

    def export_results(self, path: str | os.PathLike[str]) -> None:
        entries = list(self._state.folder_results)
        self._background.run(_write_file, path, lambda: export.write_results(path, entries),
                             callback=self._saved(f"{len(entries)} results", path))

    @Slot(int, int)
    def _on_run_progress(self, done: int, total: int) -> None:
        self._status.show_progress((done, total))

    @Slot(int, object)
    def _on_run_item(self, position: int, entry: export.BatchEntry) -> None:
        self._state.folder_result(entry)
        emit(self.folder_item, position, entry)

    @Slot(bool)
    def _on_run_finished(self, stopped: bool) -> None:
        run = self._run
        if run is None:
            return
        self._status.show_progress(None)
        self._state.folder_finished()
        ok = len(run.entries) - run.failures
        text = f"Classified {ok} of {len(run.paths)} images"
        if run.failures:
            text += f" ({run.failures} could not be read)"
        if run.skipped_count:
            text += f"; {run.skipped_count} already done in the output folder were skipped"
        if stopped:
            text += f"; stopped: {run.stop_reason}" if run.stop_reason else "; stopped"
        text += ". File > Export results saves them."
        if run.output is not None:
            text += f" Results: {run.output.results_file}, overlays (JPEG) beside it"
            if run.result is not None:
                text += f" ({run.result.maps} written by this run)"
            text += "."
        emit(self.message, text, "info")
        emit(self.run_state_changed)

    # -- helpers -------------------------------------------------------------------------
    def _suggested(self, prediction: Prediction, index: int, suffix: str) -> str:
        name = export.map_file_name(prediction, index, suffix)
        return str(Path(self._settings.last_dir or Path.home()) / name)

    def _saved(self, what: str, target: str | os.PathLike[str]) -> Any:
        def done(path: str | None, error: str | None) -> None:
            if error is not None:
                # Named here: the OS's own text may name only the temporary file.
                emit(self.message, f"Saving the {what} to {target} failed: {error}", "error")
            else:
                self._settings.last_dir = str(Path(str(path)).parent)
                emit(self.message, f"Saved the {what} to {path}", "info")

        return done


def default_output_folder(paths: list[Path]) -> Path:
    """Beside the images' folder, not in it (a folder is opened with its sub-folders: the
    overlays would join the images next time). The same folder each time, so that a
    second run resumes the first."""
    folder = paths[0].parent
    return folder.parent / f"{folder.name}-resnet-lens"


def _write_file(path: str | os.PathLike[str], write: Callable[[], object]) -> str:
    """Run ``write`` (an atomic writer) in the background pool; returns ``path`` for the
    callback. An OSError becomes its reason alone ("No space left on device")."""
    try:
        write()
    except OSError as exc:
        raise LensError(one_line(exc)) from exc
    return str(path)
