"""Test videos whose frames say which frame they are.

Each frame shows its index as 16 big black/white cells (a 4×4 grid over the top 80% of the
frame), coarse enough to survive MJPG compression and downscaling. The bottom 20% is a band,
red on the left half and blue on the right, to check the RGB order and mirroring.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

BITS = 16
GRID = 4  # GRID × GRID cells, one bit each
GRID_FRACTION = 0.8  # of the height, above the colour band
LEFT_RGB = (255, 0, 0)
RIGHT_RGB = (0, 0, 255)


def _cell_bounds(width: int, height: int, bit: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the cell holding ``bit``."""
    row, col = divmod(bit, GRID)
    grid_height = int(height * GRID_FRACTION)
    x0, x1 = col * width // GRID, (col + 1) * width // GRID
    y0, y1 = row * grid_height // GRID, (row + 1) * grid_height // GRID
    return x0, y0, x1, y1


def render_frame(index: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    """The RGB (H, W, 3) uint8 frame for ``index``, as written by ``make_test_video``."""
    if not 0 <= index < 2**BITS:
        raise ValueError(f"index must be in [0, {2**BITS}), got {index}")
    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    for bit in range(BITS):
        if index >> bit & 1:
            x0, y0, x1, y1 = _cell_bounds(width, height, bit)
            frame[y0:y1, x0:x1] = 255
    band_top = int(height * GRID_FRACTION)
    frame[band_top:, : width // 2] = LEFT_RGB
    frame[band_top:, width // 2 :] = RIGHT_RGB
    return frame


def make_test_video(
    path: str | os.PathLike[str],
    n_frames: int,
    size: tuple[int, int] = (640, 480),
    fps: float = 30,
) -> Path:
    """Write an MJPG .avi of ``n_frames`` frames of ``size`` (width, height) at ``fps``."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"cv2.VideoWriter cannot write {path}")
    try:
        for index in range(n_frames):
            writer.write(cv2.cvtColor(render_frame(index, size), cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def decode_index(pixels: np.ndarray) -> int:
    """The index shown by a frame (RGB or BGR alike: the cells are gray)."""
    height, width = pixels.shape[:2]
    index = 0
    for bit in range(BITS):
        x0, y0, x1, y1 = _cell_bounds(width, height, bit)
        # The middle half of the cell: clear of compression ringing at the edges.
        dx, dy = (x1 - x0) // 4, (y1 - y0) // 4
        if pixels[y0 + dy : y1 - dy, x0 + dx : x1 - dx].mean() > 127:
            index |= 1 << bit
    return index


def band_colors(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean colour of the left and right halves of the colour band (channel order as given)."""
    height, width = pixels.shape[:2]
    band = pixels[int(height * GRID_FRACTION) + 2 :]
    margin = width // 8
    left = band[:, margin : width // 2 - margin].reshape(-1, pixels.shape[2]).mean(axis=0)
    right = band[:, width // 2 + margin : width - margin].reshape(-1, pixels.shape[2]).mean(axis=0)
    return left, right
