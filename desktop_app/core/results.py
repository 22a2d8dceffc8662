"""Immutable prediction results shared by the engine, the CLI and the window."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from desktop_app.core.geometry import CropGeometry


@dataclass(frozen=True)
class ClassScore:
    label: str
    index: int
    probability: float
    logit: float


class CamMaps(Mapping[int, np.ndarray]):
    """CAM maps by class index, warped lazily onto the input image's pixels.

    The engine produces small grids (e.g. 7×7 for layer4) over the model's crop, already
    min-max normalised to [0, 1]. Full-resolution maps are made on first access and cached:
    a 24-megapixel photo costs 96 MB per class, so nobody pays for maps they never look at.
    Pixels the model never saw are NaN.
    """

    def __init__(
        self, grids: Mapping[int, np.ndarray], geometry: CropGeometry, size: tuple[int, int]
    ) -> None:
        self._grids = {int(k): np.asarray(v, dtype=np.float32) for k, v in grids.items()}
        for grid in self._grids.values():
            grid.setflags(write=False)
        self._geometry = geometry
        self._size = size
        self._full: dict[int, np.ndarray] = {}

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the maps returned by ``maps[index]``."""
        return self._size

    @property
    def geometry(self) -> CropGeometry:
        return self._geometry

    def grid(self, index: int) -> np.ndarray:
        """The raw normalised grid over the model's crop (read-only)."""
        return self._grids[index]

    def at_size(self, index: int, width: int, height: int) -> np.ndarray:
        """The map for ``index`` resampled for a view of the image at another size."""
        return self._geometry.warp_to_image(self._grids[index], width, height)

    def __getitem__(self, index: int) -> np.ndarray:
        if index not in self._full:
            full = self.at_size(index, *self._size)
            full.setflags(write=False)
            self._full[index] = full
        return self._full[index]

    def __contains__(self, index: object) -> bool:
        # Mapping's default would call __getitem__ and build a full-resolution map.
        return index in self._grids

    def __iter__(self) -> Iterator[int]:
        return iter(self._grids)

    def __len__(self) -> int:
        return len(self._grids)


@dataclass(frozen=True)
class Prediction:
    """What the model thinks one image is, and why.

    ``timings`` holds milliseconds per stage (``decode``, ``preprocess``, ``forward``, ``cam``,
    ``total``, and ``metrics`` when scored); ``notes`` holds things the user should know,
    such as a fallback to CPU.
    """

    topk: tuple[ClassScore, ...]
    cams: CamMaps | None
    timings: Mapping[str, float]
    image_size: tuple[int, int]
    model: str
    device: str
    cam_layer: str | None = None
    source: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    cam_method: str | None = None  # one of inference.catalog.CAM_METHODS
    backend: str = "eager"  # the forward that ran: eager, onednn or torchscript
    # Faithfulness scores of each mapped class's map: {class index: {metric: score}}
    # (inference/faithfulness.py); empty unless asked for.
    metrics: Mapping[int, Mapping[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (maps excluded: they are arrays)."""
        return {
            "source": self.source,
            "model": self.model,
            "device": self.device,
            "backend": self.backend,
            "image_size": list(self.image_size),
            "topk": [
                {"label": s.label, "index": s.index, "probability": s.probability}
                for s in self.topk
            ],
            "cam_layer": self.cam_layer,
            "cam_method": self.cam_method,
            "cam_classes": sorted(self.cams) if self.cams is not None else [],
            "timings_ms": {k: round(v, 3) for k, v in self.timings.items()},
            "notes": list(self.notes),
            "metrics": {str(c): dict(scores) for c, scores in self.metrics.items()},
        }
