"""Raw CAM maps on disk, compactly: the model's small grid and where its crop sat.

A layer-4 map is a 7×7 grid over the model's 224-pixel crop; the full-resolution map is a
bilinear warp of it onto the photo (``CropGeometry.warp_to_image``). Saving the grid
(float16) and the geometry takes about 1 KB per map, where the full-resolution float32 array
of a 3-megapixel photo takes 12 MB; :func:`load_map` rebuilds that array in one call.
float16 keeps the [0, 1] values to within 5e-4.
"""

from __future__ import annotations

import os
from dataclasses import astuple, dataclass

import numpy as np

from desktop_app.core.atomic import write_atomically
from desktop_app.core.geometry import CropGeometry

MAP_SUFFIX = ".npz"
_GEOMETRY_FIELDS = ("image_width", "image_height", "scale_x", "scale_y", "left", "top",
                    "crop_size")


@dataclass(frozen=True)
class SavedMap:
    """A map as stored: ``grid`` (float32 copy of the stored float16) over the crop that
    ``geometry`` describes, for an image of ``size`` (width, height)."""

    grid: np.ndarray
    geometry: CropGeometry
    size: tuple[int, int]
    class_index: int
    method: str
    layer: str

    def full_size(self, width: int | None = None, height: int | None = None) -> np.ndarray:
        """The map over the image's pixels (or a view of it at ``width`` × ``height``):
        float32, NaN where the model saw nothing."""
        return self.geometry.warp_to_image(self.grid, width or self.size[0],
                                           height or self.size[1])


def save_map(path: str | os.PathLike[str], saved: SavedMap) -> None:
    """Write ``saved`` as a compressed .npz, atomically (no pickle needed to read it)."""
    arrays = {
        "grid": np.asarray(saved.grid, dtype=np.float16),
        "geometry": np.array(astuple(saved.geometry), dtype=np.float64),
        "size": np.array(saved.size, dtype=np.int64),
        "class_index": np.array(saved.class_index, dtype=np.int64),
        "method": np.array(saved.method),
        "layer": np.array(saved.layer),
    }
    write_atomically(path, lambda stream: np.savez_compressed(stream, **arrays))


def read_map(path: str | os.PathLike[str]) -> SavedMap:
    """The stored map, grid and geometry, as :func:`save_map` wrote it."""
    with np.load(path, allow_pickle=False) as data:
        values = data["geometry"].tolist()
        geometry = CropGeometry(**{
            name: (value if name.startswith("scale") else int(value))
            for name, value in zip(_GEOMETRY_FIELDS, values, strict=True)
        })
        width, height = (int(v) for v in data["size"])
        return SavedMap(data["grid"].astype(np.float32), geometry, (width, height),
                        int(data["class_index"]), str(data["method"]), str(data["layer"]))


def load_map(path: str | os.PathLike[str]) -> np.ndarray:
    """The full-resolution map saved at ``path`` (``--cam-format npz``): float32, the
    image's height × width, values in [0, 1], NaN where the model never looked."""
    return read_map(path).full_size()
