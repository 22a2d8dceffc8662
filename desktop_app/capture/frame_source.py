"""A capture thread that keeps only the newest frame of a camera or a video file.

Cameras and video files take the same path: a ``FrameSource`` wraps anything shaped like
``cv2.VideoCapture`` (see ``CaptureLike``), obtained from an ``opener`` that is called on the
capture thread, so opening a slow camera never blocks the caller (e.g. the GUI thread).

Consumers never see a backlog: the thread overwrites a one-slot buffer with each new frame,
and ``latest()`` / ``wait_for_frame()`` hand out whatever is newest. A slow consumer (a model
taking 200 ms a frame) therefore skips frames instead of falling further and further behind.

Every fault ends the source the same way: ``state`` becomes "failed", ``error`` holds one
line for the user, ``on_error(message)`` is called exactly once, and the thread ends (as soon
as the driver lets it). Exceptions never escape the thread.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Literal, Protocol, TypeVar

import cv2
import numpy as np

from desktop_app.capture.frame import Frame
from desktop_app.core.errors import LensError
from desktop_app.core.process import at_exit

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

SourceState = Literal["idle", "starting", "running", "stopped", "failed", "finished"]
_ENDED: frozenset[str] = frozenset({"stopped", "failed", "finished"})

# Frozen-frame detection compares every 8th pixel in each direction: a real sensor's noise
# changes some of those ~1/64 of the pixels between frames, and the comparison costs ~nothing.
_STALE_STRIDE = 8
# A frame this uniform (black: lens cap, privacy shutter) legitimately repeats forever, so it
# is never called frozen; a driver stuck after an unplug repeats its last real image instead.
_UNIFORM_SPREAD = 8
# Files claiming absurd frame rates (0, NaN, 90000 from broken headers) are paced at the fallback.
_MAX_PLAUSIBLE_FPS = 1000.0
_CV_ERROR_PREFIX = re.compile(r"^OpenCV\([^)]*\)\s+\S+:\d+:\s+error:\s*")
# How long interpreter exit waits for capture threads to release their devices.
_EXIT_GRACE_S = 2.0


class CaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` a ``FrameSource`` uses."""

    def isOpened(self) -> bool: ...

    def read(self) -> tuple[bool, np.ndarray | None]: ...

    def set(self, prop_id: int, value: float) -> bool: ...

    def get(self, prop_id: int) -> float: ...

    def release(self) -> None: ...


Opener = Callable[[], CaptureLike]


def one_line(exc: BaseException) -> str:
    """An exception as one short line; OpenCV's "OpenCV(x) file.cpp:12: error:" prefix dropped."""
    text = " ".join(str(exc).split())
    text = _CV_ERROR_PREFIX.sub("", text)
    return text or type(exc).__name__


