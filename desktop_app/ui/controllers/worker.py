"""The inference worker: one QObject on its own QThread that owns the model.

The window never calls the model. It drops immutable requests into a :class:`Mailbox`
(one slot per kind, the newest request replaces a pending one) and pokes the worker with
a queued signal. The worker drains the mailbox, so a 30 fps camera can never build a
backlog, and every outcome leaves as a queued signal carrying a frozen result, which
:class:`WorkerClient` hands to whoever sent that request (as superqt hands each worker's
result to its own ``returned``/``errored``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop_app.core.errors import Cancelled, DownloadCancelled, LensError, one_line
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.requests import (
    CountProgress,
    DownloadProgress,
    FailureReason,
    FolderItem,
    FolderRunRequest,
    FolderRunResult,
    Kind,
    ModelInfo,
    ModelRequest,
    NoModelError,
    PredictRequest,
    PredictResult,
    ScoreRequest,
    ScoreResult,
    TrainProgress,
    TrainRequest,
    TrainResult,
    WorkerFailure,
)

log = logging.getLogger(__name__)

# Taken in this order: a model switch first (results of the old model are wasted work),
# then what the user is looking at, then scoring its map, then the background folder run;
# training last: it holds the worker for minutes, so whatever waits goes before it.
SLOTS = ("model", "predict", "score", "compare", "batch", "train")  # the values of Kind.slot
# What a folder run lets in between its batches, and between two steps of a slow map
# (Score-CAM's channel batches): what the user is looking at.
INTERACTIVE_SLOTS = ("predict", "score", "compare")
# Long jobs go after what was waiting when they were asked for, not after what comes later:
# a camera or a video asks for a prediction every frame and would hold them back forever.
LONG_SLOTS = ("batch", "train")
Request = ModelRequest | PredictRequest | ScoreRequest | FolderRunRequest | TrainRequest

ProgressCallback = Callable[[int, "int | None"], None]
CancelCallback = Callable[[], bool]


class Classifier(Protocol):
    model_name: str
    device: str
    backend: str
    cam_layers: tuple[str, ...]
    num_classes: int
    weights_path: Any

    def predict(self, image: Any, topk: int = 5, cam: str | None = "gradcam",
                cam_layer: str | None = None, cam_classes: list[int] | None = None, *,
                progress: Any = None, cancel: Any = None) -> Any: ...

    def score_map(self, image: Any, class_index: int, saliency: Any, metrics: Any = ..., *,
                  progress: Any = None, cancel: Any = None,
                  curves: dict[str, Any] | None = None) -> dict[str, float]: ...

    # For folder runs (inference.pipeline.run_folder).
    def prepare(self, image: Any) -> Any: ...

    def predict_batch(self, inputs: Any, topk: int = 5, cam: str | None = "gradcam",
                      cam_layer: str = ..., cam_classes: Any = None, **options: Any) -> Any: ...


class Engine(Protocol):
    """Builds classifiers. Created inside the worker thread, so that its imports (torch)
    happen there and never delay the window."""

    def available_devices(self) -> tuple[str, ...]: ...

    def downloaded_models(self) -> frozenset[str] | None: ...

    def load(self, request: ModelRequest, progress: ProgressCallback,
             cancel: CancelCallback) -> Classifier: ...


class TorchEngine:
    """The real engine: ``desktop_app.inference`` imported on first use, in this thread."""

    def __init__(self, num_threads: int | None = None) -> None:
        from desktop_app.inference import load_classifier
        from desktop_app.inference.devices import available_devices

        self._num_threads = num_threads
        self._load_classifier = load_classifier
        self._available_devices = available_devices

    def available_devices(self) -> tuple[str, ...]:
        return ("auto", *self._available_devices())

    def downloaded_models(self) -> frozenset[str]:
        """Official models whose weights file is on disk: a few file checks, made here in
        the worker, where torchvision (which names the files) is imported already."""
        from desktop_app.inference.catalog import MODEL_NAMES
        from desktop_app.inference.weights import official_weights_status

        return frozenset(m for m in MODEL_NAMES if official_weights_status(m).path is not None)

    def load(self, request: ModelRequest, progress: ProgressCallback,
             cancel: CancelCallback) -> Classifier:
        return self._load_classifier(
            model=request.model, weights=request.weights, labels=request.labels,
            device=request.device, progress=progress, cancel=cancel,
            num_threads=self._num_threads,
            # The first frames are served by eager PyTorch at once; the fused forward takes
            # over when it is built and verified (several seconds on a small CPU).
            compile_in_background=True,
        )


EngineFactory = Callable[[], Engine]


class Mailbox:
    """Latest-only slots shared by the GUI thread (puts) and the worker thread (takes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, Request] = {}
        self._taken = 0  # the largest id taken so far

    def put(self, request: Request) -> tuple[bool, Request | None]:
        """Store ``request`` in its kind's slot, replacing any pending one there.

        Returns whether the mailbox was empty (only then does the worker need a poke: a
        non-empty mailbox always has one queued or being handled) and the request replaced,
        which will never be answered."""
        with self._lock:
            was_empty = not self._slots
            replaced = self._slots.get(request.kind.slot)
            self._slots[request.kind.slot] = request
            return was_empty, replaced

    def take(self, slots: tuple[str, ...] = SLOTS) -> Request | None:
        """The waiting request of the first of ``slots`` (in their order) that has one,
        passing over requests younger than a waiting long job (model switches excepted)."""
        with self._lock:
            long_ids = [self._slots[s].id for s in LONG_SLOTS if s in slots and s in self._slots]
            oldest_long = min(long_ids, default=None)
            for slot in slots:
                request = self._slots.get(slot)
                if request is None or (oldest_long is not None and request.id > oldest_long
                                       and slot not in ("model", *LONG_SLOTS)):
                    continue
                del self._slots[slot]
                self._taken = max(self._taken, request.id)
                return request
            return None

    def outstanding(self) -> int:
        """The largest id taken or waiting: every request the worker will still report."""
        with self._lock:
            return max([self._taken, *(r.id for r in self._slots.values())])

    def has(self, slot: str) -> bool:
        with self._lock:
            return slot in self._slots

    def discard(self, slot: str) -> Request | None:
        with self._lock:
            return self._slots.pop(slot, None)

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()


