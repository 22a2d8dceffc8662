"""*Compare*: every CAM method's map of each top-k class of the image on screen, scored
and ranked, filled cell by cell by the worker (its own COMPARE slot, one request at a
time: the window never waits), cheapest method first; a cancel keeps what is done."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.atomic import write_text_atomically
from desktop_app.core.results import CamMaps
from desktop_app.inference.catalog import CAM_METHODS
from desktop_app.ui.controllers.image_list import Still
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.cam_choice import method_title
from desktop_app.ui.state.compare import CompareGrid
from desktop_app.ui.state.export import file_stem
from desktop_app.ui.state.overlay_layer import cam_rgba
from desktop_app.ui.state.requests import (
    Kind,
    PredictRequest,
    PredictResult,
    ScoreRequest,
    ScoreResult,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.state.screen import ScreenState, Source
from desktop_app.ui.widgets.compare_dialog import THUMB, CompareDialog
from desktop_app.ui.widgets.controls_panel import OverlayControls
from desktop_app.ui.widgets.qt_image import qimage_to_rgb, rgba_to_qimage


class CompareController(QObject):
    message = Signal(str, str)  # text, level
    open_cell = Signal(str, int)  # method, class: show it in the main view

    def __init__(self, window: QWidget, state: ScreenState, client: WorkerClient,
                 overlay_controls: OverlayControls) -> None:
        super().__init__(window)
        self._window = window
        self._state = state
        self._client = client
        self._overlay = overlay_controls
        self.dialog: CompareDialog | None = None
        self.grid: CompareGrid | None = None
        self._maps: dict[str, CamMaps] = {}
        self._still: Still | None = None
        self._pending: int | None = None
        self._scoring: tuple[str, int] | None = None  # the cell the pending scoring is for
        self._reply = Reply(self._on_result, self._on_failure)

    @property
    def running(self) -> bool:
        return self._pending is not None

    @Slot()
    def start(self) -> None:
        """Compare every method on the image on screen, for its top-k classes."""
        state, still, prediction = self._state, self._state.still, self._state.prediction
        if state.source is Source.LIVE:
            emit(self.message, "Freeze the frame first (Space): Compare runs every method, "
                               "too slow for live frames.", "info")
            return
        if prediction is None or not prediction.topk or not isinstance(still, Still):
            emit(self.message, "Nothing to compare yet: open an image and wait for its "
                               "prediction.", "error")
            return
        self.cancel()
        classes = [(s.index, s.label) for s in prediction.topk]
        self.grid = CompareGrid.plan(CAM_METHODS, classes, prediction.cam_layer or "layer4")
        self._maps, self._still = {}, still
        if self.dialog is None:
            self.dialog = CompareDialog(self._window)
            self.dialog.cell_clicked.connect(self._on_cell_clicked)
            self.dialog.cancel_requested.connect(self.cancel)
            self.dialog.export_png_requested.connect(self._ask_png)
            self.dialog.export_csv_requested.connect(self._ask_csv)
            self.dialog.finished.connect(lambda _r: self.cancel())
        self.dialog.set_grid([(m, method_title(m)) for m in self.grid.methods], classes)
        self.dialog.setWindowTitle(f"Compare explanations — {still.name}")
        self.dialog.show()
        self.dialog.raise_()
        self._next()

    @Slot()
    def cancel(self) -> None:
        """Stop; the finished cells stay."""
        if self._pending is None:
            return
        self._pending = None
        self._client.cancel(Kind.COMPARE.slot)
        self._show_progress("Cancelled")

    def _next(self) -> None:
        grid, still = self.grid, self._still
        assert grid is not None and still is not None
        cell = grid.next_score()
        layer = grid.layer
        if cell is not None:
            self._scoring = (cell.method, cell.class_index)
            saliency = self._maps[cell.method][cell.class_index]
            request: PredictRequest | ScoreRequest = ScoreRequest(
                next_request_id(), still.model_source, still.name, cell.class_index,
                saliency, kind=Kind.COMPARE)
        else:
            method = grid.next_map()
            if method is None:
                self._pending = None
                self._show_progress("Done")
                return
            request = PredictRequest(
                id=next_request_id(), image=still.model_source, source=still.name,
                kind=Kind.COMPARE, topk=len(grid.classes), cam_layer=layer,
                cam_method=method, cam_classes=tuple(c for c, _ in grid.classes))
        self._pending = request.id
        self._show_progress("Computing")
        self._client.submit(request, self._reply)

    def _show_progress(self, what: str) -> None:
        grid, dialog = self.grid, self.dialog
        if grid is None or dialog is None:
            return
        total = len(grid.cells)
        dialog.set_running(grid.done, total, f"{what}: {grid.done} of {total} cells scored "
                           f"(at {grid.layer}; ranked within each class: insertion − deletion "
                           f"+ ROAD)", self._pending is not None)

    def _on_result(self, result: PredictResult | ScoreResult) -> None:
        grid = self.grid
        if grid is None or result.request.id != self._pending:
            return
        if isinstance(result, PredictResult):
            method = result.request.cam_method
            assert result.prediction.cams is not None
            self._maps[method] = result.prediction.cams
            for index, _label in grid.classes:
                grid.cells[method, index].mapped = True
                self._show_cell(method, index)
        else:
            assert self._scoring is not None
            method = self._scoring[0]
            grid.set_scores(method, result.request.class_index, result.scores)
            for m in grid.methods:  # ranks within the class may have moved
                self._show_cell(m, result.request.class_index)
        self._next()

    def _on_failure(self, failure: WorkerFailure) -> None:
        if failure.request_id != self._pending:
            return
        self._pending = None
        self._show_progress(f"Stopped ({failure.message})")
        emit(self.message, f"Compare stopped: {failure.message}", "error")

    def _show_cell(self, method: str, index: int) -> None:
        grid, dialog, still = self.grid, self.dialog, self._still
        if grid is None or dialog is None or still is None:
            return
        cell = grid.cells[method, index]
        image = self._thumbnail(method, index) if cell.mapped else None
        if cell.scores is None:
            text = "scoring…" if cell.mapped else "waiting…"
        else:
            s = cell.scores
            text = (f"#{cell.rank}  del {s['deletion']:.2f} ins {s['insertion']:.2f}\n"
                    f"ROAD {s['road']:.3f}")
        dialog.set_cell(method, index, image, text)

    def _thumbnail(self, method: str, index: int) -> QImage:
        from desktop_app.core.colormaps import lut

        assert self._still is not None
        photo = self._still.qimage.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation)
        photo = photo.convertToFormat(QImage.Format.Format_ARGB32)
        cam = self._maps[method].at_size(index, photo.width(), photo.height())
        layer = rgba_to_qimage(cam_rgba(cam, lut(self._overlay.colormap),
                                        self._overlay.opacity))
        painter = QPainter(photo)
        painter.drawImage(0, 0, layer)
        painter.end()
        return photo

    @Slot(str, int)
    def _on_cell_clicked(self, method: str, index: int) -> None:
        emit(self.open_cell, method, index)

    # -- exports ----------------------------------------------------------------------------
    def _ask(self, suffix: str, title: str, kind: str) -> str | None:
        still = self._still
        start = f"{file_stem(still.name if still else None)}.compare{suffix}"
        path, _ = QFileDialog.getSaveFileName(self.dialog, title, start, kind)
        return path or None

    @Slot()
    def _ask_png(self) -> None:
        path = self._ask(".png", "Export the grid", "PNG image (*.png)")
        if path:
            self.export_png(path)

    @Slot()
    def _ask_csv(self) -> None:
        path = self._ask(".csv", "Export the scores", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_png(self, path: str | os.PathLike[str]) -> None:
        """The grid as on screen, as one PNG."""
        from desktop_app.core.overlay import save_png

        assert self.dialog is not None
        image = self.dialog.grid_image()
        self._saved("grid", path, lambda: save_png(path, qimage_to_rgb(image)))

    def export_csv(self, path: str | os.PathLike[str]) -> None:
        """Every cell's scores and rank (unscored cells with empty scores)."""
        assert self.grid is not None
        text = self.grid.csv_text()
        self._saved("scores", path, lambda: write_text_atomically(Path(path), text))

    def _saved(self, what: str, path: str | os.PathLike[str],
               write: Callable[[], object]) -> None:
        # In the GUI thread: a CSV of a few dozen rows, a PNG of the grid on screen.
        try:
            write()
        except OSError as error:
            emit(self.message, f"Saving the {what} to {path} failed: {error}", "error")
            return
        emit(self.message, f"Saved the {what} to {path}", "info")

