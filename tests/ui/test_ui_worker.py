"""The inference worker on its own: latest-only mailbox, errors as messages, stopping."""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.ui_helpers import FakeEngine

from desktop_app.core.dataset import Dataset
from desktop_app.core.errors import WeightsUnavailableError, one_line
from desktop_app.core.teach_recipe import DEFAULT_RECIPE
from desktop_app.ui.controllers.worker import Mailbox, Reply, WorkerClient
from desktop_app.ui.state.requests import (
    FailureReason,
    Kind,
    ModelRequest,
    PredictRequest,
    TrainRequest,
    next_request_id,
)


def _image(value: int = 100) -> np.ndarray:
    pixels = np.full((60, 80, 3), value, np.uint8)
    pixels.setflags(write=False)
    return pixels


def _predict(image: Any = None, kind: Kind = Kind.STILL, **options: Any) -> PredictRequest:
    return PredictRequest(id=next_request_id(), image=_image() if image is None else image,
                          source=options.pop("source", "test"), kind=kind,
                          topk=options.pop("topk", 5), cam_layer=options.pop("cam_layer", None),
                          **options)


@pytest.fixture
def client(qtbot: Any) -> Any:
    clients: list[WorkerClient] = []

    def make(engine: FakeEngine) -> WorkerClient:
        worker_client = WorkerClient(engine)
        worker_client.start()
        clients.append(worker_client)
        return worker_client

    yield make
    for worker_client in clients:
        assert worker_client.stop(timeout_ms=3000)


def test_mailbox_keeps_only_the_newest_request_per_slot() -> None:
    box = Mailbox()
    first, second = _predict(), _predict(kind=Kind.LIVE)
    assert box.put(first) == (True, None)  # empty before: the worker needs a poke
    # A poke is already on its way; a live frame replaces a still: one slot for the screen.
    assert box.put(second) == (False, first)
    model = ModelRequest(next_request_id(), "resnet18")
    box.put(model)
    assert box.take() is model  # model switches first
    assert box.take() is second
    assert box.take() is None


def test_a_waiting_training_goes_before_live_frames_that_came_after_it() -> None:
    """A live source asks for a prediction every frame; a training asked for meanwhile must
    not wait for the source to stop (it used to: the screen's slot always came first)."""
    box = Mailbox()
    before = _predict(kind=Kind.LIVE)
    box.put(before)
    train = TrainRequest(next_request_id(), Dataset(("a", "b"), (), (), (), 0, datetime.now()),
                         Path("m.safetensors"), DEFAULT_RECIPE)
    box.put(train)
    assert box.take() is before  # what was waiting still goes first
    box.put(_predict(kind=Kind.LIVE))  # the next frame, and the next…
    model = ModelRequest(next_request_id(), "resnet18")
    box.put(model)
    assert box.take() is model  # a model switch still goes first
    assert box.take() is train
    assert box.take().kind is Kind.LIVE  # then the frames again


def test_model_then_prediction_in_the_worker_thread(qtbot: Any, client: Any) -> None:
    engine = FakeEngine()
    worker_client = client(engine)
    with qtbot.waitSignal(worker_client.worker.model_ready, timeout=5000) as ready:
        worker_client.submit(ModelRequest(next_request_id(), "resnet34", "cpu"))
    info = ready.args[0]
    assert (info.model, info.device) == ("resnet34", "cpu")
    assert info.available_devices == engine.devices
    assert "layer4" in info.cam_layers
    # The engine (torch, in real life) is built in the worker thread, never the GUI's.
    assert engine.created_in is not None and engine.created_in != threading.get_ident()

    request = _predict(topk=3)
    with qtbot.waitSignal(worker_client.worker.prediction_ready, timeout=5000) as got:
        worker_client.submit(request)
    result = got.args[0]
    assert result.request is request
    assert len(result.prediction.topk) == 3
    assert set(result.prediction.cams) == {s.index for s in result.prediction.topk}
    assert threading.get_ident() not in engine.classifier.thread_ids
    qtbot.waitUntil(lambda: not worker_client.busy, timeout=2000)


def test_a_busy_worker_builds_no_backlog(qtbot: Any, client: Any) -> None:
    engine = FakeEngine(predict_delay=0.15)
    worker_client = client(engine)
    with qtbot.waitSignal(worker_client.worker.model_ready, timeout=5000):
        worker_client.submit(ModelRequest(next_request_id(), "resnet18"))
    results: list[Any] = []
    worker_client.worker.prediction_ready.connect(results.append)
    requests = []
    for i in range(30):  # a 30 fps camera during one second of a slow model
        requests.append(_predict(_image(i), kind=Kind.LIVE))
        worker_client.submit(requests[-1])
        qtbot.wait(5)
    qtbot.waitUntil(lambda: results and results[-1].request is requests[-1], timeout=5000)
    qtbot.waitUntil(lambda: not worker_client.busy, timeout=2000)
    # The first request and the newest one at each moment: never all thirty.
    assert len(engine.classifier.calls) <= 4
    assert [r.request.id for r in results] == sorted(r.request.id for r in results)


