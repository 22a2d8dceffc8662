"""The Grad-CAM layer drawn over the photo, as a straight-alpha RGBA image.

Painting a colour with alpha ``opacity`` over the photo is the same blend as
``(1 - opacity) * photo + opacity * colour``; the part the model never saw (NaN) gets black
at alpha ``dim`` instead, i.e. the photo darkened. Qt does the compositing, at display size.
"""

from __future__ import annotations

import numpy as np

from desktop_app.core.colormaps import colormap_indices

DIM_UNSEEN = 0.5  # as desktop_app.core.overlay, so the export looks like the screen


def cam_rgba(
    cam: np.ndarray, lut: np.ndarray, opacity: float, dim: float = DIM_UNSEEN
) -> np.ndarray:
    """(H, W) float map in [0, 1] with NaN where unseen -> (H, W, 4) uint8 RGBA."""
    if cam.ndim != 2:
        raise ValueError(f"expected a 2-D map, got shape {cam.shape}")
    if lut.shape != (256, 3) or lut.dtype != np.uint8:
        raise ValueError(f"expected a (256, 3) uint8 colour table, got {lut.shape} {lut.dtype}")
    unseen = np.isnan(cam)
    rgba = np.empty((*cam.shape, 4), dtype=np.uint8)
    rgba[..., :3] = lut[colormap_indices(cam)]
    rgba[..., 3] = round(float(np.clip(opacity, 0.0, 1.0)) * 255)
    rgba[unseen] = (0, 0, 0, round(float(np.clip(dim, 0.0, 1.0)) * 255))
    return rgba
