"""The model's input, made by the weights' own transform (never retyped by hand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from desktop_app.core.geometry import CropGeometry


@dataclass(frozen=True)
class Preprocessor:
    """Wraps torchvision's ``weights.transforms()`` (resize, centre crop, normalise)."""

    transform: Any  # torchvision.transforms._presets.ImageClassification

    @property
    def resize_size(self) -> int:
        return int(self.transform.resize_size[0])

    @property
    def crop_size(self) -> int:
        return int(self.transform.crop_size[0])

    def geometry(self, width: int, height: int) -> CropGeometry:
        return CropGeometry.for_transform(width, height, self.resize_size, self.crop_size)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        """A (1, 3, crop, crop) float tensor from an RGB PIL image."""
        return self.transform(image).unsqueeze(0)
