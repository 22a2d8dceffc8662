"""Video files as frame sources that behave like a live camera."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2

from desktop_app.capture.frame import Frame
from desktop_app.capture.frame_source import CaptureLike, FrameSource
from desktop_app.core.errors import CaptureError


def open_video(
    path: str | os.PathLike[str],
    loop: bool = False,
    realtime: bool = True,
    *,
    mirror: bool = False,
    on_frame: Callable[[Frame], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    on_finished: Callable[[], None] | None = None,
) -> FrameSource:
    """An unstarted source reading ``path``; ``start()`` opens it on the capture thread.

    ``realtime=True`` plays at the file's frame rate (30 fps if it declares none), so
    consumers see what a camera would give them; ``realtime=False`` reads as fast as the
    decoder goes (tests, benchmarks). ``loop=True`` restarts at the end; otherwise
    ``on_finished`` fires there.
    """
    path = Path(path)
    name = f"Video {path.name}"

    def opener() -> CaptureLike:
        if not path.is_file():
            raise CaptureError(f"Video file {path} was not found")
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            capture.release()
            raise CaptureError(
                f"Video file {path} could not be opened (not a video format OpenCV can decode)"
            )
        return capture

    return FrameSource(
        opener,
        name,
        live=False,
        loop=loop,
        realtime=realtime,
        mirror=mirror,
        on_frame=on_frame,
        on_error=on_error,
        on_finished=on_finished,
    )
