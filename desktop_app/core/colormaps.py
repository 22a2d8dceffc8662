"""Heat-map colour tables, taken from OpenCV so they match what Grad-CAM users know.

All colours here are RGB (OpenCV's own tables are BGR and are flipped once, when built).
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

_OPENCV_CODES: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "magma": cv2.COLORMAP_MAGMA,
    "plasma": cv2.COLORMAP_PLASMA,
    "cividis": cv2.COLORMAP_CIVIDIS,
    "hot": cv2.COLORMAP_HOT,
    "bone": cv2.COLORMAP_BONE,
}

COLORMAPS: tuple[str, ...] = tuple(_OPENCV_CODES)


@cache
def lut(name: str) -> np.ndarray:
    """The (256, 3) uint8 RGB table for ``name``: entry i colours the value i / 255.

    The array is shared and read-only. Raises ``ValueError`` for an unknown name.
    """
    code = _OPENCV_CODES.get(name)
    if code is None:
        raise ValueError(f"unknown colormap {name!r}; choose one of: {', '.join(COLORMAPS)}")
    ramp = np.arange(256, dtype=np.uint8).reshape(256, 1)
    table = np.ascontiguousarray(cv2.applyColorMap(ramp, code)[:, 0, ::-1])
    table.setflags(write=False)
    return table


def colormap_indices(values01: np.ndarray) -> np.ndarray:
    """Table indices (uint8) for values in [0, 1]: ``round(v * 255)`` after clipping.

    Values outside [0, 1], including ±inf, are clipped; NaN maps to index 0.
    """
    values = np.asarray(values01)
    if not np.issubdtype(values.dtype, np.floating):
        raise TypeError(f"colormap values must be a float array, got {values.dtype}")
    scaled = np.clip(values, 0.0, 1.0) * np.float32(255.0)
    scaled = np.nan_to_num(scaled, nan=0.0, copy=False)
    return np.rint(scaled).astype(np.uint8)


def apply_colormap(values01: np.ndarray, name: str = "jet") -> np.ndarray:
    """Colour a float array of values in [0, 1]: shape (...,) -> (..., 3) uint8 RGB.

    Values are quantised as in :func:`colormap_indices` (out-of-range values clipped). NaN
    means "no value" and is coloured black (0, 0, 0), not with the table's lowest colour, so
    missing data never looks like a low score.
    """
    table = lut(name)
    values = np.asarray(values01)
    rgb = table[colormap_indices(values)]
    missing = np.isnan(values)
    if missing.any():
        rgb[missing] = 0
    return rgb
