"""Short jobs off the GUI thread: decoding, thumbnails, camera probing, exports.

A small thread pool runs plain functions; each outcome comes back to the GUI thread as a
queued signal and is handed to the callback given with the job. The model never runs here
(it has its own worker); this pool only keeps file I/O out of the event loop.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from desktop_app.core.errors import one_line
from desktop_app.ui.qt_compat import emit

log = logging.getLogger(__name__)

Callback = Callable[[Any, "str | None"], None]


class Background(QObject):
    """``run(fn, *args, callback=cb)``: ``cb(result, None)`` or ``cb(None, message)`` later,
    on the GUI thread. ``generation`` lets a caller drop work that became pointless."""

    _done = Signal(int, object, object)

    def __init__(self, max_workers: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._prefix = f"lens-bg-{id(self):x}"
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=self._prefix)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, Callback] = {}
        self._futures: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._done.connect(self._on_done)

    def run(self, fn: Callable[..., Any], *args: Any, callback: Callback) -> int:
        if self._closed:
            raise RuntimeError("background pool is shut down")
        job = next(self._ids)
        self._callbacks[job] = callback
        future = self._pool.submit(self._call, job, fn, args)
        with self._lock:
            self._futures[job] = future
        # Forgotten once done, which may already be the case: a done callback added to a
        # finished future runs at once, so the entry can never outlive its job.
        future.add_done_callback(lambda _: self._forget(job))
        return job

    @property
    def pending(self) -> int:
        """Jobs submitted and neither finished nor cancelled."""
        with self._lock:
            return len(self._futures)

    def _forget(self, job: int) -> None:
        with self._lock:
            self._futures.pop(job, None)

    def cancel(self, job: int) -> None:
        """Forget ``job``; if it has not started it never will."""
        self._callbacks.pop(job, None)
        with self._lock:
            future = self._futures.pop(job, None)
        if future is not None:
            future.cancel()

    def shutdown(self, timeout: float = 1.0) -> None:
        """Drop queued jobs and wait up to ``timeout`` s for running ones."""
        self._closed = True
        self._callbacks.clear()
        with self._lock:
            futures = list(self._futures.values())
            self._futures.clear()
        for future in futures:
            future.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for thread in threading.enumerate():
            if thread.name.startswith(self._prefix):
                thread.join(timeout)

    def _call(self, job: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            result, error = fn(*args), None
        except Exception as exc:  # becomes a message; a background job must not vanish
            log.debug("background job %d failed", job, exc_info=True)
            result, error = None, one_line(exc)
        if not self._closed:
            emit(self._done, job, result, error)

    @Slot(int, object, object)
    def _on_done(self, job: int, result: Any, error: str | None) -> None:
        callback = self._callbacks.pop(job, None)
        if callback is not None:
            callback(result, error)
