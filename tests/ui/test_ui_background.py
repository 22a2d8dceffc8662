"""The background pool: every job's outcome reaches its callback, and no job is remembered
after it is done, however fast it finishes."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

from desktop_app.ui.controllers.background import Background


class _Instant:
    """An executor whose jobs are done before ``submit`` returns: the fastest job possible."""

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        future.set_result(fn(*args))
        return future

    def shutdown(self, **_kwargs: Any) -> None:
        pass


def test_a_job_that_finishes_before_submit_returns_leaves_nothing_behind(qtbot: Any) -> None:
    background = Background()
    background._pool.shutdown()
    background._pool = _Instant()  # type: ignore[assignment]
    got: list[tuple[Any, Any]] = []
    background.run(lambda: 42, callback=lambda result, error: got.append((result, error)))
    assert background.pending == 0
    qtbot.waitUntil(lambda: got == [(42, None)], timeout=2000)


def test_real_jobs_report_results_and_errors_and_are_forgotten(qtbot: Any) -> None:
    background = Background()
    got: dict[int, tuple[Any, Any]] = {}
    for i in range(50):
        background.run((lambda n: n * n) if i % 5 else (lambda n: 1 / 0), i,
                       callback=lambda result, error, i=i: got.__setitem__(i, (result, error)))
    qtbot.waitUntil(lambda: len(got) == 50, timeout=5000)
    assert got[3] == (9, None)
    assert got[5] == (None, "ZeroDivisionError: division by zero")
    qtbot.waitUntil(lambda: background.pending == 0, timeout=2000)
    background.shutdown()
