"""*Compare*: every CAM method's map of each top-k class of the image on screen (or of
one class at each layer), scored and ranked, filled job by job by the worker (its own
COMPARE slot, one request at a time: the window never waits), cheapest first; a cancel
keeps what is done. Switching the columns starts over on what is on screen."""

from __future__ import annotations

import os
from collections.abc import Callable
from html import escape
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.atomic import write_text_atomically
from desktop_app.core.results import CamMaps
from desktop_app.inference.catalog import CAM_METHODS
from desktop_app.ui.controllers.image_list import Still
from desktop_app.ui.controllers.model_controller import ModelController
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.cam_choice import HEAD_LAYER, method_title
from desktop_app.ui.state.compare import Columns, CompareCell, CompareGrid, layer_columns
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
    open_cell = Signal(str, int, str)  # method, class, layer: show it in the main view

    def __init__(self, window: QWidget, state: ScreenState, client: WorkerClient,
                 models: ModelController, overlay_controls: OverlayControls) -> None:
        super().__init__(window)
        self._window = window
        self._state = state
        self._client = client
        self._models = models
        self._overlay = overlay_controls
        self.dialog: CompareDialog | None = None
        self.grid: CompareGrid | None = None
        self.columns = Columns.CLASSES  # what the next grid's columns are
        self._maps: dict[tuple[str, str], CamMaps] = {}  # (method, layer): its maps
        self._still: Still | None = None
        self._topk = 0
        self._pending: int | None = None
        self._scoring: CompareCell | None = None  # the cell the pending scoring is for
        self._reply = Reply(self._on_result, self._on_failure)

    @property
    def running(self) -> bool:
        return self._pending is not None

    @Slot()
    def start(self) -> None:
        """Compare every method on the image on screen: for its top-k classes, or for the
        class on screen at each layer the layer picker offers (``columns``)."""
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
        info = self._models.info
        layer = prediction.cam_layer or HEAD_LAYER
        layers = info.cam_layers if info is not None else (layer,)
        if self.columns is Columns.LAYERS:
            index = state.selected if state.selected is not None else prediction.topk[0].index
            label = next((s.label for s in prediction.topk if s.index == index), str(index))
            pinned = state.pin is not None and state.pin.index == index
            self.grid = CompareGrid.by_layers(CAM_METHODS, index, label,
                                              layer_columns(layers, layer), layers,
                                              pinned=pinned)
            headers = [(c.key, f"<b>{c.layer}</b>") for c in self.grid.columns]
            corner = (f"<b>{escape(label)}</b><br>class {index}, "
                      f"{'pinned' if pinned else 'the top class'}")
        else:
            self.grid = CompareGrid.by_classes(
                CAM_METHODS, [(s.index, s.label) for s in prediction.topk], layer, layers)
            headers = [(c.key, f"<b>{escape(c.label)}</b><br>class {c.class_index}")
                       for c in self.grid.columns]
            corner = f"at <b>{layer}</b>"
        self._maps, self._still, self._topk = {}, still, len(prediction.topk)
        if self.dialog is None:
            self.dialog = CompareDialog(self._window)
            self.dialog.cell_clicked.connect(self._on_cell_clicked)
            self.dialog.columns_chosen.connect(self.set_columns)
            self.dialog.cancel_requested.connect(self.cancel)
            self.dialog.export_png_requested.connect(self._ask_png)
            self.dialog.export_csv_requested.connect(self._ask_csv)
            self.dialog.finished.connect(lambda _r: self.cancel())
        self.dialog.set_columns(self.columns)
        self.dialog.set_grid([(m, method_title(m)) for m in self.grid.methods], headers,
                             corner)
        self.dialog.setWindowTitle(f"Compare explanations — {still.name}")
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()  # the keyboard goes to the grid the user asked for
        self._next()

    @Slot(object)
    def set_columns(self, by: Columns) -> None:
        """Columns by class or by layer; a grid on screen starts over (what it had done is
        for the other columns)."""
        if by is self.columns:
            return
        self.columns = by
        if self.dialog is not None and self.dialog.isVisible():
            self.start()

    @Slot()
    def cancel(self) -> None:
        """Stop; the finished cells stay."""
        if self._pending is None:
            return
        self._pending = None
        self._client.cancel(Kind.COMPARE.slot)
        self._stopped("Cancelled")

    def _stopped(self, what: str) -> None:
        self._show_progress(what)
        if self.grid is not None:  # the cells left say so, not "waiting…"
            for cell in self.grid.cells.values():
                if cell.scores is None:
                    self._show_cell(cell)

    def _next(self) -> None:
        grid, still = self.grid, self._still
        assert grid is not None and still is not None
        job = grid.next_job()
        if job is None:
            self._pending = None
            self._show_progress("Done")
            return
        if isinstance(job, CompareCell):
            self._scoring = job
            column = job.column
            saliency = self._maps[job.method, column.layer][column.class_index]
            request: PredictRequest | ScoreRequest = ScoreRequest(
                next_request_id(), still.model_source, still.name, column.class_index,
                saliency, kind=Kind.COMPARE)
        else:
            request = PredictRequest(
                id=next_request_id(), image=still.model_source, source=still.name,
                kind=Kind.COMPARE, topk=self._topk, cam_layer=job.layer,
                cam_method=job.method, cam_classes=job.classes)
        self._pending = request.id
        self._show_progress("Computing")
        if isinstance(job, CompareCell):
            self._show_cell(job)
        self._client.submit(request, self._reply)

    def _show_progress(self, what: str) -> None:
        grid, dialog = self.grid, self.dialog
        if grid is None or dialog is None:
            return
        total = len(grid.cells)
        if grid.by is Columns.LAYERS:
            c = grid.columns[0]
            which = "pinned" if grid.pinned else "the top class"
            scope = f"{c.label} (class {c.class_index}, {which}) at each layer"
        else:
            scope = f"the top-{len(grid.columns)} classes at {grid.columns[0].layer}"
        dialog.set_running(grid.done, total, f"{what}: {grid.done} of {total} cells scored, "
                           f"{scope}; ranked within each column by insertion − deletion "
                           f"+ ROAD", self._pending is not None)

    def _on_result(self, result: PredictResult | ScoreResult) -> None:
        grid = self.grid
        if grid is None or result.request.id != self._pending:
            return
        if isinstance(result, PredictResult):
            request = result.request
            assert result.prediction.cams is not None and request.cam_layer is not None
            self._maps[request.cam_method, request.cam_layer] = result.prediction.cams
            for cell in grid.mapped(request.cam_method, request.cam_layer):
                self._show_cell(cell, new_map=True)
        else:
            scored = self._scoring
            assert scored is not None
            key = scored.column.key
            grid.set_scores(scored.method, key, result.scores)
            for method in grid.methods:  # ranks within the column may have moved
                self._show_cell(grid.cells[method, key])
        self._next()

    def _on_failure(self, failure: WorkerFailure) -> None:
        if failure.request_id != self._pending:
            return
        self._pending = None
        self._stopped(f"Stopped ({failure.message})")
        emit(self.message, f"Compare stopped: {failure.message}", "error")

    def cell_map(self, method: str, key: int | str) -> np.ndarray:
        """The map of a mapped cell, in the image's pixels (as ``Prediction.cams``)."""
        assert self.grid is not None
        column = self.grid.cells[method, key].column
        return self._maps[method, column.layer][column.class_index]

    def _show_cell(self, cell: CompareCell, *, new_map: bool = False) -> None:
        dialog, still = self.dialog, self._still
        if dialog is None or still is None:
            return
        image = self._thumbnail(cell) if new_map else None
        if cell.scores is not None:
            s = cell.scores
            text = (f"#{cell.rank}  del {s['deletion']:.2f} ins {s['insertion']:.2f}\n"
                    f"ROAD {s['road']:.3f}")
        elif self._pending is None:
            text = "not scored" if cell.mapped else "not computed"
        elif cell is self._scoring:
            text = "scoring…"
        else:
            text = "to be scored" if cell.mapped else "waiting…"
        dialog.set_cell(cell.method, cell.column.key, image, text)

    def _thumbnail(self, cell: CompareCell) -> QImage:
        from desktop_app.core.colormaps import lut

        assert self._still is not None
        photo = self._still.qimage.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                          Qt.TransformationMode.SmoothTransformation)
        photo = photo.convertToFormat(QImage.Format.Format_ARGB32)
        column = cell.column
        cam = self._maps[cell.method, column.layer].at_size(column.class_index, photo.width(),
                                                            photo.height())
        layer = rgba_to_qimage(cam_rgba(cam, lut(self._overlay.colormap),
                                        self._overlay.opacity))
        painter = QPainter(photo)
        painter.drawImage(0, 0, layer)
        painter.end()
        return photo

    @Slot(str, object)
    def _on_cell_clicked(self, method: str, key: int | str) -> None:
        assert self.grid is not None
        column = self.grid.cells[method, key].column
        emit(self.open_cell, method, column.class_index, column.layer)

    # -- exports ----------------------------------------------------------------------------
    def _ask(self, suffix: str, title: str, kind: str) -> str | None:
        still, grid = self._still, self.grid
        by_layer = "-layers" if grid is not None and grid.by is Columns.LAYERS else ""
        start = f"{file_stem(still.name if still else None)}.compare{by_layer}{suffix}"
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

