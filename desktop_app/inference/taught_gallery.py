"""Grad-CAM pictures of a taught model's validation images, for the window's results.

Per class, a few of the images the evaluation scored with the map of their true class, so a
user sees at a glance whether the class is recognised by the object or by its surroundings;
and the most confident mistakes, read back from the maps ``save_taught`` wrote (the same
pictures as on disk). Each tile's prediction is the evaluation's: under a hold-out split the
saved model's on its validation images; under k-fold cross-validation every image's
out-of-fold one, as in the confusion matrix. The maps are always the saved model's, the one
the user will use, which under k-fold trained on most of the images shown (``trained_on``
counts them). Overlays are small (``max_side``) uint8 RGB arrays: the window only shows them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from desktop_app.core.image_io import decode_for_overlay
from desktop_app.core.overlay import overlay

if TYPE_CHECKING:  # torch is imported by the caller's engine, never by importing this
    from desktop_app.inference.taught_files import Saved
    from desktop_app.inference.taught_report import SavedTraining
    from desktop_app.inference.training import TrainedModel

GALLERY_PER_CLASS = 6
TILE_SIDE = 160


@dataclass(frozen=True)
class MapTile:
    path: Path
    true: str
    predicted: str
    confidence: float  # the model's probability for ``predicted``
    overlay_rgb: np.ndarray  # (h, w, 3) uint8, the longer side at most the tile size


@dataclass(frozen=True)
class Gallery:
    by_class: dict[str, tuple[MapTile, ...]]  # scored images, each with its class's map
    mistakes: tuple[MapTile, ...]  # the most confident first, maps of the wrong class
    validation: str  # the evaluation's: HOLD_OUT or "K-fold cross-validation"
    trained_on: int  # of the images in ``by_class``, those the saved model trained on
    # Read back from a saved training: its report keeps no class maps, only the mistakes'.
    from_report: bool = False


def gallery_of(saved: Saved, trained: TrainedModel, *, per_class: int = GALLERY_PER_CLASS,
               max_side: int = TILE_SIDE, cancel: Callable[[], bool] | None = None) -> Gallery:
    """The gallery of the images the evaluation scored, by the saved model as the engine
    loads it (so the maps are the ones the window will show once the model is used); stops
    early when ``cancel()``."""
    from desktop_app.inference.classifier import load_classifier
    from desktop_app.inference.taught_files import scored, trained_on

    model = load_classifier(weights=saved.files.checkpoint, device="cpu", backend="eager")
    classes = trained.classes
    scores = scored(trained)
    by_class: dict[str, list[MapTile]] = {name: [] for name in classes}
    for row, index in enumerate(scores.index):
        example = trained.examples[index]
        tiles = by_class[classes[example.label]]
        if len(tiles) >= per_class:
            continue
        if cancel is not None and cancel():
            break
        picture = decode_for_overlay(example.path, max_side)
        cams = model.predict(example.path, topk=1, cam_classes=[example.label]).cams
        assert cams is not None  # a Grad-CAM was asked for
        width, height = picture.image.size
        probabilities = scores.probabilities[row]
        predicted = int(np.argmax(probabilities))
        tiles.append(MapTile(
            example.path, classes[example.label], classes[predicted],
            float(probabilities[predicted]),
            overlay(picture.array, cams.at_size(example.label, width, height))))
    mistakes = tuple(
        MapTile(Path(m.path), m.true, m.predicted, m.confidence,
                decode_for_overlay(png, max_side).array)
        for m, png in zip(saved.evaluation.mistakes, saved.mistake_maps, strict=True))
    shown = [tile.path for tiles in by_class.values() for tile in tiles]
    return Gallery({name: tuple(tiles) for name, tiles in by_class.items()}, mistakes,
                   scores.validation, trained_on(trained, shown))


def saved_gallery(saved: SavedTraining, *, max_side: int = TILE_SIDE) -> Gallery:
    """What is left of the gallery of an earlier session's training: the mistakes' maps
    as written beside the checkpoint (the class maps are not saved)."""
    mistakes = tuple(MapTile(Path(m.path), m.true, m.predicted, m.confidence,
                             decode_for_overlay(png, max_side).array)
                     for m, png in saved.mistake_maps)
    return Gallery({}, mistakes, saved.evaluation.validation, 0, from_report=True)
