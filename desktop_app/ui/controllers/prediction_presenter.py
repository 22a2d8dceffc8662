"""Puts a prediction on screen (the top-k list, the selected class's map, the latency) and
takes the user's choice of class; which class that is, the screen state decides."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core.results import Prediction
from desktop_app.ui.controllers.overlay_painter import OverlayPainter
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.screen import ScreenState
from desktop_app.ui.widgets.image_view import ImageView
from desktop_app.ui.widgets.predictions_panel import PredictionsPanel
from desktop_app.ui.widgets.status_panel import StatusPanel


class PredictionPresenter(QObject):
    shown = Signal(object)  # the Prediction now on screen
    note = Signal(str)  # an engine note ("switched to the CPU"), to show once
    changed = Signal()  # what the actions depend on

    def __init__(self, parent: QObject, state: ScreenState, panel: PredictionsPanel,
                 view: ImageView, overlay: OverlayPainter, status: StatusPanel) -> None:
        super().__init__(parent)
        self._state = state
        self._panel = panel
        self._view = view
        self._overlay = overlay
        self._status = status

    @Slot(object)
    def show(self, prediction: Prediction | None) -> None:
        state = self._state
        self._overlay.invalidate()
        if prediction is None:
            state.clear_prediction()
            self._panel.set_prediction(None, None, "")
            self._overlay.render()  # no map: clears the overlay and its legend
            self._status.set_latency(None)
            emit(self.changed)
            return
        selected = state.show_prediction(prediction)
        self._panel.set_prediction(prediction, selected, state.title, state.pin_shown)
        self._overlay.render()
        self._status.set_latency(prediction.timings)
        # Which forward ran: eager at first, the fused one once a background compile is done.
        self._status.device_label.setText(f"Device: {prediction.device}, {prediction.backend}")
        for note in prediction.notes:
            emit(self.note, note)
        emit(self.changed)
        emit(self.shown, prediction)

    @Slot(int)
    def select_class(self, index: int) -> None:
        """Pin class ``index`` (one of the listed classes): its map is shown for this and
        the following predictions while it is listed."""
        if self._state.pin_class(index):
            self._show_choice()

    @Slot()
    def follow_top_class(self) -> None:
        """Release the pin: the map shows each prediction's top class again."""
        if self._state.follow_top():
            self._show_choice()

    @Slot(int)
    def reclick(self, index: int) -> None:
        if self._state.reclick(index):
            self._show_choice()

    def _show_choice(self) -> None:
        self._panel.show_choice(self._state.selected, self._state.pin_shown)
        self._overlay.render()
        emit(self.changed)
