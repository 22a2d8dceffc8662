"""Classify a stream of image files: decode ahead, forward in batches, write behind.

Three stages overlap: a small thread pool decodes and preprocesses the next images
(``Classifier.prepare``; Pillow and torch release the GIL), the calling thread runs the
model on batches, and a writer thread hands each finished image to the caller's ``write``
(overlays, map files, a JSON line) while the next batch runs. Both queues are bounded, so a
folder of 100,000 photos holds a few batches in memory, never the folder. Results reach
``write`` in input order; a file that cannot be read reaches it as an error, and the run
goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.core.errors import Cancelled, ImageDecodeError, LensError, one_line
from desktop_app.core.results import Prediction
from desktop_app.core.sources import MissingInput
from desktop_app.inference.catalog import DEFAULT_CAM_LAYER
from desktop_app.inference.devices import images_per_forward

if TYPE_CHECKING:  # names only: the classifier given to run_folder has imported torch
    from desktop_app.inference.cam_methods import ProgressCallback
    from desktop_app.inference.classifier import CamClasses, Classifier, ModelInput

log = logging.getLogger(__name__)

DECODE_WORKERS = 2


@dataclass(frozen=True)
class FolderRequest:
    """What to compute for every image. ``cams`` empty: predictions only; else one
    prediction per CAM method, with maps for ``cam_classes`` ("top1", "topk" or indices)."""

    topk: int = 5
    cams: tuple[str, ...] = ()
    cam_layer: str = DEFAULT_CAM_LAYER
    cam_classes: CamClasses = "top1"
    aug_smooth: bool = False
    eigen_smooth: bool = False
    # (method, image name) -> a callback counting Score-/Ablation-CAM's forwards, or None.
    cam_progress: Callable[[str, str], ProgressCallback | None] | None = None
    # Faithfulness scores of each map (FAITHFULNESS_METRICS), in pred.metrics.
    metrics: tuple[str, ...] = ()
    # Asked between two batches of Score-/Ablation-CAM's forwards (and of the scoring's):
    # True stops the run there, without the image under way. An image's map takes seconds
    # to minutes; the run's own ``cancel`` is asked only between images.
    cam_cancel: Callable[[], bool] | None = None


@dataclass(frozen=True)
class Outcome:
    """One input's result: ``index`` is its position in the stream, ``predictions`` one per
    CAM method (one without maps when none was asked for), or ``error`` one line."""

    index: int
    path: Path
    predictions: tuple[Prediction, ...] = ()
    error: str | None = None


def run_folder(
    clf: Classifier,
    paths: Iterable[Path | MissingInput],
    request: FolderRequest,
    write: Callable[[Outcome], None],
    *,
    batch_size: int | None = None,
    decode_workers: int = DECODE_WORKERS,
    cancel: Callable[[], bool] | None = None,
) -> bool:
    """Classify every file of ``paths`` (consumed lazily, e.g. ``core.sources.iter_inputs``;
    a ``MissingInput`` becomes an error outcome in its place) and call ``write`` with each
    :class:`Outcome`, in order, on a writer thread. Returns False when ``cancel()`` (asked
    between batches) or ``request.cam_cancel()`` (inside a slow map) stopped the run early:
    outcomes already computed are still written, none of the batch under way is, so that
    nothing is written half-way and a resume redoes that batch whole. An exception raised by
    ``write`` stops the run and is re-raised here; ``write`` reports per-file problems
    itself. ``Classifier`` is not thread-safe: nothing else may use ``clf`` meanwhile."""
    size = batch_size or images_per_forward(clf.device)
    if size < 1:
        raise ValueError(f"batch_size must be at least 1, got {size}")
    with ThreadPoolExecutor(decode_workers, thread_name_prefix="lens-decode") as pool:
        # At least one decode ahead per worker, however small the batches.
        depth = 2 * max(size, decode_workers)
        writer = _Writer(write, depth=depth)
        prepared = _prepared(pool, clf, paths, ahead=depth)
        try:
            for batch in _batches(prepared, size):
                if cancel is not None and cancel():
                    _drain(batch)
                    return False
                try:
                    outcomes = _classify(clf, batch, request)
                except Cancelled:  # request.cam_cancel, inside an image's map
                    return False
                for outcome in outcomes:
                    writer.put(outcome)
        finally:
            prepared.close()  # cancels the decodes queued ahead before the pool waits on them
            writer.close()
    return True


# (index, path, future of the prepared image) for each input, at most ``ahead`` in flight.
_Pending = tuple[int, Path, "Future[ModelInput]"]


def _prepared(pool: ThreadPoolExecutor, clf: Classifier, paths: Iterable[Path | MissingInput],
              ahead: int) -> Iterator[_Pending]:
    in_flight: deque[_Pending] = deque()
    try:
        for index, item in enumerate(paths):
            if isinstance(item, MissingInput):
                future: Future[ModelInput] = Future()
                future.set_exception(ImageDecodeError(f"{item.item}: {item.reason}"))
                in_flight.append((index, Path(item.item), future))
            else:
                in_flight.append((index, item, pool.submit(clf.prepare, item)))
            if len(in_flight) >= ahead:
                yield in_flight.popleft()
        while in_flight:
            yield in_flight.popleft()
    finally:
        _drain(list(in_flight))  # stopped early: don't decode what nobody will read


def _batches(pending: Iterator[_Pending], size: int) -> Iterator[list[_Pending]]:
    batch: list[_Pending] = []
    for item in pending:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _drain(batch: list[_Pending]) -> None:
    for _, _, future in batch:
        future.cancel()


def classify_batch(clf: Classifier, items: list[tuple[int, Path]],
                   request: FolderRequest) -> list[Outcome]:
    """One batch of ``(index, path)``, decoded and classified on the calling thread: for
    callers that run many of these in parallel themselves (a Ray actor)."""
    pending: list[_Pending] = []
    for index, path in items:
        future: Future[ModelInput] = Future()
        try:
            future.set_result(clf.prepare(path))
        except (LensError, OSError) as exc:
            future.set_exception(exc)
        pending.append((index, path, future))
    return _classify(clf, pending, request)


def _classify(clf: Classifier, batch: list[_Pending], request: FolderRequest) -> list[Outcome]:
    ready: list[tuple[int, Path, ModelInput]] = []
    errors: dict[int, Outcome] = {}
    for index, path, future in batch:
        try:
            ready.append((index, path, future.result()))
        except (LensError, OSError) as exc:
            errors[index] = Outcome(index, path, error=one_line(exc))
    by_index = {o.index: o for o in _predict(clf, ready, request)} | errors
    return [by_index[index] for index, _, _ in batch]


def _predict(clf: Classifier, ready: list[tuple[int, Path, ModelInput]],
             request: FolderRequest) -> list[Outcome]:
    if not ready:
        return []
    try:
        per_method = [_predict_batch(clf, [item for _, _, item in ready], request, method)
                      for method in request.cams or (None,)]
    except Cancelled:
        raise  # the run stops: not this image's error
    except (LensError, OSError) as exc:
        if len(ready) == 1:
            index, path, _ = ready[0]
            return [Outcome(index, path, error=one_line(exc))]
        # Find the image that failed: one at a time, so the others still get results.
        return [outcome for item in ready for outcome in _predict(clf, [item], request)]
    return [Outcome(index, path, tuple(preds[i] for preds in per_method))
            for i, (index, path, _) in enumerate(ready)]


def _predict_batch(clf: Classifier, inputs: list[ModelInput], request: FolderRequest,
                   method: str | None) -> list[Prediction]:
    report = request.cam_progress
    return clf.predict_batch(
        inputs, request.topk, method, request.cam_layer, request.cam_classes,
        aug_smooth=request.aug_smooth, eigen_smooth=request.eigen_smooth,
        metrics=request.metrics if method else (),
        progress=(lambda decoded: report(str(method), decoded.name)) if report else None,
        cancel=request.cam_cancel)


_STOP = object()


class _Writer:
    """Calls ``write`` on its own thread, so that encoding overlays and writing files
    overlap the next batch's forward; at most ``depth`` outcomes wait."""

    def __init__(self, write: Callable[[Outcome], None], depth: int) -> None:
        self._write = write
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="lens-writer", daemon=True)
        self._thread.start()

    def put(self, outcome: Outcome) -> None:
        while True:
            self._raise_error()
            try:
                self._queue.put(outcome, timeout=0.1)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        """Write what is queued, stop the thread, and re-raise what ``write`` raised."""
        self._queue.put(_STOP)
        self._thread.join()
        self._raise_error()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _run(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            if self._error is None:
                try:
                    self._write(item)  # type: ignore[arg-type]
                except BaseException as exc:  # re-raised in the calling thread
                    self._error = exc