class InferenceWorker(QObject):
    """Lives in the worker thread. All its slots run there; all its signals are queued."""

    model_loading = Signal(object)  # ModelRequest
    model_ready = Signal(object)  # ModelInfo
    prediction_ready = Signal(object)  # PredictResult
    score_ready = Signal(object)  # ScoreResult
    count_progress = Signal(object)  # CountProgress
    train_ready = Signal(object)  # TrainResult
    train_progress = Signal(object)  # TrainProgress
    folder_item = Signal(object)  # FolderItem: one file of a folder run
    folder_done = Signal(object)  # FolderRunResult
    failed = Signal(object)  # WorkerFailure
    download_progress = Signal(object)  # DownloadProgress
    idle = Signal(int)  # the largest request id handled so far

    def __init__(self, mailbox: Mailbox, engine_factory: EngineFactory) -> None:
        super().__init__()
        self._mailbox = mailbox
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._devices: tuple[str, ...] = ()
        self._classifier: Classifier | None = None
        self._stopping = threading.Event()
        self._cancel_download = threading.Event()
        # Scorings, Compare requests, folder runs and trainings with an id up to this one
        # are cancelled (an id, not a flag: a cancel can never be lost to, nor leak into,
        # another request).
        self._cancelled_up_to: dict[str, int] = {}  # by slot
        self._last_id = 0
        # The folder run whose map is paused while the request on screen is served inside it.
        self._inside: FolderRunRequest | None = None

    # Called from the GUI thread: plain flags, no Qt calls.
    def request_stop(self) -> None:
        self._stopping.set()
        self._cancel_download.set()

    def cancel_download(self) -> None:
        self._cancel_download.set()

    def cancel_up_to(self, slot: str, up_to: int) -> None:
        self._cancelled_up_to[slot] = max(self._cancelled_up_to.get(slot, 0), up_to)

    @Slot()
    def _on_poke(self) -> None:
        while not self._stopping.is_set():
            request = self._mailbox.take()
            if request is None:
                break
            self._handle(request)
        emit(self.idle, self._last_id)

    def _handle(self, request: Request) -> None:
        self._last_id = max(self._last_id, request.id)
        if isinstance(request, ModelRequest):
            self._load(request)
        elif isinstance(request, ScoreRequest):
            self._score(request)
        elif isinstance(request, FolderRunRequest):
            self._classify_folder(request)
        elif isinstance(request, TrainRequest):
            self._train(request)
        else:
            self._predict(request)

    def _load(self, request: ModelRequest) -> None:
        emit(self.model_loading, request)
        self._cancel_download.clear()
        started = time.perf_counter()
        try:
            if self._engine is None:
                self._engine = self._engine_factory()
                self._devices = tuple(self._engine.available_devices())
                if self._stopping.is_set():
                    # The factory imports torch, which cannot be interrupted: a close during
                    # it waits for the import only, not for a model nobody will use.
                    return
            classifier = self._engine.load(
                request, self._progress_reporter(request), self._download_cancelled
            )
        except DownloadCancelled as error:
            if self._stopping.is_set():
                return  # cancelled because the window is closing: nothing to report
            superseded = self._mailbox.has("model")
            log.info("model load cancelled (%s)", "superseded" if superseded else "by the user")
            if not superseded:
                self._fail(request, error)
            return
        except Exception as error:  # any failure must reach the user, never kill the thread
            # The previous classifier stays: the window carries on with it. With none yet
            # (no weights for the default model), the list of those on disk is what the
            # user needs to pick one that loads.
            self._fail(request, error, downloaded=self._downloaded_models())
            return
        self._classifier = classifier
        weights = getattr(classifier, "weights_path", None)
        emit(self.model_ready, ModelInfo(
            request_id=request.id,
            model=classifier.model_name,
            device=str(classifier.device),
            backend=str(getattr(classifier, "backend", "eager")),
            cam_layers=tuple(classifier.cam_layers),
            num_classes=int(classifier.num_classes),
            weights_path=str(weights) if weights is not None else None,
            available_devices=self._devices,
            load_ms=(time.perf_counter() - started) * 1000.0,
            downloaded=self._engine.downloaded_models(),
        ))

    def _download_cancelled(self) -> bool:
        # A newer model request supersedes a download in progress, as does closing.
        return (self._cancel_download.is_set() or self._stopping.is_set()
                or self._mailbox.has("model"))

    def _progress_reporter(self, request: ModelRequest) -> ProgressCallback:
        last = [0.0]

        def report(done: int, total: int | None) -> None:
            now = time.monotonic()
            # At most ~20 updates a second: the GUI has nothing to gain from more.
            if now - last[0] >= 0.05 or (total is not None and done >= total):
                last[0] = now
                emit(self.download_progress,
                    DownloadProgress(request.id, request.model or "model", done, total)
                )

        return report

    def _predict(self, request: PredictRequest) -> None:
        if self._classifier is None:
            # The window resends what it shows once a model is ready; a folder run needs to
            # hear about it to stop.
            self._fail(request, NoModelError(
                f"{request.source}: no model is loaded (choose a model or a weights file)."))
            return
        started = time.perf_counter()
        try:
            options: dict[str, Any] = {"cam": request.cam_method if request.want_cams else None}
            if request.cam_layer is not None:
                options["cam_layer"] = request.cam_layer
            if request.cam_classes is not None:
                options["cam_classes"] = list(request.cam_classes)
            if request.kind in (Kind.STILL, Kind.COMPARE):
                # Score-CAM (and Ablation-CAM off layer4) run a forward per channel: they
                # count them, and a newer request of the slot or a cancel stops them between
                # batches.
                options["progress"] = self._counter(request)
                options["cancel"] = self._cancel_check(request)
            prediction = self._classifier.predict(request.image, topk=request.topk, **options)
        except Exception as error:  # reported, and the worker carries on
            self._fail(request, error)
            return
        emit(self.prediction_ready,
            PredictResult(request, prediction, (time.perf_counter() - started) * 1000.0)
        )

    def _score(self, request: ScoreRequest) -> None:
        if self._classifier is None:
            self._fail(request, NoModelError("no model is loaded to score the map with"))
            return
        started = time.perf_counter()
        curves: dict[str, Any] = {}
        try:
            scores = self._classifier.score_map(
                request.image, request.class_index, request.saliency, request.metrics,
                progress=self._counter(request), cancel=self._cancel_check(request),
                curves=curves)
        except Exception as error:  # reported (a cancel too: its reason says so)
            self._fail(request, error)
            return
        emit(self.score_ready, ScoreResult(request, dict(scores), curves,
                                           (time.perf_counter() - started) * 1000.0))

    def _train(self, request: TrainRequest) -> None:
        """Teach the model loaded now; save the result and draw its validation maps. The
        user's cancel keeps the best model so far (saved and shown as any other); closing
        the window saves nothing."""
        if self._classifier is None:
            self._fail(request, NoModelError("no model is loaded to teach: choose a model "
                                             "or a weights file first"))
            return
        from desktop_app.inference.taught_files import files_for, save_taught
        from desktop_app.inference.taught_gallery import gallery_of
        from desktop_app.inference.training import teach

        started = time.perf_counter()
        last = [0.0]

        def report(stage: str, done: int, total: int, loss: float | None = None,
                   accuracy: float | None = None, note: str | None = None) -> None:
            now = time.monotonic()
            # Epochs, notes and stage changes always; feature counts at most ~20 a second.
            if (loss is not None or note is not None or done in (0, total)
                    or now - last[0] >= 0.05):
                last[0] = now
                emit(self.train_progress,
                     TrainProgress(request.id, stage, done, total, loss, accuracy, note))

        def cancelled() -> bool:
            # The user's cancel or a close; a model switch waits for the training instead
            # of ending it: the user may have picked the model only to try it afterwards.
            return (request.id <= self._cancelled_up_to.get(request.kind.slot, 0)
                    or self._stopping.is_set())

        dataset = request.dataset
        try:
            files = files_for(request.out)
            trained = teach(
                self._classifier, dataset, request.recipe,  # type: ignore[arg-type]
                progress=lambda r: report(r.stage, r.epoch, r.epochs, r.loss, r.val_accuracy),
                on_skip=lambda _example, reason: report("features", 0, 1,
                                                        note=f"{reason}; skipped"),
                on_count=lambda done, total: report("features", done, total),
                cancel=cancelled)
            if self._stopping.is_set():
                return
            report("maps", 0, 1)
            saved = save_taught(trained, dataset, self._classifier, files)  # type: ignore[arg-type]
            gallery = gallery_of(saved, trained, cancel=self._stopping.is_set)
        except Exception as error:  # a message for the user; the worker carries on
            self._fail(request, error)
            return
        emit(self.train_ready, TrainResult(
            request, saved, gallery, trained.stopped,
            trained.best, trained.probe_val_accuracy,
            (time.perf_counter() - started) * 1000.0))

    def _classify_folder(self, request: FolderRunRequest) -> None:
        from desktop_app.ui.controllers.folder_job import classify_folder

        if self._classifier is None:
            self._fail(request, NoModelError("no model is loaded (choose a model or a "
                                             "weights file)."))
            return
        stop = self._cancel_check(request)

        def between_steps() -> bool:
            # The still on screen, a live frame or a scoring goes first, as when idle; a
            # model switch ends the run (its results would mix two models). Asked between
            # images and inside a slow map between two of its batches of channels: the
            # browsed photo's answer waits for one batch, not for the rest of the map
            # (seconds to minutes). The map then carries on where it was, on this thread:
            # the classifier runs one thing at a time still.
            while not stop():
                waiting = self._mailbox.take(INTERACTIVE_SLOTS)
                if waiting is None:
                    return False
                self._inside = request
                try:
                    self._handle(waiting)
                finally:
                    self._inside = None
            return True

        def report(item: FolderItem) -> None:  # on the pipeline's writer thread
            emit(self.folder_item, item)

        try:
            # A slow map takes seconds to minutes per image: it counts its channels, and
            # between two batches of them serves what waits and stops on a cancel, not
            # after the whole image.
            result = classify_folder(self._classifier, request, report, between_steps,
                                     map_progress=self._counter(request),
                                     stop_map=between_steps)
        except Exception as error:  # reported, and the worker carries on
            self._fail(request, error)
            return
        if not result.completed:
            reason = ("the model changed" if self._mailbox.has("model") else
                      "a newer run replaced it" if self._mailbox.has(request.kind.slot) else
                      "cancelled")
            result = dataclasses.replace(result, stop_reason=reason)
        emit(self.folder_done, result)

    def _counter(self, request: PredictRequest | ScoreRequest | FolderRunRequest
                 ) -> Callable[[int, int], None]:
        """Reports ``done`` of ``total`` steps of ``request`` as CountProgress."""
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 0.05 or done >= total:  # at most ~20 updates a second
                last[0] = now
                emit(self.count_progress, CountProgress(request.id, done, total))

        return progress

    def _cancel_check(self, request: PredictRequest | ScoreRequest | FolderRunRequest
                      ) -> CancelCallback:
        def cancelled() -> bool:
            # Served inside a folder run's map, a slow map or a scoring also yields to the
            # run's cancel: the run ends at once instead of saying "stopping…" for as long
            # as this takes (minutes), and ``_fail`` sends this again after it.
            inside = self._inside
            return self._stops(request) or (inside is not None and self._stops(inside))

        return cancelled

    def _stops(self, request: PredictRequest | ScoreRequest | FolderRunRequest) -> bool:
        """The user's cancel, a newer request of its slot (the newest wins), a new model or
        a close."""
        return (request.id <= self._cancelled_up_to.get(request.kind.slot, 0)
                or self._stopping.is_set()
                or self._mailbox.has(request.kind.slot) or self._mailbox.has("model"))

    def _downloaded_models(self) -> frozenset[str] | None:
        if self._engine is None:
            return None  # the engine itself failed (PyTorch could not be imported)
        try:
            return self._engine.downloaded_models()
        except Exception:  # a missing mark is no reason to lose the failure's message
            log.exception("listing the downloaded models failed")
            return None

    def _fail(self, request: Request, error: BaseException, *,
              downloaded: frozenset[str] | None = None) -> None:
        inside = self._inside
        if (isinstance(error, Cancelled) and inside is not None and self._stops(inside)
                and isinstance(request, PredictRequest | ScoreRequest)
                and not self._stops(request)):
            # Stopped only because the run it was served in ends: done whole after the run,
            # nothing to report (its slot is empty, or it would have stopped for that).
            self._mailbox.put(request)
            return
        kind = request.kind.value
        if isinstance(error, LensError):
            log.info("%s request %d failed: %s", kind, request.id, error)
        else:
            log.exception("%s request %d failed unexpectedly", kind, request.id)
        emit(self.failed, WorkerFailure(request, one_line(error), FailureReason.of(error),
                                        downloaded))


