"""*Score this map*: deletion, insertion and ROAD of the map on screen, computed by the
worker (a SCORE request: the newest wins, progress and cancel), shown beside the map."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.ui.controllers.image_list import Still
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.cam_choice import method_title
from desktop_app.ui.state.requests import (
    CountProgress,
    FailureReason,
    ScoreRequest,
    ScoreResult,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.state.screen import ScreenState, Source
from desktop_app.ui.widgets.score_panel import ScorePanel

IDLE_NOTE = "How much the class depends on the pixels the map marks."


class ScoreController(QObject):
    message = Signal(str, str)  # text, level
    running_changed = Signal()  # a scoring began or ended

    def __init__(self, parent: QObject, state: ScreenState, client: WorkerClient,
                 panel: ScorePanel) -> None:
        super().__init__(parent)
        self._state = state
        self._client = client
        self._panel = panel
        self._reply = Reply(self._on_result, self._on_failure, self._on_progress)
        self._pending: int | None = None  # the request being computed (see ``_set_pending``)
        self._scored: tuple[int, int] | None = None  # (id(prediction), class) on the panel
        self._refusal: str | None = None  # why the panel's note says scoring was refused
        panel.score_requested.connect(self.score)
        panel.cancel_requested.connect(self.cancel)
        panel.show_scores(None, IDLE_NOTE)

    @property
    def running(self) -> bool:
        return self._pending is not None

    def _set_pending(self, request_id: int | None) -> None:
        was_running = self.running
        self._pending = request_id
        if self.running != was_running:
            emit(self.running_changed)

    def _shown_key(self) -> tuple[int, int] | None:
        state = self._state
        if not state.has_map or state.selected is None:
            return None
        return id(state.prediction), state.selected

    def _why_not(self) -> str | None:
        """Why the map on screen cannot be scored now, or None if it can."""
        state = self._state
        if state.source is Source.LIVE:
            return ("Freeze the frame first (Space): scoring a map takes about a "
                    "hundred forward passes, too many for live frames.")
        if not state.has_map or not isinstance(state.still, Still):
            return "Nothing to score yet: open an image and wait for its map."
        return None

    @Slot()
    def score(self) -> None:
        """Score the map on screen; a running live source must be frozen first."""
        refusal = self._why_not()
        if refusal is not None:
            self._refusal = refusal
            self._panel.show_scores(None, refusal)
            emit(self.message, refusal, "info")
            return
        self._refusal = None
        state, still = self._state, self._state.still
        assert isinstance(still, Still)
        prediction, index = state.prediction, state.selected
        assert prediction is not None and prediction.cams is not None and index is not None
        request = ScoreRequest(next_request_id(), still.model_source, still.name, index,
                               prediction.cams[index])
        self._set_pending(request.id)
        self._scored = (id(prediction), index)
        self._panel.show_running(0, None)
        self._client.submit(request, self._reply)

    @Slot()
    def cancel(self) -> None:
        """Stop the scoring; the panel says so at once (a request still waiting in the
        mailbox is dropped unanswered, one running fails as cancelled and is ignored)."""
        if self._pending is not None:
            self._set_pending(None)
            self._client.cancel("score")
            self._panel.show_scores(None, "Scoring cancelled.")

    @Slot()
    def map_changed(self) -> None:
        """Another map is on screen: the scores shown (or being computed) are not its,
        and a refusal whose reason is gone (the frame frozen, the video stopped) is stale."""
        if self._refusal is not None and self._refusal != self._why_not():
            self._refusal = None
            self._panel.show_scores(None, IDLE_NOTE)
        if self._scored is None or self._shown_key() == self._scored:
            return
        self._scored = None
        if self._pending is not None:
            self._set_pending(None)
            self._client.cancel("score")
        self._panel.show_scores(None, IDLE_NOTE)

    def _on_progress(self, progress: CountProgress) -> None:
        if progress.request_id == self._pending:
            self._panel.show_running(progress.done, progress.total)

    def _on_result(self, result: ScoreResult) -> None:
        if result.request.id != self._pending:
            return
        self._set_pending(None)
        prediction = self._state.prediction
        method = method_title(prediction.cam_method if prediction is not None else None)
        layer = prediction.cam_layer if prediction is not None else ""
        self._panel.show_scores(
            result.scores, f"{method} · {layer}, class {result.request.class_index} "
            f"({result.worker_ms / 1000:.1f} s)", result.curves)

    def _on_failure(self, failure: WorkerFailure) -> None:
        if failure.request_id != self._pending:
            return
        self._set_pending(None)
        if failure.reason is FailureReason.CANCELLED:  # superseded in the worker
            self._panel.show_scores(None, "Scoring cancelled.")
            return
        self._panel.show_scores(None, failure.message)
        emit(self.message, f"Scoring the map failed: {failure.message}", "error")
