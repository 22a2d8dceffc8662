"""A camera or video file as a Qt object: the capture thread's callbacks become queued
signals, coalesced so that a 30 fps source never floods the event loop.

``frame_ready`` is emitted once per batch of new frames: until the GUI calls ``take()``,
further frames only replace the newest one inside the capture package.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.screen import LiveKind

if TYPE_CHECKING:
    from desktop_app.capture import Frame, FrameSource

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv",
})


def is_video_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


class LiveSource(QObject):
    frame_ready = Signal()
    error = Signal(str)
    finished = Signal()

    def __init__(self, source: FrameSource, kind: LiveKind, parent: QObject | None = None, *,
                 media_name: str | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self.kind = kind
        # What its frames are named after: a video's file name ("clip.avi"), a camera's name.
        self.media_name = media_name or source.name
        self._lock = threading.Lock()
        self._notified = False
        self._stopped = False
        self._arrivals: collections.deque[float] = collections.deque(maxlen=60)
        source.on_frame = self._on_frame
        source.on_error = self._on_error
        source.on_finished = self._on_finished

    # The capture package is imported here, not at module import: it pulls in OpenCV.
    @classmethod
    def camera(cls, index: int, *, mirror: bool, parent: QObject | None = None) -> LiveSource:
        from desktop_app.capture import open_camera

        return cls(open_camera(index, mirror=mirror), LiveKind.CAMERA, parent)

    @classmethod
    def video(cls, path: str | Path, *, loop: bool = True, realtime: bool = True,
              parent: QObject | None = None) -> LiveSource:
        from desktop_app.capture import open_video

        return cls(open_video(path, loop=loop, realtime=realtime), LiveKind.VIDEO, parent,
                   media_name=Path(path).name)

    @property
    def name(self) -> str:
        return self._source.name

    def set_mirror(self, mirror: bool) -> None:
        self._source.mirror = mirror

    def start(self) -> None:
        self._source.start()

    def stop(self, timeout: float = 1.0) -> bool:
        """Stop capturing; no signal is emitted afterwards. True when the thread ended."""
        self._stopped = True
        if self._source.state == "failed":
            # Ended by a fault: its thread is finishing, or stuck in a driver that stopped
            # answering (the fault itself) and releases the device once that returns.
            # Waiting for it would only freeze the window.
            timeout = 0.0
        return self._source.stop(timeout)

    def take(self) -> Frame | None:
        """The newest frame; re-arms ``frame_ready`` for the next one."""
        with self._lock:
            self._notified = False
        return self._source.latest()

    def latest(self) -> Frame | None:
        """The newest frame, leaving ``frame_ready`` as it is (for a second reader)."""
        return self._source.latest()

    def capture_fps(self) -> float:
        """Frames per second arriving from the device over the last ~2 s."""
        arrivals = list(self._arrivals)
        if len(arrivals) < 2 or time.monotonic() - arrivals[-1] > 2.0:
            return 0.0
        return (len(arrivals) - 1) / max(arrivals[-1] - arrivals[0], 1e-6)

    # -- capture thread ------------------------------------------------------------------
    def _on_frame(self, _frame: Any) -> None:
        self._arrivals.append(time.monotonic())
        with self._lock:
            if self._notified or self._stopped:
                return
            self._notified = True
        emit(self.frame_ready)

    def _on_error(self, message: str) -> None:
        if not self._stopped:
            emit(self.error, message)

    def _on_finished(self) -> None:
        if not self._stopped:
            emit(self.finished)
