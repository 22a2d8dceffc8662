"""Classify every opened file as one folder request: the worker runs the command line's
pipeline on it and reports each file as it finishes, in order.

The worker lets the still on screen and live frames in between its batches, so browsing
stays responsive. A cancel stops it after the current batch (a second or so), whose
results are kept: the window then lists exactly what the output folder holds. A slow map
(Score-CAM: seconds to minutes an image) counts its channels for the image under way, and a
cancel stops it between two batches of them, that image left for a resumed run.
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
    CountProgress,
    FailureReason,
    FolderItem,
    FolderOutput,
    FolderRunRequest,
    FolderRunResult,
    WorkerFailure,
    next_request_id,
)

log = logging.getLogger(__name__)


class FolderRun(QObject):
    progress = Signal(int, int)  # done (skipped ones included), total
    map_progress = Signal(int, int)  # forwards done, total: the slow map of the image under way
    item = Signal(int, object)  # position in the run's paths, BatchEntry (a result or error)
    skipped = Signal(int)  # position of a file an earlier run into the same output did
    stopping = Signal()  # cancelled: the worker finishes its batch (a slow map's) first
    finished = Signal(bool)  # True when cancelled or stopped early
    # An engine note (e.g. "CUDA ran out of memory; switched to the CPU"): it concerns the
    # rest of the run too.
    note = Signal(str)

    def __init__(self, paths: Sequence[Path], topk: int,
                 submit: Callable[[FolderRunRequest, Reply], None], *,
                 cam_method: str = "gradcam", cam_layer: str | None = None,
                 output: FolderOutput | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.paths = list(paths)
        self.output = output
        self.entries: list[BatchEntry] = []
        self.skipped_count = 0
        self.stop_reason: str | None = None
        self.result: FolderRunResult | None = None
        self._request = FolderRunRequest(next_request_id(), tuple(str(p) for p in self.paths),
                                         topk, cam_method, cam_layer, output)
        self._submit = submit
        self._active = False
        self._notes: set[str] = set()

    @property
    def active(self) -> bool:
        return self._active

    @property
    def failures(self) -> int:
        return sum(entry.prediction is None for entry in self.entries)

    @property
    def done(self) -> int:
        return len(self.entries) + self.skipped_count

    def start(self) -> None:
        self._active = True
        emit(self.progress, 0, len(self.paths))
        if not self.paths:
            self._active = False
            emit(self.finished, False)
            return
        self._submit(self._request, Reply(self._on_result, self._on_failure, self._on_progress))

    def cancel(self, reason: str = "cancelled", *, wait: bool = False) -> None:
        """Stop the run (the caller tells the worker). ``wait``: the worker is busy with
        it, and its current batch's results still count; else it ends here."""
        if not self._active or self.stop_reason is not None:
            return
        self.stop_reason = reason
        if wait:
            emit(self.stopping)
        else:
            self._active = False
            emit(self.finished, True)

    def _on_progress(self, progress: FolderItem | CountProgress) -> None:
        if not self._active:
            return
        if isinstance(progress, CountProgress):
            if self.stop_reason is None:  # stopping: that image will not be written
                emit(self.map_progress, progress.done, progress.total)
            return
        item = progress
        if item.skipped:
            self.skipped_count += 1
            emit(self.skipped, item.position)
        else:
            entry = BatchEntry(item.source, item.prediction, item.error)
            self.entries.append(entry)
            emit(self.item, item.position, entry)
            for note in item.prediction.notes if item.prediction is not None else ():
                if note not in self._notes:
                    self._notes.add(note)
                    emit(self.note, note)
        emit(self.progress, self.done, len(self.paths))

    def _on_result(self, result: FolderRunResult) -> None:
        self.result = result
        if self._active:
            self._active = False
            if result.completed:
                self.stop_reason = None  # a cancel that came with the last batch
            elif self.stop_reason is None:
                self.stop_reason = result.stop_reason
            emit(self.finished, not result.completed)

    def _on_failure(self, failure: WorkerFailure) -> None:
        reason = failure.message
        if failure.reason is FailureReason.NO_MODEL:
            reason = "no model is loaded"
        if self._active:
            self._active = False
            self.stop_reason = self.stop_reason or reason
            emit(self.finished, True)
