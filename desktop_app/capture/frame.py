"""One captured image, as handed from a capture thread to its consumers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Frame:
    """An RGB frame from a camera or video file.

    ``pixels`` is always a read-only (H, W, 3) uint8 RGB array, so one frame can be shared by
    the preview, the model and a snapshot without copies and without anyone scribbling on it.
    ``index`` counts the frames a source has delivered (0, 1, 2, ...; a looping video keeps
    counting), ``timestamp`` is ``time.monotonic()`` when the frame was read, and ``source``
    names where it came from (e.g. "Camera 0").
    """

    pixels: np.ndarray
    index: int
    timestamp: float = field(default_factory=time.monotonic)
    source: str = ""

    def __post_init__(self) -> None:
        pixels = self.pixels
        if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(
                f"Frame pixels must be (H, W, 3) uint8 RGB, got {pixels.dtype} {pixels.shape}"
            )
        if pixels.flags.writeable:
            # A read-only view: the caller's own array keeps its flags.
            view = pixels.view()
            view.setflags(write=False)
            object.__setattr__(self, "pixels", view)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), the order used for image sizes everywhere else in the app."""
        return self.width, self.height
