"""Small example images for teaching projects and training folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def solid_image(path: Path, value: int, size: tuple[int, int] = (16, 12)) -> Path:
    """A one-grey-level image of ``size`` (width, height): ``value`` makes its bytes unique."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), value, np.uint8)).save(path)
    return path
