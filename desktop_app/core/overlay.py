"""Grad-CAM heat maps blended over photos, and crash-safe export of the results.

Colour order is RGB everywhere in this module (inputs, outputs, colormaps); conversion to
OpenCV's BGR happens only inside :func:`save_png` and :func:`save_jpeg`.
"""

from __future__ import annotations

import math
import os
from numbers import Real

import cv2
import numpy as np

from desktop_app.core.atomic import write_atomically
from desktop_app.core.colormaps import colormap_indices, lut


def overlay(
    image_rgb: np.ndarray,
    cam: np.ndarray,
    colormap: str = "jet",
    alpha: float = 0.5,
    dim_unseen: float = 0.5,
) -> np.ndarray:
    """Blend a heat map over an image; returns a new (H, W, 3) uint8 RGB array.

    ``image_rgb`` is (H, W, 3) uint8 RGB. ``cam`` is a float (H, W) map with values in
    [0, 1] (others are clipped) and NaN where the model saw nothing; it must have the
    image's exact size — ask ``CamMaps.at_size(index, width, height)`` for one.

    Where the model saw the pixel: ``round((1 - alpha) * pixel + alpha * colour)``.
    Where it did not: ``round((1 - dim_unseen) * pixel)``, i.e. darkened toward black and
    never coloured, so an unseen border cannot be mistaken for a low score.
    """
    _check_image(image_rgb)
    _check_cam(cam, image_rgb.shape[:2])
    alpha = _fraction("alpha", alpha)
    dim_unseen = _fraction("dim_unseen", dim_unseen)
    table = lut(colormap)
    # OpenCV does the per-pixel work: several times faster than numpy on a 24 MP photo.
    indices = colormap_indices(cam)
    colours = cv2.LUT(cv2.merge([indices, indices, indices]), table.reshape(256, 1, 3))
    # addWeighted computes each pixel in float and rounds (half to even), no uint8 overflow.
    out = cv2.addWeighted(image_rgb, 1.0 - alpha, colours, alpha, 0.0)
    unseen = np.isnan(cam)
    if unseen.any():
        dimmed = cv2.addWeighted(image_rgb, 1.0 - dim_unseen, image_rgb, 0.0, 0.0)
        cv2.copyTo(dimmed, unseen.view(np.uint8), out)
    return out


def save_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an (H, W, 3) RGB or (H, W) grey uint8 array as a PNG, atomically.

    The file appears complete or not at all: an existing file is only replaced once the new
    one is fully written. Raises ``OSError`` (with the path) when writing fails.
    """
    _save_encoded(path, rgb, ".png", [])


def save_jpeg(path: str | os.PathLike, rgb: np.ndarray, quality: int = 90) -> None:
    """As :func:`save_png`, as a JPEG of ``quality`` (1-100): an overlay is a photo blended
    with a smooth colour ramp, which JPEG stores at a tenth of the PNG's size and encodes
    several times faster, with no visible loss at 90."""
    _save_encoded(path, rgb, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)])


def _save_encoded(path: str | os.PathLike, rgb: np.ndarray, suffix: str,
                  params: list[int]) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8:
        raise TypeError(f"save_{suffix[1:]} needs a uint8 numpy array")
    if rgb.size == 0 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(
            f"save_{suffix[1:]} needs a non-empty (H, W, 3) or (H, W) array, got {rgb.shape}")
    pixels = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb
    # Encoding to memory, then writing the bytes ourselves, also works for non-ASCII paths
    # on Windows, where cv2.imwrite does not.
    ok, encoded = cv2.imencode(suffix, pixels, params)
    if not ok:
        raise ValueError(f"{suffix[1:].upper()} encoding failed for an array of shape {rgb.shape}")
    write_atomically(path, lambda stream: stream.write(encoded.tobytes()))


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as a .npy file exactly at ``path`` (no suffix added), atomically.

    Object arrays are refused (``ValueError``): a .npy export must load without pickle.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"save_npy needs a numpy array, got {type(array).__name__}")
    if array.dtype.hasobject:
        raise ValueError("save_npy cannot write object arrays")
    write_atomically(path, lambda stream: np.save(stream, array, allow_pickle=False))


def _check_image(image_rgb: np.ndarray) -> None:
    if not isinstance(image_rgb, np.ndarray):
        raise TypeError(f"image_rgb must be a numpy array, got {type(image_rgb).__name__}")
    if image_rgb.dtype != np.uint8:
        raise TypeError(f"image_rgb must be uint8, got {image_rgb.dtype}")
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.size == 0:
        raise ValueError(f"image_rgb must have shape (H, W, 3), non-empty, got {image_rgb.shape}")


def _check_cam(cam: np.ndarray, size_hw: tuple[int, ...]) -> None:
    if not isinstance(cam, np.ndarray):
        raise TypeError(f"cam must be a numpy array, got {type(cam).__name__}")
    if not np.issubdtype(cam.dtype, np.floating):
        raise TypeError(f"cam must be a float array (NaN marks unseen pixels), got {cam.dtype}")
    if cam.shape != tuple(size_hw):
        raise ValueError(
            f"cam shape {cam.shape} does not match the image's {tuple(size_hw)}; "
            "use CamMaps.at_size(index, width, height) for a map at the image's size"
        )


def _fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number in [0, 1], got {value!r}")
    value = float(value)
    if math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value
