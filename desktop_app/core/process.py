"""Process-wide state, owned here and nowhere else: where log records go, what runs when
the process exits, what Ctrl+C and SIGTERM do, and the window's fast exit.

Threads are the engine's business (``desktop_app.inference.threads`` sizes torch's and
BLAS's pools where the model runs); everything else that outlives one window or one command
is registered through this module, so a reader finds it in one place.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn, TypeVar

Cleanup = TypeVar("Cleanup", bound=Callable[[], None])


def configure_logging(level: int, fmt: str) -> None:
    """Where the package's log records go (stderr), for the entry points: the window and the
    CLI. A library user's own configuration is left alone (``basicConfig`` does nothing
    once the root logger has handlers)."""
    logging.basicConfig(level=level, format=fmt)


def at_exit(cleanup: Cleanup) -> Cleanup:
    """Run ``cleanup`` when the interpreter exits, while daemon threads still run (usable
    as a decorator). :func:`exit_now` runs it too, unless told not to."""
    atexit.register(cleanup)
    return cleanup


def on_termination(handler: Callable[[], None]) -> Callable[[], None]:
    """Ctrl+C and SIGTERM (logout, ``kill``) call ``handler`` instead of raising; returns a
    function that puts the previous handlers back. Python runs it in the main thread at its
    next bytecode, which may be inside a GUI callback: ``handler`` should only schedule."""
    previous = {signum: signal.signal(signum, lambda *_: handler())
                for signum in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore


def exit_now(code: int, *, run_exit_handlers: bool) -> NoReturn:
    """End the process without CPython's teardown.

    For a caller that has saved its state and stopped its threads: what is left is the
    interpreter unloading torch module by module (1-2 s on a busy laptop), and possibly a
    thread still inside torch (an import or a model load cannot be interrupted). Any
    non-daemon thread (an export being written) is waited for, so nothing is lost. Exit
    handlers run only if ``run_exit_handlers``: Qt's would destroy a QThread still
    running, which aborts the process."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join()
    if run_exit_handlers:
        atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None in a windowed (no console) build
            stream.flush()
    os._exit(code)
