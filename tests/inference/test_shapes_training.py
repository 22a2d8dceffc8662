"""The synthetic-shapes ResNet really learned: it classifies held-out images and its class
activation map peaks on the shape. Plain torch and cv2, independent of the engine, so an
engine test that fails on this model points at the engine, not at the model."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytest
import torch
from support.shapes_model import (
    CLASSES,
    CROP_SIZE,
    TRAIN_SEED,
    Sample,
    ShapesModel,
    build_model,
    crop_geometry,
    crop_uint8,
    make_dataset,
    make_heldout_set,
    normalise,
    )

HELDOUT_IMAGES = 200
# Training happens in the first test that asks for the model: allow for it.
TRAINING_TIMEOUT_S = 900


@dataclass(frozen=True)
class HeldoutRun:
    samples: list[Sample]
    predictions: np.ndarray  # (N,) class indices
    cams: np.ndarray  # (N, 7, 7) CAM of each image's true class over the crop


@pytest.fixture(scope="module")
def heldout_run(shapes_model: ShapesModel) -> HeldoutRun:
    model = build_model()
    model.load_state_dict(torch.load(shapes_model.weights, weights_only=True))
    model.eval()
    samples = make_heldout_set(HELDOUT_IMAGES)
    batch = normalise(torch.stack([crop_uint8(s.image) for s in samples]))
    with torch.no_grad():
        stem = model.maxpool(model.relu(model.bn1(model.conv1(batch))))
        features = model.layer4(model.layer3(model.layer2(model.layer1(stem))))
        logits = model.fc(torch.flatten(model.avgpool(features), 1))
        # CAM: for global-average-pooling + linear, Grad-CAM at layer4 is this up to a factor.
        labels = torch.tensor([s.label for s in samples])
        cams = torch.relu(torch.einsum("nk,nkhw->nhw", model.fc.weight[labels], features))
    return HeldoutRun(samples, logits.argmax(1).numpy(), cams.numpy())


def cam_peak_in_image(cam: np.ndarray, width: int, height: int) -> tuple[float, float]:
    """The CAM's maximum, upsampled over the crop, in the original image's pixel coordinates."""
    up = cv2.resize(cam, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)
    crop_y, crop_x = np.unravel_index(int(np.argmax(up)), up.shape)
    g = crop_geometry(width, height)
    return (crop_x + g.left + 0.5) / g.scale_x - 0.5, (crop_y + g.top + 0.5) / g.scale_y - 0.5


def test_samples_are_reproducible_and_inside_the_models_view() -> None:
    first, again = make_dataset(8, TRAIN_SEED), make_dataset(8, TRAIN_SEED)
    assert [s.box for s in first] == [s.box for s in again]
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image))
               for a, b in zip(first, again, strict=True))
    heldout = make_heldout_set(8)
    assert [s.box for s in heldout] != [s.box for s in first]
    with pytest.raises(ValueError):
        make_heldout_set(8, seed=TRAIN_SEED)
    sizes = set()
    for s in make_dataset(40, 7):
        width, height = s.image.size
        sizes.add((width, height))
        assert width != height
        x0, y0, x1, y1 = crop_geometry(width, height).seen_box()
        assert x0 < s.box[0] < s.box[2] < x1
        assert y0 < s.box[1] < s.box[3] < y1
    assert {s.label for s in first} == set(range(len(CLASSES)))
    assert len(sizes) > 30


@pytest.mark.slow
@pytest.mark.timeout(TRAINING_TIMEOUT_S)
def test_checkpoint_is_a_plain_torchvision_resnet(shapes_model: ShapesModel) -> None:
    state = torch.load(shapes_model.weights, weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    # One BasicBlock per stage: what the engine infers from the keys.
    assert "layer4.0.conv2.weight" in state and "layer4.1.conv1.weight" not in state
    assert "layer1.0.conv3.weight" not in state
    assert state["fc.weight"].shape == (len(CLASSES), 512)
    build_model().load_state_dict(state, strict=True)
    lines = shapes_model.labels.read_text(encoding="utf-8").splitlines()
    assert tuple(lines) == CLASSES == shapes_model.classes


@pytest.mark.slow
@pytest.mark.timeout(TRAINING_TIMEOUT_S)
def test_heldout_accuracy(heldout_run: HeldoutRun) -> None:
    truth = np.array([s.label for s in heldout_run.samples])
    assert (heldout_run.predictions == truth).mean() >= 0.95


@pytest.mark.slow
@pytest.mark.timeout(TRAINING_TIMEOUT_S)
def test_true_class_cam_peaks_on_the_shape(heldout_run: HeldoutRun) -> None:
    hits = 0
    for sample, cam in zip(heldout_run.samples, heldout_run.cams, strict=True):
        x, y = cam_peak_in_image(cam, *sample.image.size)
        x0, y0, x1, y1 = sample.box
        hits += x0 <= x <= x1 and y0 <= y <= y1
    assert hits / len(heldout_run.samples) >= 0.9
