"""Where the model's centre-cropped input sits inside the original image.

torchvision's classification transform resizes the short side to ``resize_size`` and then
centre-crops ``crop_size``. A saliency map computed on the crop must be warped back onto
the original pixels, and the part of the original the model never saw must be marked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def resized_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """The (width, height) torchvision's ``Resize(short_side)`` produces (it truncates)."""
    if width <= height:
        return short_side, int(short_side * height / width)
    return int(short_side * width / height), short_side


@dataclass(frozen=True)
class CropGeometry:
    """Maps original-image pixels to model-input pixels and back.

    ``scale_x``/``scale_y`` take original pixels to resized pixels; ``left``/``top`` is the
    crop's offset in the resized image; the crop is ``crop_size`` square.
    """

    image_width: int
    image_height: int
    scale_x: float
    scale_y: float
    left: int
    top: int
    crop_size: int

    @classmethod
    def for_transform(
        cls, image_width: int, image_height: int, resize_size: int, crop_size: int
    ) -> CropGeometry:
        rw, rh = resized_size(image_width, image_height, resize_size)
        # torchvision's CenterCrop rounds the offset (and pads when the crop is larger).
        left = round((rw - crop_size) / 2.0)
        top = round((rh - crop_size) / 2.0)
        return cls(
            image_width, image_height, rw / image_width, rh / image_height, left, top, crop_size
        )

    def seen_box(self) -> tuple[float, float, float, float]:
        """The crop as (x0, y0, x1, y1) in original pixel coordinates, clipped to the image."""
        x0 = max(0.0, self.left / self.scale_x)
        y0 = max(0.0, self.top / self.scale_y)
        x1 = min(float(self.image_width), (self.left + self.crop_size) / self.scale_x)
        y1 = min(float(self.image_height), (self.top + self.crop_size) / self.scale_y)
        return x0, y0, x1, y1

    def seen_mask(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """Boolean mask of the pixels the model saw, at the image's size or another one."""
        width = width or self.image_width
        height = height or self.image_height
        x0, y0, x1, y1 = self.seen_box()
        fx, fy = width / self.image_width, height / self.image_height
        # A pixel is seen when its centre falls inside the crop.
        xs = (np.arange(width) + 0.5) / fx
        ys = (np.arange(height) + 0.5) / fy
        return ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]

    def warp_to_image(
        self, grid: np.ndarray, width: int | None = None, height: int | None = None
    ) -> np.ndarray:
        """Bilinearly warp a map over the crop (any grid size) onto the original image.

        The result is float32 (height, width); pixels outside the crop are NaN. Sampling
        uses ``cv2.resize``'s half-pixel convention with edge replication, so warping a 7×7
        grid gives what resizing it to the crop would, placed where the crop came from.
        The warp is axis-aligned, hence separable: rows, then columns, each a blend of two
        neighbours. Gathers and element-wise arithmetic only, no matrix product: a BLAS
        call here would wake numpy's BLAS thread pool, whose threads then spin against
        torch's for the next forward pass (2-3x slower on a 2-core machine).
        """
        width = width or self.image_width
        height = height or self.image_height
        gh, gw = grid.shape
        # Output pixel centre -> original -> resized -> crop -> grid cell (half-pixel centres).
        fx, fy = width / self.image_width, height / self.image_height
        grid = np.asarray(grid, dtype=np.float32)
        rows_lo, rows_frac = _neighbours(height, gh, self.scale_y / fy, self.top, self.crop_size)
        cols_lo, cols_frac = _neighbours(width, gw, self.scale_x / fx, self.left, self.crop_size)
        rows_hi, cols_hi = np.minimum(rows_lo + 1, gh - 1), np.minimum(cols_lo + 1, gw - 1)
        by_row = grid[rows_lo] + (grid[rows_hi] - grid[rows_lo]) * rows_frac[:, None]  # (H, gw)
        left, right = by_row[:, cols_lo], by_row[:, cols_hi]
        out = left + (right - left) * cols_frac[None, :]
        out[~self.seen_mask(width, height)] = np.nan
        return out

    def warp_to_crop(self, image_map: np.ndarray) -> np.ndarray:
        """The inverse of ``warp_to_image``: sample a map given over the original image (at
        that size or any other, e.g. a reduced decode's) at the centre of every crop pixel.

        Bilinear with half-pixel centres and clamped edges; NaN neighbours (the part of the
        image a map declares unseen) are left out and the others' weights renormalised, so a
        crop pixel is NaN only when all four neighbours are. Returns float32
        (crop_size, crop_size).
        """
        height, width = image_map.shape
        values = np.asarray(image_map, dtype=np.float32)
        fx, fy = width / self.image_width, height / self.image_height
        # Crop pixel centre -> resized -> original -> map pixel (half-pixel centres).
        crop = np.arange(self.crop_size) + 0.5
        ys = np.clip((crop + self.top) / self.scale_y * fy - 0.5, 0.0, height - 1.0)
        xs = np.clip((crop + self.left) / self.scale_x * fx - 0.5, 0.0, width - 1.0)
        y0 = np.minimum(np.floor(ys).astype(np.intp), max(height - 2, 0))
        x0 = np.minimum(np.floor(xs).astype(np.intp), max(width - 2, 0))
        wy, wx = (ys - y0)[:, None], (xs - x0)[None, :]
        y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
        total = np.zeros((self.crop_size, self.crop_size), dtype=np.float64)
        weight = np.zeros_like(total)
        for rows, row_w in ((y0, 1 - wy), (y1, wy)):
            for cols, col_w in ((x0, 1 - wx), (x1, wx)):
                sample = values[rows[:, None], cols[None, :]]
                w = np.where(np.isnan(sample), 0.0, row_w * col_w)
                total += w * np.nan_to_num(sample)
                weight += w
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(weight > 0, total / weight, np.nan).astype(np.float32)


def _neighbours(
    n_out: int, n_grid: int, scale: float, offset: int, crop: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each output position along one axis: the lower grid neighbour and the weight of
    the upper one (linear interpolation, half-pixel centres, clamped at the edges)."""
    centres = ((np.arange(n_out) + 0.5) * scale - offset) * n_grid / crop - 0.5
    centres = np.clip(centres, 0.0, n_grid - 1.0)
    lo = np.minimum(np.floor(centres).astype(np.intp), max(n_grid - 2, 0))
    return lo, (centres - lo).astype(np.float32)
