"""The still on screen (a file, pasted data, a frozen frame): showing it, asking the worker
for its prediction whenever k, the layer or the model change, and taking the answer.

A slow method's map (a forward pass per channel) shows its count and a Cancel; a cancel
stops the worker between batches and asks for the prediction without a map instead, and
offers the map again (a button, F5) until the still's request changes."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.ui.controllers.image_list import Still
from desktop_app.ui.controllers.model_controller import NO_MODEL, ModelController, ModelState
from desktop_app.ui.controllers.prediction_presenter import PredictionPresenter
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.cam_choice import live_capable, method_title
from desktop_app.ui.state.requests import (
    CountProgress,
    FailureReason,
    Kind,
    PredictRequest,
    PredictResult,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.state.screen import ScreenState
from desktop_app.ui.widgets.image_view import ImageView
from desktop_app.ui.widgets.predictions_panel import PredictionsPanel


class StillController(QObject):
    message = Signal(str, str)  # text, level
    title = Signal(str)  # the still's name, for the window's title
    running_changed = Signal()  # a slow map began or ended
    offer_changed = Signal()  # a cancelled slow map's "Compute" button came or went

    def __init__(self, parent: QObject, state: ScreenState, client: WorkerClient,
                 models: ModelController, presenter: PredictionPresenter, view: ImageView,
                 panel: PredictionsPanel) -> None:
        super().__init__(parent)
        self._state = state
        self._client = client
        self._models = models
        self._presenter = presenter
        self._view = view
        self._panel = panel
        self._reply = Reply(self._on_result, self._on_failure, self._on_progress)
        self._slow: PredictRequest | None = None  # the slow map being computed
        # After a cancel: the map-less request sent instead, and what to say under its header.
        self._cancelled: tuple[int, str] | None = None
        self._offered = False  # the cancelled map can be asked for again (compute_map)
        panel.map_progress.cancel_requested.connect(self.cancel_map)
        panel.compute_map_button.clicked.connect(lambda: self.compute_map())

    @property
    def running(self) -> bool:
        """A slow method's map is being computed."""
        return self._slow is not None

    @property
    def map_offered(self) -> bool:
        """A slow method's map was cancelled on the still shown: ``compute_map`` asks again."""
        return self._offered

    def _offer(self, slow: PredictRequest | None) -> None:
        offered = slow is not None
        self._panel.offer_map(method_title(slow.cam_method) if slow is not None else None)
        if offered != self._offered:
            self._offered = offered
            emit(self.offer_changed)

    def _set_slow(self, request: PredictRequest | None) -> None:
        was_running = self.running
        self._slow = request
        if request is None:
            self._panel.map_progress.finish()
        else:
            self._panel.map_progress.show_count(0, None)  # busy until the first count
        if self.running != was_running:
            emit(self.running_changed)

    @Slot(object)
    def show(self, still: Still) -> None:
        self._state.show_still(still)
        self._presenter.show(None)
        self._view.set_image(still.qimage)
        emit(self.title, still.name)
        self.classify()

    @Slot(int, str)
    def failed(self, _row: int, message: str) -> None:
        self._set_slow(None)
        self._offer(None)
        self._state.still_failed()
        self._presenter.show(None)
        self._view.show_unreadable(message)
        self._panel.set_message(message)

    @Slot()
    def classify(self) -> None:
        """Ask for the still's prediction (again: k, the layer or the model changed)."""
        self._offer(None)  # the request changes: a cancelled map is no longer the question
        still = self._state.still
        if not self._state.wants_still_prediction or not isinstance(still, Still):
            return
        if self._models.state is ModelState.FAILED:
            self._panel.set_message(NO_MODEL)
            return
        request = PredictRequest(
            id=next_request_id(), image=still.model_source, source=still.name,
            kind=Kind.STILL, topk=self._panel.topk, cam_layer=self._models.cam_layer,
            cam_method=self._models.cam_method,
        )
        self._state.ask(request.id)
        slow = not live_capable(request.cam_method, request.cam_layer)
        self._set_slow(request if slow else None)  # the newest request wins
        if self._state.prediction is None:
            ready = self._models.state is ModelState.READY
            self._panel.set_message("Classifying…" if ready else "Waiting for the model…")
        elif slow:
            # A map that costs a forward pass per channel can take minutes: without a word
            # the map still on screen (another method's) passes for the answer.
            self._panel.set_note(_computing(request))
        self._client.submit(request, self._reply)

    @Slot()
    def cancel_map(self) -> None:
        """Stop the slow map being computed: the worker stops between batches, and the
        still's prediction comes back without a map (one forward pass), saying why."""
        slow = self._slow
        if slow is None:
            return
        self._set_slow(None)
        self._client.cancel(Kind.STILL.slot)
        request = dataclasses.replace(slow, id=next_request_id(), want_cams=False)
        note = (f"{method_title(slow.cam_method)} map cancelled: the prediction is shown "
                f"without a map.")
        self._cancelled = (request.id, note)
        self._state.ask(request.id)
        self._panel.set_note(note)
        self._offer(slow)
        emit(self.message, note, "info")
        self._client.submit(request, self._reply)

    @Slot()
    def compute_map(self) -> None:
        """The map cancelled on the still shown, after all (its button, F5)."""
        if self._offered:
            self.classify()  # the same method, layer and k: any change withdrew the offer

    @Slot()
    def source_changed(self) -> None:
        """A live source started or resumed: its frames replace the slow map's request."""
        if not self._state.wants_still_prediction:
            self._set_slow(None)
            self._offer(None)

    def _on_progress(self, progress: CountProgress) -> None:
        if self._slow is not None and progress.request_id == self._slow.id:
            if self._state.prediction is None:
                # Counting: the model is loaded and classifying is the quick part, so not
                # "Waiting for the model…" or "Classifying…" for minutes.
                self._panel.set_message(_computing(self._slow))
            self._panel.map_progress.show_count(progress.done, progress.total)

    def _on_result(self, result: PredictResult) -> None:
        still = self._state.still
        if isinstance(still, Still) and self._state.is_current_still(result.request.id):
            self._set_slow(None)
            # Named as the still is ("pasted image"), not as the bytes the model decoded.
            self._presenter.show(dataclasses.replace(result.prediction,
                                                     source=still.decoded.name))
            if self._cancelled is not None and self._cancelled[0] == result.request.id:
                self._panel.set_note(self._cancelled[1])

    def _on_failure(self, failure: WorkerFailure) -> None:
        if self._state.is_current_still(failure.request_id):
            self._set_slow(None)
        if failure.reason is FailureReason.NO_MODEL:
            return  # the model's own failure was reported already
        if self._state.is_current_still(failure.request_id):
            self._panel.set_message(failure.message)
            emit(self.message, failure.message, "error")


def _computing(request: PredictRequest) -> str:
    return f"Computing the {method_title(request.cam_method)} map…"
