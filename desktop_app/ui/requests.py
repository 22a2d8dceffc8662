"""Immutable messages between the window and the inference worker.

Every request carries an id from one process-wide counter, so "newer" is a plain integer
comparison and a result can always be matched with the request that produced it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

from desktop_app.core.results import Prediction

PredictKind = Literal["still", "live", "batch"]

_ids = itertools.count(1)


def next_request_id() -> int:
    """A fresh id, larger than every id handed out before (thread-safe under the GIL)."""
    return next(_ids)


@dataclass(frozen=True)
class ModelRequest:
    """Load (or switch to) a model. ``weights``/``labels`` are paths for custom checkpoints."""

    id: int
    model: str | None
    device: str = "auto"
    weights: str | None = None
    labels: str | None = None


@dataclass(frozen=True, eq=False)
class PredictRequest:
    """Classify one image.

    ``image`` is what the classifier decodes under its one policy: a path (files, batch
    runs), encoded bytes (dropped or pasted files) or a read-only (H, W, 3) uint8 RGB array
    (live and frozen frames, pasted pixels). ``session`` ties live frames and batch items to
    the run that sent them, so results of a stopped run can be recognised and dropped.
    """

    id: int
    image: Any
    source: str
    kind: PredictKind
    topk: int
    cam_layer: str | None
    want_cams: bool = True
    session: int = 0


@dataclass(frozen=True)
class ModelInfo:
    """What the worker loaded, and the devices this machine offers."""

    request_id: int
    model: str
    device: str
    backend: str
    cam_layers: tuple[str, ...]
    num_classes: int
    weights_path: str | None
    available_devices: tuple[str, ...]
    load_ms: float
    # The official models whose weights are on disk (None: the engine cannot tell).
    downloaded: frozenset[str] | None = None


@dataclass(frozen=True, eq=False)
class PredictResult:
    request: PredictRequest
    prediction: Prediction
    worker_ms: float


@dataclass(frozen=True, eq=False)
class WorkerFailure:
    """A request that failed; ``message`` is one line for the user."""

    request_id: int
    kind: Literal["model", "still", "live", "batch"]
    source: str
    message: str
    error: str
    request: ModelRequest | PredictRequest | None = None


@dataclass(frozen=True)
class DownloadProgress:
    request_id: int
    model: str
    done: int
    total: int | None
