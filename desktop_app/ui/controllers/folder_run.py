"""Classify every image of a folder, one request at a time, keeping what came back.

The run feeds the worker's "batch" slot with one image and sends the next when its result
arrives, so interactive requests (which the worker takes first) are never stuck behind a
thousand queued files, and cancelling simply stops sending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from desktop_app.ui.controllers.worker import Reply
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.export import BatchEntry
from desktop_app.ui.state.requests import (
    FailureReason,
    Kind,
    PredictRequest,
    PredictResult,
    WorkerFailure,
    next_request_id,
)

log = logging.getLogger(__name__)


class FolderRun(QObject):
    progress = Signal(int, int)  # done, total
    finished = Signal(bool)  # True when cancelled or stopped early
    # An engine note (e.g. "CUDA ran out of memory; switched to the CPU"): it concerns the
    # rest of the run too.
    note = Signal(str)

    def __init__(self, paths: Sequence[Path], topk: int,
                 submit: Callable[[PredictRequest, Reply], None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = list(paths)
        self.entries: list[BatchEntry] = []
        self.session = next_request_id()
        self.stop_reason: str | None = None
        self._topk = topk
        self._submit = submit
        self._pending: PredictRequest | None = None
        self._active = False
        self._reply = Reply(self.handle_result, self.handle_failure)

    @property
    def active(self) -> bool:
        return self._active

    @property
    def failures(self) -> int:
        return sum(entry.prediction is None for entry in self.entries)

    def start(self) -> None:
        self._active = True
        emit(self.progress, 0, len(self.paths))
        if self.paths:
            self._send_next()
        else:
            self._active = False
            emit(self.finished, False)

    def cancel(self, reason: str = "cancelled") -> None:
        if self._active:
            self._active = False
            self._pending = None
            self.stop_reason = reason
            emit(self.finished, True)

    def handle_result(self, result: PredictResult) -> bool:
        """Take ``result`` if it belongs to this run; True when it did."""
        if not self._owns(result.request.id):
            return False
        self.entries.append(BatchEntry(result.request.source, result.prediction))
        for note in result.prediction.notes:
            emit(self.note, note)
        self._advance()
        return True

    def handle_failure(self, failure: WorkerFailure) -> bool:
        if not self._owns(failure.request_id):
            return False
        self.entries.append(BatchEntry(failure.source, error=failure.message))
        if failure.reason is FailureReason.NO_MODEL:
            self.cancel(failure.message)
            return True
        self._advance()
        return True

    def _owns(self, request_id: int) -> bool:
        return self._active and self._pending is not None and self._pending.id == request_id

    def _advance(self) -> None:
        emit(self.progress, len(self.entries), len(self.paths))
        if len(self.entries) >= len(self.paths):
            self._active = False
            self._pending = None
            emit(self.finished, False)
        else:
            self._send_next()

    def _send_next(self) -> None:
        path = self.paths[len(self.entries)]
        self._pending = PredictRequest(
            id=next_request_id(), image=str(path), source=str(path), kind=Kind.BATCH,
            topk=self._topk, cam_layer=None, want_cams=False, session=self.session,
        )
        self._submit(self._pending, self._reply)