@dataclass(frozen=True)
class Reply:
    """Where the answer to one request goes, on the GUI thread."""

    # A PredictResult, ScoreResult, FolderRunResult, TrainResult or ModelInfo.
    on_result: Callable[[Any], None]
    on_failure: Callable[[WorkerFailure], None]
    # Scorings and slow maps report CountProgress, folder runs each file's FolderItem (and
    # the CountProgress of a slow map's image under way), training TrainProgress.
    on_progress: Callable[[Any], None] | None = None


class WorkerClient(QObject):
    """The GUI thread's handle on the worker: owns the QThread, the mailbox and the poke,
    and hands each reply to the :class:`Reply` its request was sent with."""

    _poke = Signal()
    # A training or a folder run was sent: the window stops a slow still map, which would
    # otherwise hold the long job back, unexplained, until it ends.
    long_job_submitted = Signal()

    def __init__(self, engine_factory: EngineFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.mailbox = Mailbox()
        self.worker = InferenceWorker(self.mailbox, engine_factory)
        self._thread = QThread()
        self._thread.setObjectName("inference-worker")
        self.worker.moveToThread(self._thread)
        self._poke.connect(self.worker._on_poke)
        self.worker.idle.connect(self._on_idle)
        self.worker.model_ready.connect(self._on_model_ready)
        for ready in (self.worker.prediction_ready, self.worker.score_ready,
                      self.worker.train_ready, self.worker.folder_done):
            ready.connect(self._on_result)
        for progress in (self.worker.count_progress, self.worker.train_progress,
                         self.worker.folder_item):
            progress.connect(self._on_progress)
        self.worker.failed.connect(self._on_failed)
        # Per slot, the replies still owed, by request id.
        self._replies: dict[str, dict[int, Reply]] = {slot: {} for slot in SLOTS}
        self._last_sent = 0
        self._last_done = 0
        self._started = False

    @property
    def busy(self) -> bool:
        return self._last_sent > self._last_done

    @property
    def running(self) -> bool:
        """True while the worker's thread runs (after ``stop``: still inside torch)."""
        return self._thread.isRunning()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, request: Request, reply: Reply | None = None) -> None:
        """Send ``request``; its result or failure goes to ``reply`` (none: to nobody but
        the worker's own signals), unless a newer request of its slot replaces it first."""
        self._last_sent = max(self._last_sent, request.id)
        replies = self._replies[request.kind.slot]
        if reply is not None:
            replies[request.id] = reply
        was_empty, replaced = self.mailbox.put(request)
        if replaced is not None:
            replies.pop(replaced.id, None)
        if was_empty:
            emit(self._poke)
        if request.kind.slot in LONG_SLOTS:
            emit(self.long_job_submitted)

    def discard(self, slot: str) -> bool:
        """Drop the request waiting in ``slot``; nobody hears about it. Returns whether
        one was waiting."""
        dropped = self.mailbox.discard(slot)
        if dropped is not None:
            self._replies[slot].pop(dropped.id, None)
        # A discarded request is never handled, so ``idle`` never reports it: stop counting
        # on it, or ``busy`` would stay True until some newer request is done.
        self._last_sent = self.mailbox.outstanding()
        return dropped is not None

    def cancel_download(self) -> None:
        self.worker.cancel_download()

    def cancel(self, slot: str) -> bool:
        """Stop what ``slot`` is doing (a scoring fails with FailureReason.CANCELLED; a
        folder run ends after its current batch, or inside a slow map without its image)
        and drop the request waiting there.
        Returns whether one was waiting (it will never be answered)."""
        self.worker.cancel_up_to(slot, self._last_sent)
        return self.discard(slot)

    def cancel_train(self) -> None:
        """Stop the training in progress (it keeps, saves and reports its best model so
        far; before any model exists it fails as cancelled), or drop one still waiting."""
        self.cancel(Kind.TRAIN.slot)

    def stop(self, timeout_ms: int = 1800, *, wait_out: bool = True) -> bool:
        """Stop the thread; True when it ended within ``timeout_ms``.

        A thread still busy then (torch cannot be interrupted mid-call) is waited for, since
        destroying a running QThread aborts the process. ``wait_out=False`` returns at once
        instead: only for a caller that ends the process without destroying the QThread
        (``app.main``'s fast exit)."""
        self.mailbox.clear()
        for replies in self._replies.values():
            replies.clear()  # nothing is delivered after a stop
        self.worker.request_stop()
        if not self._started:
            return True
        self._thread.quit()
        if self._thread.wait(timeout_ms):
            return True
        if not wait_out:
            log.info("inference worker still busy after %d ms; leaving it to the exit",
                     timeout_ms)
            return False
        # Expected when closing during the first model load (the torch import): not a fault.
        log.info("inference worker still busy after %d ms; waiting for it", timeout_ms)
        self._thread.wait()
        return False

    @Slot(int)
    def _on_idle(self, last_id: int) -> None:
        self._last_done = max(self._last_done, last_id)

    def _take_reply(self, slot: str, request_id: int) -> Reply | None:
        replies = self._replies[slot]
        # A slot's requests are taken in the order of their ids: any older one still listed
        # was superseded in the worker (a cancelled download) and will never be answered.
        for stale in [i for i in replies if i < request_id]:
            del replies[stale]
        return replies.pop(request_id, None)

    @Slot(object)
    def _on_model_ready(self, info: ModelInfo) -> None:
        reply = self._take_reply(ModelRequest.kind.slot, info.request_id)
        if reply is not None:
            reply.on_result(info)

    @Slot(object)
    def _on_result(self, result: PredictResult | ScoreResult | FolderRunResult | TrainResult
                   ) -> None:
        reply = self._take_reply(result.request.kind.slot, result.request.id)
        if reply is not None:
            reply.on_result(result)

    @Slot(object)
    def _on_progress(self, progress: CountProgress | TrainProgress | FolderItem) -> None:
        slots = (("train",) if isinstance(progress, TrainProgress) else
                 ("batch",) if isinstance(progress, FolderItem) else
                 ("predict", "score", "compare", "batch"))
        for slot in slots:
            reply = self._replies[slot].get(progress.request_id)
            if reply is not None and reply.on_progress is not None:
                reply.on_progress(progress)

    @Slot(object)
    def _on_failed(self, failure: WorkerFailure) -> None:
        reply = self._take_reply(failure.kind.slot, failure.request_id)
        if reply is not None:
            reply.on_failure(failure)