class FrameSource:
    """Reads frames on a daemon thread and keeps only the newest one.

    ``live=True`` means a device (camera): a failed ``read()`` is retried until
    ``frame_timeout`` seconds pass without a frame, and identical frames for ``stale_timeout``
    seconds mean the device is frozen (some drivers keep returning the last image after an
    unplug). ``live=False`` means a file: a failed ``read()`` is the end of the file, which
    either restarts it (``loop``) or finishes the source (``on_finished``).

    ``realtime=True`` paces reads at the capture's CAP_PROP_FPS (``fallback_fps`` when it has
    none), so a file behaves like a camera; otherwise frames are read as fast as ``read()``
    returns (a camera paces itself).

    A single ``read()`` (or the open) that hangs for longer than ``frame_timeout`` (the first
    frame and the open get ``open_timeout``) is reported by a small watchdog thread, because
    the capture thread itself is stuck inside the driver.

    Callbacks run on the source's worker threads (``on_error`` possibly on the watchdog), never
    on the caller's: GUI code must hand them over to its own thread (e.g. a queued Qt signal).
    ``on_frame(frame)`` sees every frame in order and must be quick, as capture waits for it.
    ``on_finished()`` fires only at the end of a non-looping file, not after ``stop()``.
    Exceptions raised by callbacks are logged and otherwise ignored.

    A source runs once: ``start()`` on a started source raises ``RuntimeError``; open a new
    one instead (the factories are cheap). ``stop()`` is idempotent. Sources still running at
    interpreter exit are stopped by an atexit hook, so the app can always just quit.
    """

    def __init__(
        self,
        opener: Opener,
        name: str,
        *,
        live: bool,
        loop: bool = False,
        realtime: bool = False,
        mirror: bool = False,
        on_frame: Callable[[Frame], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_finished: Callable[[], None] | None = None,
        open_timeout: float = 10.0,
        frame_timeout: float = 2.0,
        stale_timeout: float | None = 3.0,
        fallback_fps: float = 30.0,
    ) -> None:
        if open_timeout <= 0 or frame_timeout <= 0 or fallback_fps <= 0:
            raise ValueError("timeouts and fallback_fps must be positive")
        if stale_timeout is not None and stale_timeout <= 0:
            raise ValueError("stale_timeout must be positive or None")
        self._opener = opener
        self._name = name
        self._live = live
        self._loop = loop
        self._realtime = realtime
        self._mirror = mirror
        self.on_frame = on_frame
        self.on_error = on_error
        self.on_finished = on_finished
        self._open_timeout = open_timeout
        self._frame_timeout = frame_timeout
        self._stale_timeout = stale_timeout
        self._fallback_fps = fallback_fps

        # Guards _state, _error and _latest; never held across a call into the capture.
        self._cond = threading.Condition()
        self._state: SourceState = "idle"
        self._error: str | None = None
        self._latest: Frame | None = None
        self._stop_event = threading.Event()
        # (deadline, message) while the capture thread is inside open()/read(); read by the
        # watchdog. A tuple is replaced atomically, so no lock is needed.
        self._busy: tuple[float, str] | None = None
        self._thread: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    # -- public API ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def error(self) -> str | None:
        """The one-line message of the fault that ended the source, if any."""
        return self._error

    @property
    def mirror(self) -> bool:
        return self._mirror

    @mirror.setter
    def mirror(self, value: bool) -> None:
        # A plain attribute swap is atomic; the thread reads it once per frame.
        self._mirror = bool(value)

    @property
    def is_alive(self) -> bool:
        """True while the capture thread runs (it may outlive ``stop()`` inside a hung driver)."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FrameSource:
        """Start capturing; the opener is called on the capture thread. Returns ``self``."""
        with self._cond:
            if self._state != "idle":
                raise RuntimeError(f"{self._name}: a FrameSource can only be started once")
            self._state = "starting"
        self._thread = threading.Thread(
            target=self._run, name=f"FrameSource[{self._name}]", daemon=True
        )
        self._watchdog = threading.Thread(
            target=self._watch, name=f"FrameSource-watchdog[{self._name}]", daemon=True
        )
        _running_sources.add(self)
        self._thread.start()
        self._watchdog.start()
        return self

    def stop(self, timeout: float = 1.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` s for it (and the capture's
        release) to finish. Returns True when it has; False if the driver is still stuck in
        ``read()``, in which case the daemon thread releases the capture once it returns.
        Safe to call any number of times, from any thread, including from a callback."""
        with self._cond:
            if self._state not in _ENDED:
                self._state = "stopped"
            self._stop_event.set()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        current = threading.current_thread()
        for thread in (self._thread, self._watchdog):
            if thread is not None and thread is not current:
                thread.join(max(0.0, deadline - time.monotonic()))
        return not self.is_alive

    def latest(self) -> Frame | None:
        """The newest frame so far (None before the first); never blocks."""
        return self._latest

    def wait_for_frame(self, after_index: int = -1, timeout: float | None = None) -> Frame | None:
        """Wait for a frame newer than ``after_index`` and return the newest one. Returns None
        on timeout, or when the source has ended without a newer frame."""
        with self._cond:
            self._cond.wait_for(
                lambda: (
                    (self._latest is not None and self._latest.index > after_index)
                    or self._state in _ENDED
                ),
                timeout,
            )
            frame = self._latest
        return frame if frame is not None and frame.index > after_index else None

    def __enter__(self) -> FrameSource:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- capture thread ------------------------------------------------------------------

    def _run(self) -> None:
        capture: CaptureLike | None = None
        try:
            capture = self._open()
            if capture is not None and not self._stop_event.is_set():
                with self._cond:
                    if self._state == "starting":
                        self._state = "running"
                self._read_loop(capture)
        except Exception as exc:  # the safety net: nothing may escape the thread
            logger.exception("%s: capture thread failed", self._name)
            self._fail(f"{self._name} failed: {one_line(exc)}")
        finally:
            # Released here, on the thread that reads: releasing from another thread while
            # read() blocks crashes some backends.
            if capture is not None:
                try:
                    capture.release()
                except Exception:
                    logger.exception("%s: release failed", self._name)
            with self._cond:
                if self._state not in _ENDED:
                    self._state = "stopped"
                self._cond.notify_all()
            self._stop_event.set()  # ends the watchdog
            _running_sources.discard(self)

    def _open(self) -> CaptureLike | None:
        """The opened capture; None if the opener failed. A capture that did not open, or
        that came back after a stop or timeout, is still returned, for ``_run`` to release."""
        message = f"{self._name} did not open within {self._open_timeout:g} s"
        try:
            capture = self._guarded(self._open_timeout, message, self._opener)
        except LensError as exc:
            self._fail(str(exc))
            return None
        except Exception as exc:
            self._fail(f"{self._name} could not be opened: {one_line(exc)}")
            return None
        if not self._stop_event.is_set() and not capture.isOpened():
            self._fail(f"{self._name} could not be opened")
        return capture

    def _read_loop(self, capture: CaptureLike) -> None:
        interval = self._frame_interval(capture) if self._realtime else None
        index = 0
        frames_this_pass = 0  # since open or the last rewind
        last_frame_at = time.monotonic()
        next_due = last_frame_at
        stale_sample: np.ndarray | None = None
        stale_since = 0.0
        retry_delay = min(0.02, self._frame_timeout / 10)

        while not self._stop_event.is_set():
            if interval is not None:
                delay = next_due - time.monotonic()
                if delay > 0:
                    if self._stop_event.wait(delay):
                        break
                elif delay < -interval:
                    next_due = time.monotonic()  # fell behind: resume pacing, don't burst

            timeout, silent = self._no_frame_limits(index)
            try:
                ok, image = self._guarded(timeout, silent, capture.read)
            except Exception as exc:
                self._fail(f"{self._name} failed while reading a frame: {one_line(exc)}")
                return
            if self._stop_event.is_set():
                return
            now = time.monotonic()

            if not ok or image is None or image.size == 0:
                if self._live:
                    if now - last_frame_at > timeout:
                        self._fail(silent)
                        return
                    self._stop_event.wait(retry_delay)
                    continue
                if frames_this_pass == 0:
                    if index == 0:
                        self._fail(f"{self._name} contains no readable frames")
                    else:
                        self._fail(f"{self._name} could not be restarted from the beginning")
                    return
                if not self._loop:
                    self._finish()
                    return
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                frames_this_pass = 0
                continue

            last_frame_at = now
            frames_this_pass += 1
            if self._live and self._stale_timeout is not None:
                sample = image[::_STALE_STRIDE, ::_STALE_STRIDE]
                if stale_sample is not None and np.array_equal(sample, stale_sample):
                    if now - stale_since > self._stale_timeout and not _is_uniform(sample):
                        self._fail(
                            f"{self._name} has sent the same image for "
                            f"{self._stale_timeout:g} s; it seems frozen or unplugged"
                        )
                        return
                else:
                    stale_sample = sample.copy()
                    stale_since = now

            rgb = self._to_rgb(image)
            if rgb is None:
                return
            frame = Frame(rgb, index, now, self._name)
            with self._cond:
                self._latest = frame
                self._cond.notify_all()
            self._call(self.on_frame, frame)
            index += 1
            if interval is not None:
                next_due += interval

    def _no_frame_limits(self, frames_so_far: int) -> tuple[float, str]:
        """How long the next frame may take, and what to say when it takes longer. The first
        frame gets the generous open timeout: cameras warm up (auto exposure) after opening."""
        if frames_so_far == 0:
            return (
                self._open_timeout,
                f"{self._name} opened but sent no frames within {self._open_timeout:g} s",
            )
        hint = " (unplugged?)" if self._live else ""
        return self._frame_timeout, f"{self._name} stopped delivering frames{hint}"

    def _frame_interval(self, capture: CaptureLike) -> float:
        try:
            fps = float(capture.get(cv2.CAP_PROP_FPS))
        except Exception:
            fps = math.nan
        if not (0 < fps <= _MAX_PLAUSIBLE_FPS):
            fps = self._fallback_fps
        return 1.0 / fps

    def _to_rgb(self, image: np.ndarray) -> np.ndarray | None:
        """BGR (or gray/BGRA) uint8 → read-only RGB, mirrored if asked; None after a fault."""
        if image.dtype == np.uint8 and image.ndim == 2:
            code = cv2.COLOR_GRAY2RGB
        elif image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] in (3, 4):
            code = cv2.COLOR_BGR2RGB if image.shape[2] == 3 else cv2.COLOR_BGRA2RGB
        else:
            self._fail(
                f"{self._name} delivers frames in an unsupported format "
                f"({image.dtype}, shape {image.shape})"
            )
            return None
        rgb = cv2.cvtColor(image, code)
        if self._mirror:
            rgb = cv2.flip(rgb, 1)
        rgb.setflags(write=False)
        return rgb

    def _guarded(self, timeout: float, message: str, call: Callable[[], _T]) -> _T:
        """Run a capture call under the watchdog's eye."""
        self._busy = (time.monotonic() + timeout, message)
        try:
            return call()
        finally:
            self._busy = None

    # -- watchdog ------------------------------------------------------------------------

    def _watch(self) -> None:
        period = min(0.1, self._frame_timeout / 4, self._open_timeout / 4)
        while not self._stop_event.wait(period):
            busy = self._busy
            if busy is not None and time.monotonic() > busy[0]:
                self._fail(busy[1])
                return

    # -- endings -------------------------------------------------------------------------

    def _fail(self, message: str) -> None:
        with self._cond:
            if self._state in _ENDED:  # already stopped by the user, or reported once
                return
            self._state = "failed"
            self._error = message
            self._stop_event.set()
            self._cond.notify_all()
        logger.warning("%s", message)
        self._call(self.on_error, message)

    def _finish(self) -> None:
        with self._cond:
            if self._state in _ENDED:
                return
            self._state = "finished"
            self._stop_event.set()
            self._cond.notify_all()
        self._call(self.on_finished)

    def _call(self, callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:
            logger.exception("%s: callback %r raised", self._name, callback)


_running_sources: weakref.WeakSet[FrameSource] = weakref.WeakSet()


@at_exit
def _stop_running_sources() -> None:
    """Stop capture threads before the interpreter tears down.

    A daemon thread still inside OpenCV when Python finalises is killed mid-call, which
    aborts the whole process ("terminate called without an active exception", exit code
    134) instead of exiting cleanly. atexit handlers run while daemon threads still work,
    so stopping them here lets each release its capture first; a driver hung in read()
    gets a bounded wait, no more.
    """
    deadline = time.monotonic() + _EXIT_GRACE_S
    for source in list(_running_sources):
        source.stop(timeout=max(0.0, deadline - time.monotonic()))


def _is_uniform(sample: np.ndarray) -> bool:
    return int(sample.max()) - int(sample.min()) <= _UNIFORM_SPREAD
