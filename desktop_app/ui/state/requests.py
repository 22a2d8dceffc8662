"""Immutable messages between the window and the inference worker.

Every request carries an id from one process-wide counter, so "newer" is a plain integer
comparison and a result can always be matched with the request that produced it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from desktop_app.core.dataset import Dataset
from desktop_app.core.errors import (
    Cancelled,
    DownloadCancelled,
    LensError,
    WeightsUnavailableError,
)
from desktop_app.core.results import Prediction
from desktop_app.core.teach_recipe import Recipe

if TYPE_CHECKING:  # training imports torch, which only the worker thread imports
    from desktop_app.inference.taught_files import Saved
    from desktop_app.inference.taught_gallery import Gallery


class Kind(Enum):
    """What a request is for; its mailbox slot follows from it."""

    MODEL = "model"
    STILL = "still"  # the image on screen
    LIVE = "live"  # a camera or video frame
    BATCH = "batch"  # a folder run (Classify all)
    SCORE = "score"  # faithfulness scores of the map on screen
    COMPARE = "compare"  # one map or one scoring of the Compare grid
    TRAIN = "train"  # teach the loaded model new classes

    @property
    def slot(self) -> str:
        """Stills and live frames share one latest-only slot: both are what the user sees,
        and only the newest of them is worth computing."""
        return "predict" if self in (Kind.STILL, Kind.LIVE) else self.value


class NoModelError(LensError):
    """A prediction arrived before any model loaded successfully."""


class FailureReason(Enum):
    """Why a request failed, for the code that reacts to it (the message is for the user)."""

    ERROR = "error"  # anything else: the message says what
    NO_MODEL = "no model"  # predictions before any model loaded
    CANCELLED = "cancelled"  # the user cancelled a weights download or a scoring
    OFFLINE = "offline"  # official weights neither on disk nor downloadable

    @classmethod
    def of(cls, error: BaseException) -> FailureReason:
        if isinstance(error, NoModelError):
            return cls.NO_MODEL
        if isinstance(error, (DownloadCancelled, Cancelled)):
            return cls.CANCELLED
        if isinstance(error, WeightsUnavailableError):
            return cls.OFFLINE
        return cls.ERROR

_ids = itertools.count(1)


def next_request_id() -> int:
    """A fresh id, larger than every id handed out before (thread-safe under the GIL)."""
    return next(_ids)


@dataclass(frozen=True)
class ModelRequest:
    """Load (or switch to) a model. ``weights``/``labels`` are paths for custom checkpoints."""

    kind: ClassVar[Kind] = Kind.MODEL
    id: int
    model: str | None
    device: str = "auto"
    weights: str | None = None
    labels: str | None = None


@dataclass(frozen=True, eq=False)
class PredictRequest:
    """Classify one image.

    ``image`` is what the classifier decodes under its one policy: a path (files), encoded
    bytes (dropped or pasted files) or a read-only (H, W, 3) uint8 RGB array (live and
    frozen frames, pasted pixels). ``session`` ties live frames to the source that sent
    them, so results of a stopped one can be recognised and dropped. (A folder run is one
    :class:`FolderRunRequest`.)
    """

    id: int
    image: Any
    source: str
    kind: Kind
    topk: int
    cam_layer: str | None
    want_cams: bool = True
    session: int = 0
    cam_method: str = "gradcam"  # one of inference.catalog.CAM_METHODS
    cam_classes: tuple[int, ...] | None = None  # None: the top-k classes


RESULTS_FILE = "results.jsonl"  # a folder run's JSON lines, in its output folder


@dataclass(frozen=True)
class FolderOutput:
    """Where a folder run writes, as ``resnet-lens predict --out FOLDER/results.jsonl
    --cam-dir FOLDER [--cam-classes] [--full-size] [--resume]`` would: one JSON line per
    image and JPEG overlays of its CAM maps."""

    folder: str
    cam_classes: str = "top1"  # or "topk": every listed class
    full_size: bool = False  # overlays at the photo's size, not capped at 1024 px
    resume: bool = True  # skip the images the folder's results already hold
    colormap: str = "jet"
    alpha: float = 0.5

    @property
    def results_file(self) -> str:
        return str(Path(self.folder) / RESULTS_FILE)


@dataclass(frozen=True, eq=False)
class FolderRunRequest:
    """Classify ``files`` in order through the folder pipeline (``run_folder``), and write
    ``output`` if given (with maps of ``cam_method`` at ``cam_layer``)."""

    kind: ClassVar[Kind] = Kind.BATCH
    id: int
    files: tuple[str, ...]
    topk: int
    cam_method: str = "gradcam"
    cam_layer: str | None = None  # None: the model's default
    output: FolderOutput | None = None


@dataclass(frozen=True, eq=False)
class FolderItem:
    """One file of a folder run, as it finishes: ``position`` in the request's files, and
    a prediction, or an error line, or neither when an earlier run into the same output
    did it already (``skipped``)."""

    request_id: int
    position: int
    source: str
    prediction: Prediction | None = None
    error: str | None = None
    skipped: bool = False


@dataclass(frozen=True, eq=False)
class FolderRunResult:
    """A folder run that ended: ``completed`` False when it stopped early (a cancel, a
    newer run, a model change; ``stop_reason`` says which). ``maps`` counts the map files
    it wrote."""

    request: FolderRunRequest
    completed: bool
    skipped: int = 0
    maps: int = 0
    stop_reason: str = ""


@dataclass(frozen=True, eq=False)
class ScoreRequest:
    """Score one map: ``saliency`` is in ``image``'s own pixels (NaN where unseen), as
    ``Prediction.cams[class_index]``; ``image`` as in :class:`PredictRequest`."""

    id: int
    image: Any
    source: str
    class_index: int
    saliency: np.ndarray
    metrics: tuple[str, ...] = ("deletion", "insertion", "road")
    kind: Kind = Kind.SCORE  # or COMPARE: the grid's scorings have their own slot


@dataclass(frozen=True, eq=False)
class ScoreResult:
    request: ScoreRequest
    scores: dict[str, float]
    curves: dict[str, np.ndarray]  # deletion/insertion probability curves, for the plot
    worker_ms: float


@dataclass(frozen=True)
class CountProgress:
    """``done`` of ``total`` steps of one request: a scoring's perturbed images, or the
    forwards (one per channel) of a slow method's map."""

    request_id: int
    done: int
    total: int


