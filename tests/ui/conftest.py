"""The window's tests: any test that leaves a thread or a QThread running fails."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QCoreApplication, QThread


def _running_qthreads() -> list[QThread]:
    app = QCoreApplication.instance()
    main = app.thread() if app is not None else None
    running = []
    for obj in gc.get_objects():
        # type(), not isinstance(): some objects (torch.distributed) warn on __class__.
        if issubclass(type(obj), QThread) and obj is not main:
            try:
                if obj.isRunning():
                    running.append(obj)
            except RuntimeError:  # the C++ object is gone: not running
                continue
    return running


def _new_threads(before: set[int]) -> list[threading.Thread]:
    # Dummy threads are Python's records of threads it did not start (Qt's); they never
    # end, so QThreads are checked through Qt instead.
    return [t for t in threading.enumerate()
            if t.ident not in before and t.is_alive()
            and not isinstance(t, threading._DummyThread)]  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = {t.ident for t in threading.enumerate() if t.ident is not None}
    yield
    deadline = time.monotonic() + 2.0
    while True:
        threads, qthreads = _new_threads(before), _running_qthreads()
        if not threads and not qthreads:
            return
        if time.monotonic() > deadline:
            names = [t.name for t in threads] + [q.objectName() or "QThread" for q in qthreads]
            pytest.fail(f"test left threads running: {names}")
        app = QCoreApplication.instance()
        if app is not None:
            app.processEvents()
        time.sleep(0.02)
