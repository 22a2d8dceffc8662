"""Emitting signals from Python safely on every PySide6 version we may meet.

PySide6 6.12.0 returns ``SignalInstance.emit()``'s bool without a reference of its own. On
Python < 3.12, where ``True`` is an ordinary refcounted object, each emit then lowers
``True``'s count by one, until the interpreter aborts with "bool_dealloc: deallocating True
or False" (a 30 fps camera gets there within a minute). Every emit in this package goes
through :func:`emit`, which measures the defect once and gives back the lost reference.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance

log = logging.getLogger(__name__)

_PROBES = 64


class _Probe(QObject):
    ping = Signal()


def emit_loses_a_reference(signal: SignalInstance | None = None) -> bool:
    """Whether ``signal.emit()`` (by default a fresh probe's) drops a reference to True."""
    if sys.version_info >= (3, 12):
        return False  # True and False are immortal
    probe = _Probe()  # kept referenced: a signal of a deleted QObject cannot emit
    if signal is None:
        signal = probe.ping
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        signal.emit()
    lost = before - sys.getrefcount(True)
    # Other threads may touch True meanwhile: decide by a clear majority, not equality.
    return lost > _PROBES // 2


_LEAKS = emit_loses_a_reference()
if _LEAKS:
    log.info("working around PySide6's emit() reference bug (Python %s)", sys.version.split()[0])


def emit(signal: SignalInstance, *args: Any) -> None:
    result = signal.emit(*args)
    if _LEAKS:
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))

