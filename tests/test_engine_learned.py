"""With a model that has really learned (tests/shapes_model.py), the engine's Grad-CAM, in the
original image's pixels, peaks on the object: this is what proves the maps land right."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from shapes_model import ShapesModel, make_heldout_set, shapes_model_fixture

from desktop_app.inference import load_classifier

HELDOUT = 120


@pytest.fixture(scope="module")
def shapes_model(request: pytest.FixtureRequest) -> ShapesModel:
    return shapes_model_fixture(request)


def _inside(box: tuple[float, float, float, float], x: int, y: int) -> bool:
    x0, y0, x1, y1 = box
    return x0 <= x + 0.5 <= x1 and y0 <= y + 0.5 <= y1  # pixel centre in the tight box


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the first test to ask for the model trains it (minutes)
def test_gradcam_peak_falls_on_the_shape_in_original_pixels(shapes_model: ShapesModel) -> None:
    clf = load_classifier(weights=shapes_model.weights, labels=shapes_model.labels, device="cpu")
    assert clf.labels == shapes_model.classes
    samples = make_heldout_set(HELDOUT)
    correct = hits = naive_hits = 0
    for sample in samples:
        pred = clf.predict(sample.image, topk=1, cam_classes=[sample.label])
        correct += pred.topk[0].index == sample.label
        cam = pred.cams[sample.label]
        width, height = sample.image.size
        assert cam.shape == (height, width)
        assert not non_square_without_unseen_part(cam)
        y, x = np.unravel_index(np.nanargmax(cam), cam.shape)
        hits += _inside(sample.box, x, y)
        # Control: the same map stretched over the whole image, ignoring resize and crop.
        naive = cv2.resize(pred.cams.grid(sample.label), (width, height))
        ny, nx = np.unravel_index(np.argmax(naive), naive.shape)
        naive_hits += _inside(sample.box, nx, ny)
    assert correct >= 0.9 * HELDOUT, f"accuracy {correct}/{HELDOUT}"
    assert hits >= 0.9 * HELDOUT, f"peak on the shape in {hits}/{HELDOUT}"
    assert naive_hits < hits - 0.15 * HELDOUT, (naive_hits, hits)


def non_square_without_unseen_part(cam: np.ndarray) -> bool:
    """Canvases are non-square, so part of each one lies outside the crop and must be NaN."""
    return cam.shape[0] != cam.shape[1] and not np.isnan(cam).any()