@dataclass(frozen=True, eq=False)
class TrainRequest:
    """Teach the model loaded now the classes of ``dataset`` by ``recipe``; save it as
    ``out`` (a ``.safetensors`` file, its labels and report beside it)."""

    kind: ClassVar[Kind] = Kind.TRAIN
    id: int
    dataset: Dataset
    out: Path
    recipe: Recipe

    @property
    def source(self) -> str:
        return self.out.name


@dataclass(frozen=True)
class TrainProgress:
    """Where a training is: ``stage`` is "features", "linear probe", "fine-tune" or
    "maps", ``done`` of ``total`` steps of it; epochs carry their loss and validation
    accuracy. ``note``: a line for the user (a file that was skipped)."""

    request_id: int
    stage: str
    done: int
    total: int
    loss: float | None = None
    val_accuracy: float | None = None
    note: str | None = None


@dataclass(frozen=True, eq=False)
class TrainResult:
    request: TrainRequest
    saved: Saved  # the files written and the evaluation
    gallery: Gallery  # Grad-CAM overlays of validation images and of the mistakes
    stopped: str  # "completed", "early stopping" or "cancelled"
    best: str  # the stage and epoch whose model was kept, e.g. "fine-tune epoch 3"
    probe_accuracy: float  # validation accuracy of the linear probe alone
    worker_ms: float


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

    request: ModelRequest | PredictRequest | ScoreRequest | FolderRunRequest | TrainRequest
    message: str
    reason: FailureReason = FailureReason.ERROR
    # A model that failed to load: the official models whose weights are on disk, for the
    # model list to mark (None: not known).
    downloaded: frozenset[str] | None = None

    @property
    def request_id(self) -> int:
        return self.request.id

    @property
    def kind(self) -> Kind:
        return self.request.kind

    @property
    def source(self) -> str:
        """The file or frame that failed, or the model that did not load."""
        if isinstance(self.request, ModelRequest):
            return self.request.model or "model"
        if isinstance(self.request, FolderRunRequest):
            return "Classify all"
        return self.request.source


@dataclass(frozen=True)
class DownloadProgress:
    request_id: int
    model: str
    done: int
    total: int | None