def test_an_exception_becomes_a_message_and_the_next_request_works(
        qtbot: Any, client: Any) -> None:
    engine = FakeEngine(fail_predictions=1)
    worker_client = client(engine)
    with qtbot.waitSignal(worker_client.worker.model_ready, timeout=5000):
        worker_client.submit(ModelRequest(next_request_id(), "resnet18"))
    with qtbot.waitSignal(worker_client.worker.failed, timeout=5000) as failed:
        worker_client.submit(_predict(source="boom.jpg"))
    failure = failed.args[0]
    assert failure.message == "RuntimeError: fake engine exploded with a second line"
    assert failure.source == "boom.jpg" and failure.kind is Kind.STILL
    with qtbot.waitSignal(worker_client.worker.prediction_ready, timeout=5000):
        worker_client.submit(_predict())
    qtbot.waitUntil(lambda: not worker_client.busy, timeout=2000)


def test_predictions_without_a_model_fail_with_a_reason(qtbot: Any, client: Any) -> None:
    engine = FakeEngine()
    engine.failures["resnet50"] = WeightsUnavailableError(
        "resnet50-11ad3fa6.pth (97.8 MB) is not in /x and cannot be downloaded: offline")
    worker_client = client(engine)
    with qtbot.waitSignal(worker_client.worker.failed, timeout=5000) as failed:
        worker_client.submit(ModelRequest(next_request_id(), "resnet50"))
    assert failed.args[0].reason is FailureReason.OFFLINE
    assert "97.8 MB" in failed.args[0].message
    with qtbot.waitSignal(worker_client.worker.failed, timeout=5000) as failed:
        worker_client.submit(_predict(kind=Kind.BATCH, source="a.jpg"))
    assert failed.args[0].reason is FailureReason.NO_MODEL
    assert failed.args[0].message.startswith("a.jpg: no model is loaded")


def test_download_progress_and_cancel(qtbot: Any, client: Any) -> None:
    engine = FakeEngine(download_steps=200, download_step_delay=0.01)
    worker_client = client(engine)
    progress: list[Any] = []
    worker_client.worker.download_progress.connect(progress.append)
    with qtbot.waitSignal(worker_client.worker.failed, timeout=5000) as failed:
        worker_client.submit(ModelRequest(next_request_id(), "resnet18"))
        qtbot.waitUntil(lambda: len(progress) >= 2, timeout=3000)
        worker_client.cancel_download()
    assert failed.args[0].reason is FailureReason.CANCELLED
    assert progress[-1].total == 200_000 and 0 < progress[-1].done < 200_000
    # Throttled: ~20 updates a second, not one per chunk.
    assert len(progress) < 30


def test_a_newer_model_request_supersedes_a_download(qtbot: Any, client: Any) -> None:
    engine = FakeEngine(download_steps=300, download_step_delay=0.01)
    worker_client = client(engine)
    failures: list[Any] = []
    worker_client.worker.failed.connect(failures.append)
    worker_client.submit(ModelRequest(next_request_id(), "resnet152"))
    qtbot.waitUntil(lambda: len(engine.loads) == 1, timeout=3000)
    engine.download_steps = 0
    with qtbot.waitSignal(worker_client.worker.model_ready, timeout=5000) as ready:
        worker_client.submit(ModelRequest(next_request_id(), "resnet18"))
    assert ready.args[0].model == "resnet18"
    assert failures == []  # superseded, not an error to show


def test_stop_waits_for_the_prediction_in_progress(qtbot: Any) -> None:
    engine = FakeEngine(predict_delay=0.4)
    worker_client = WorkerClient(engine)
    worker_client.start()
    with qtbot.waitSignal(worker_client.worker.model_ready, timeout=5000):
        worker_client.submit(ModelRequest(next_request_id(), "resnet18"))
    worker_client.submit(_predict())
    qtbot.waitUntil(lambda: len(engine.classifier.calls) == 1, timeout=2000)
    worker_client.submit(_predict())  # pending: dropped by stop
    started = time.monotonic()
    assert worker_client.stop(timeout_ms=2000)
    assert time.monotonic() - started < 1.0
    assert len(engine.classifier.calls) == 1


