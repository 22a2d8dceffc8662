"""numpy <-> QImage conversions that never share memory.

A QImage built over a numpy buffer does not own it; once the array is freed the image
points at garbage. Every conversion here copies, so either side can go away safely.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """(H, W, 3) uint8 RGB -> a QImage that owns its pixels."""
    rgb = _check(rgb, 3)
    h, w = rgb.shape[:2]
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()


def rgba_to_qimage(rgba: np.ndarray) -> QImage:
    """(H, W, 4) uint8 straight-alpha RGBA -> a QImage that owns its pixels."""
    rgba = _check(rgba, 4)
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, rgba.strides[0], QImage.Format.Format_RGBA8888).copy()


def qimage_to_rgb(image: QImage, background: Qt.GlobalColor = Qt.GlobalColor.white) -> np.ndarray:
    """Any QImage -> a new (H, W, 3) uint8 RGB array; transparency is composited over
    ``background`` (a pasted PNG with alpha should not turn black)."""
    if image.isNull():
        raise ValueError("empty image")
    if image.hasAlphaChannel():
        flat = QImage(image.size(), QImage.Format.Format_RGB888)
        flat.fill(background)
        painter = QPainter(flat)
        painter.drawImage(0, 0, image)
        painter.end()
        image = flat
    else:
        image = image.convertToFormat(QImage.Format.Format_RGB888)
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), dtype=np.uint8, count=h * stride).reshape(h, stride)
    return rows[:, : w * 3].reshape(h, w, 3).copy()


def _check(array: np.ndarray, channels: int) -> np.ndarray:
    if array.dtype != np.uint8 or array.ndim != 3 or array.shape[2] != channels:
        raise ValueError(
            f"expected (H, W, {channels}) uint8, got {array.shape} {array.dtype}"
        )
    # Rows must be contiguous for QImage; a mirrored (negative-stride) view is copied.
    return np.ascontiguousarray(array)
