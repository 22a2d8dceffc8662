"""Webcams: open one as a ``FrameSource``, and find out which camera indices answer."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2

from desktop_app.capture.frame import Frame
from desktop_app.capture.frame_source import CaptureLike, FrameSource
from desktop_app.core.errors import CaptureError

logger = logging.getLogger(__name__)

_V4L_SYSFS = Path("/sys/class/video4linux")

_log_lock = threading.Lock()
_log_depth = 0
_log_saved: int | None = None


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    width: int
    height: int


Prober = Callable[[int], CameraInfo | None]


@contextmanager
def quiet_opencv_logs() -> Iterator[None]:
    """Silence OpenCV's WARN lines (e.g. "can't open camera by index") while probing: we
    report failures ourselves, in one line. Nested and concurrent uses restore the level once."""
    global _log_depth, _log_saved
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    with _log_lock:
        if _log_depth == 0:
            _log_saved = logging_api.getLogLevel()
            logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
        _log_depth += 1
    try:
        yield
    finally:
        with _log_lock:
            _log_depth -= 1
            if _log_depth == 0 and _log_saved is not None:
                logging_api.setLogLevel(_log_saved)


def open_camera(
    index: int,
    width: int | None = None,
    height: int | None = None,
    *,
    mirror: bool = False,
    on_frame: Callable[[Frame], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    backend: int = cv2.CAP_ANY,
) -> FrameSource:
    """An unstarted source for camera ``index``; ``start()`` opens it on the capture thread.
    ``width``/``height`` are requests: the driver picks the nearest mode it has."""
    name = f"Camera {index}"

    def opener() -> CaptureLike:
        with quiet_opencv_logs():
            capture = cv2.VideoCapture(index, backend)
        if not capture.isOpened():
            capture.release()
            raise CaptureError(
                f"{name} could not be opened (not connected, or in use by another program)"
            )
        # A one-frame driver queue means read() returns a fresh frame, not one that waited
        # while we were busy; only some backends (V4L2, DirectShow) support it.
        _try_set(capture, cv2.CAP_PROP_BUFFERSIZE, 1)
        if width is not None:
            _try_set(capture, cv2.CAP_PROP_FRAME_WIDTH, width)
        if height is not None:
            _try_set(capture, cv2.CAP_PROP_FRAME_HEIGHT, height)
        return capture

    return FrameSource(opener, name, live=True, mirror=mirror, on_frame=on_frame, on_error=on_error)


def probe_camera(index: int) -> CameraInfo | None:
    """Open camera ``index`` briefly and read its current mode; None if it does not open."""
    # On Linux, index N is /dev/videoN: skipping absent nodes makes the common no-camera case
    # instant instead of a failed open per index.
    if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
        return None
    with quiet_opencv_logs():
        capture = cv2.VideoCapture(index)
        try:
            if not capture.isOpened():
                return None
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        finally:
            capture.release()
    return CameraInfo(index, _camera_name(index), width, height)


def list_cameras(
    max_index: int = 5, *, probe: Prober = probe_camera, timeout: float = 5.0
) -> list[CameraInfo]:
    """Cameras among indices ``0 .. max_index - 1``, in index order.

    OpenCV cannot enumerate devices, so each index is opened in turn. A failed open can take
    seconds on some backends, so probing runs on a daemon thread and whatever was found
    within ``timeout`` seconds is returned. Probe before opening cameras: one that is in use
    (including by this app) may not answer.
    """
    found: list[CameraInfo] = []
    done = threading.Event()

    def probe_all() -> None:
        try:
            for index in range(max_index):
                try:
                    info = probe(index)
                except Exception:
                    logger.exception("probing camera %d failed", index)
                    continue
                if info is not None:
                    found.append(info)
        finally:
            done.set()

    threading.Thread(target=probe_all, name="list_cameras", daemon=True).start()
    if not done.wait(timeout):
        logger.warning("camera probing took over %g s; listing the cameras found so far", timeout)
    return list(found)


def _camera_name(index: int) -> str:
    try:
        name = (_V4L_SYSFS / f"video{index}" / "name").read_text(encoding="utf-8").strip()
    except OSError:
        name = ""
    return name or f"Camera {index}"


def _try_set(capture: CaptureLike, prop: int, value: float) -> None:
    try:
        if not capture.set(prop, value):
            logger.debug("capture property %d=%s not supported", prop, value)
    except cv2.error as exc:
        logger.debug("capture property %d=%s failed: %s", prop, value, exc)