def test_each_reply_goes_to_the_one_who_asked(qtbot: Any, client: Any) -> None:
    engine = FakeEngine(predict_delay=0.1)
    worker_client = client(engine)
    got: dict[str, list[Any]] = {name: [] for name in ("model", "still", "live", "batch",
                                                       "failed")}

    def reply(name: str) -> Reply:
        return Reply(got[name].append, got["failed"].append)

    model = ModelRequest(next_request_id(), "resnet18")
    worker_client.submit(model, reply("model"))
    batch = _predict(kind=Kind.BATCH, source="a.jpg")
    worker_client.submit(batch, reply("batch"))
    qtbot.waitUntil(lambda: bool(got["model"] and got["batch"]), timeout=5000)
    assert got["model"][0].request_id == model.id and got["batch"][0].request is batch

    # A live frame replaces the still waiting in the screen's slot: only the frame's sender
    # hears back, once.
    busy = _predict()
    worker_client.submit(busy, reply("still"))
    qtbot.waitUntil(lambda: len(engine.classifier.calls) == 2, timeout=3000)
    still, frame = _predict(), _predict(kind=Kind.LIVE)
    worker_client.submit(still, reply("still"))
    worker_client.submit(frame, reply("live"))
    qtbot.waitUntil(lambda: not worker_client.busy, timeout=3000)
    assert [r.request for r in got["still"]] == [busy]
    assert [r.request for r in got["live"]] == [frame]
    assert got["failed"] == []


def test_a_failure_reaches_its_sender_with_a_typed_reason(qtbot: Any, client: Any) -> None:
    worker_client = client(FakeEngine())
    results: list[Any] = []
    failures: list[Any] = []
    worker_client.submit(_predict(source="early.jpg"), Reply(results.append, failures.append))
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    assert results == [] and failures[0].reason is FailureReason.NO_MODEL
    assert failures[0].source == "early.jpg"


def test_a_reply_that_arrives_after_stop_reaches_nobody(qtbot: Any) -> None:
    engine = FakeEngine(predict_delay=0.3)
    worker_client = WorkerClient(engine)
    worker_client.start()
    with qtbot.waitSignal(worker_client.worker.model_ready, timeout=5000):
        worker_client.submit(ModelRequest(next_request_id(), "resnet18"))
    delivered: list[Any] = []
    worker_client.submit(_predict(), Reply(delivered.append, delivered.append))
    qtbot.waitUntil(lambda: len(engine.classifier.calls) == 1, timeout=2000)
    with qtbot.waitSignal(worker_client.worker.prediction_ready, timeout=3000):
        assert worker_client.stop(timeout_ms=2000)  # waits out the prediction in progress
    qtbot.wait(50)
    assert delivered == []  # e.g. a closed window's handler is never called


def test_one_line_is_one_line() -> None:
    assert one_line(WeightsUnavailableError("file x: offline")) == "file x: offline"
    assert one_line(KeyError("a\n b")) == "KeyError: 'a\\n b'"
    assert one_line(RuntimeError("")) == "RuntimeError: no details"


class _LeakyPing:
    """Stands in for a signal of PySide6 6.12.0, whose emit() returns True without taking a
    reference to it (excluded by pyproject, so no supported install shows the defect)."""

    def emit(self, *_args: object) -> bool:
        ctypes.pythonapi.Py_DecRef(ctypes.py_object(True))
        return True


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12")
def test_emit_gives_back_the_reference_a_leaky_pyside_drops(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.ui import qt_compat

    leaky = _LeakyPing()
    assert qt_compat.emit_loses_a_reference(leaky)  # the probe recognises the defect ...
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))  # (the probe's losses, given back)
    for _ in range(qt_compat._PROBES - 1):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    monkeypatch.setattr(qt_compat, "_LEAKS", True)  # ... and then emit() makes up for it
    before = sys.getrefcount(True)
    for _ in range(2000):
        qt_compat.emit(leaky)  # type: ignore[arg-type]
    assert abs(sys.getrefcount(True) - before) < 100


def test_a_sound_emit_is_not_mistaken_for_a_leaky_one(qtbot: Any) -> None:
    from PySide6.QtCore import QObject, Signal

    from desktop_app.ui.qt_compat import emit, emit_loses_a_reference

    class Pinger(QObject):
        ping = Signal()
        number = Signal(int)

    pinger = Pinger()
    got: list[int] = []
    pinger.number.connect(got.append)
    assert not emit_loses_a_reference(pinger.ping)
    for i in range(10):
        emit(pinger.number, i)
    assert got == list(range(10))
