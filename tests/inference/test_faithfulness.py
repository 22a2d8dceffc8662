"""Faithfulness scores (desktop_app/inference/faithfulness.py): ROAD against pytorch-grad-cam,
deletion and insertion against a plain loop, and the engine's predict(metrics=…) and
score_map."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from support.shapes_model import make_edge_set
from torchvision.transforms.functional import gaussian_blur

from desktop_app.core.errors import Cancelled, InvalidArgument
from desktop_app.inference import load_classifier
from desktop_app.inference.catalog import FAITHFULNESS_METRICS
from desktop_app.inference.faithfulness import (
    FaithfulnessSettings,
    faithfulness_scores,
    noisy_linear_imputation,
    road_keep_masks,
)

PERCENTILES = (20, 50, 80)


def _linear_model(size: int) -> torch.nn.Module:
    """Three classes, logits linear in the pixels with weights strong enough that ROAD's
    perturbations move the probabilities by tenths (a random ResNet's barely move)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * size * size, 3))
    with torch.no_grad():
        model[1].weight.mul_(20.0)
    return model.eval()


def _input_and_map(size: int, seed: int = 1) -> tuple[torch.Tensor, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.normal(0, 1, (1, 3, size, size)).astype(np.float32))
    # An upsampled 7x7 grid, as every CAM map is (cv2.resize, as pytorch-grad-cam's).
    cam = cv2.resize(rng.random((7, 7)).astype(np.float32), (size, size))
    return x, cam


@pytest.mark.parametrize("size", [64, 224])
def test_imputation_equals_pytorch_grad_cams_sparse_solve(size: int) -> None:
    """Noise off, the multigrid-preconditioned solver's fill is pytorch-grad-cam's exact solve
    to within 0.003 in normalised units (a seventh of an 8-bit grey level; measured 3e-4 at
    64 px, 1.5e-3 at 224 px): the solver stops at a residual of 1e-4 of the right-hand side,
    and a 224 px hole of 80 % of the pixels is the hardest case ROAD's percentiles make."""
    from pytorch_grad_cam.metrics.road import NoisyLinearImputer

    x, cam = _input_and_map(size)
    generator = torch.Generator().manual_seed(0)
    masks = road_keep_masks(cam, PERCENTILES)
    for keep in masks if size == 64 else masks[:1]:  # at 224 px the largest hole only
        mask = torch.from_numpy(keep.astype(np.float32))
        expected = NoisyLinearImputer(noise=0.0)(x[0], mask)
        ours = noisy_linear_imputation(x[0], torch.from_numpy(~keep), 0.0, generator)
        assert torch.equal(ours[:, torch.from_numpy(keep)], x[0][:, torch.from_numpy(keep)])
        assert (ours - expected).abs().max() <= 3e-3


def test_road_equals_pytorch_grad_cams_road_combined() -> None:
    """Same input, map, class and noise seed. The one difference is the solver's: its fill is
    within 0.003 of the exact one, under a third of ROAD's own noise (std 0.01), so the
    scores may differ by far less than the 0.01 that noise would move them by: 2e-3."""
    from pytorch_grad_cam.metrics.road import ROADCombined
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputSoftmaxTarget

    x, cam = _input_and_map(48)
    model = _linear_model(48)
    for target in range(3):
        torch.manual_seed(7)
        expected = ROADCombined(list(PERCENTILES))(
            x, cam[None], [ClassifierOutputSoftmaxTarget(target)], model)[0]
        ours = faithfulness_scores(model, x, target, cam, ["road"],
                                   FaithfulnessSettings(road_percentiles=PERCENTILES, seed=7))
        assert ours["road"] == pytest.approx(float(expected), abs=2e-3)
        assert abs(float(expected)) > 0.01  # scores that a wrong imputation would change


def _reference_curve(model, x, cls, saliency, steps, baseline, insert) -> float:
    """RISE's deletion/insertion written out: one image and one forward per step."""
    w = saliency.shape[1]
    flat = saliency.ravel()
    # most salient first; equal values in reading order
    order = sorted(range(flat.size), key=lambda i: (-float(flat[i]), i))
    probabilities = []
    for step in range(steps + 1):
        count = round(step * flat.size / steps)
        image = (baseline if insert else x[0]).clone()
        for i in order[:count]:
            image[:, i // w, i % w] = (x[0] if insert else baseline)[:, i // w, i % w]
        with torch.no_grad():
            probabilities.append(float(torch.softmax(model(image[None]), 1)[0, cls]))
    return float(np.trapezoid(probabilities, np.linspace(0, 1, steps + 1)))


def test_deletion_and_insertion_equal_a_plain_loop() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32, 3)).eval()
    rng = np.random.default_rng(3)
    x = torch.from_numpy(rng.normal(0, 1, (1, 3, 12, 12)).astype(np.float32))
    saliency = np.round(rng.random((12, 12)) * 4).astype(np.float32)  # many ties
    settings = FaithfulnessSettings(steps=10, batch_size=4)
    blurred = gaussian_blur(x[0], [11, 11], [5.0, 5.0])
    for cls in range(3):
        ours = faithfulness_scores(model, x, cls, saliency, ["deletion", "insertion"], settings)
        assert ours["deletion"] == pytest.approx(
            _reference_curve(model, x, cls, saliency, 10, torch.zeros_like(x[0]), False),
            abs=1e-6)
        assert ours["insertion"] == pytest.approx(
            _reference_curve(model, x, cls, saliency, 10, blurred, True), abs=1e-6)


def test_a_cancel_stops_one_maps_scoring_between_batches() -> None:
    """Cancel is checked before every perturbed image is built: once it is set, the next
    batch never reaches the network."""
    x, cam = _input_and_map(16)
    done: list[int] = []
    settings = FaithfulnessSettings(steps=8, road_percentiles=(30, 70), batch_size=4)
    with pytest.raises(Cancelled):
        faithfulness_scores(_linear_model(16), x, 0, cam, FAITHFULNESS_METRICS, settings,
                            progress=lambda d, _t: done.append(d), cancel=lambda: bool(done))
    assert done == [4]  # one batch of the 22 images, then the cancel


@pytest.fixture(scope="module")
def clf(resnet18_weights):
    return load_classifier("resnet18", device="cpu", backend="eager")


QUICK = FaithfulnessSettings(steps=4, road_percentiles=(50,))


def _photo() -> np.ndarray:
    rng = np.random.default_rng(2)
    return rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)


def test_predict_fills_metrics_of_each_mapped_class(clf) -> None:
    pred = clf.predict(_photo(), topk=2, metrics=("road", "deletion"), metric_settings=QUICK)
    assert set(pred.metrics) == set(pred.cams) == {s.index for s in pred.topk}
    for scores in pred.metrics.values():
        assert list(scores) == ["road", "deletion"]
        assert all(isinstance(v, float) and np.isfinite(v) for v in scores.values())
    assert "metrics" in pred.timings
    assert pred.to_dict()["metrics"] == {str(c): dict(s) for c, s in pred.metrics.items()}
    assert clf.predict(_photo(), topk=2).metrics == {}


def test_bad_metrics_and_maps_are_invalid_arguments(clf) -> None:
    with pytest.raises(InvalidArgument, match="deletion, insertion, road") as caught:
        clf.predict(_photo(), metrics=("deletion", "nope"))
    assert caught.value.argument == "metrics"
    with pytest.raises(InvalidArgument, match="choose a CAM method"):
        clf.predict(_photo(), cam=None, metrics=("road",))
    with pytest.raises(InvalidArgument, match="unknown metric 'auc'"):
        clf.score_map(_photo(), 0, np.zeros((200, 300)), ["auc"])
    with pytest.raises(InvalidArgument, match="a 30x20 map for a 300x200 image"):
        clf.score_map(_photo(), 0, np.zeros((20, 30)))
    with pytest.raises(InvalidArgument, match="NaN over all"):
        clf.score_map(_photo(), 0, np.full((200, 300), np.nan))
    with pytest.raises(InvalidArgument, match="out of range"):
        clf.score_map(_photo(), 1000, np.zeros((200, 300)))


def test_score_map_samples_the_map_on_the_crop_and_ranks_nan_lowest(clf) -> None:
    """The documented rule, step by step: sample at the crop's pixels leaving NaN out, then
    a crop pixel with only NaN around it takes the map's lowest value."""
    pred = clf.predict(_photo(), topk=1)
    index = pred.topk[0].index
    cam = np.array(pred.cams[index])
    cam[80:140, 120:180] = np.nan  # a hole inside the crop as well as the unseen sides
    on_crop = pred.cams.geometry.warp_to_crop(cam)
    assert np.isnan(on_crop).any() and not np.isnan(on_crop).all()
    on_crop = np.where(np.isnan(on_crop), np.nanmin(on_crop), on_crop)
    x = clf.preprocessor(Image.fromarray(_photo()))
    assert clf.score_map(_photo(), index, cam, ["deletion"], settings=QUICK) == \
        faithfulness_scores(clf.network, x, index, on_crop, ["deletion"], QUICK)


def test_scoring_reports_progress_and_cancels(clf) -> None:
    seen: list[tuple[int, int]] = []
    pred = clf.predict(_photo(), topk=2, metrics=("deletion", "road"),
                       metric_settings=FaithfulnessSettings(steps=4, road_percentiles=(50,),
                                                            batch_size=3),
                       progress=lambda d, t: seen.append((d, t)))
    per_class = (4 + 1) + 2
    assert seen[-1] == (2 * per_class, 2 * per_class) and len(pred.metrics) == 2
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    with pytest.raises(Cancelled):
        clf.score_map(_photo(), 0, np.ones((200, 300)), cancel=lambda: True)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_gradcam_beats_its_inverse_and_predict_agrees_with_score_map(shapes_model) -> None:
    """With a model that learned: Grad-CAM's map deletes faster, inserts faster and scores a
    higher ROAD than 1 − map. ``score_map`` of ``pred.cams[c]`` gives ``predict``'s scores up
    to the map being resampled twice (grid → image → crop instead of grid → crop), which
    moves near-equal values past each other: measured ≤ 1e-3."""
    clf = load_classifier(weights=shapes_model.weights, labels=shapes_model.labels,
                          device="cpu", backend="eager")
    settings = FaithfulnessSettings(steps=8, road_percentiles=(50,))
    # Images the model classifies right: a map of a class it does not see need not be
    # faithful.
    samples = [s for s in make_edge_set(8)
               if clf.predict(s.image, topk=1, cam=None).topk[0].index == s.label][:3]
    wins = 0
    for sample in samples:
        pred = clf.predict(sample.image, topk=1, cam_classes=[sample.label],
                           metrics=FAITHFULNESS_METRICS, metric_settings=settings)
        ours = pred.metrics[sample.label]
        again = clf.score_map(sample.image, sample.label, pred.cams[sample.label],
                              ["deletion", "insertion"], settings=settings)
        assert again == pytest.approx({k: ours[k] for k in again}, abs=5e-3)
        inverse = clf.score_map(sample.image, sample.label, 1 - pred.cams[sample.label],
                                settings=settings)
        wins += (ours["deletion"] < inverse["deletion"]
                 and ours["insertion"] > inverse["insertion"] and ours["road"] > inverse["road"])
    assert len(samples) == 3 and wins >= 2, wins


@pytest.mark.slow
def test_scores_through_the_fused_forward_equal_eager_ones(resnet18_weights) -> None:
    """``score_map`` sends the perturbed images through the classifier's fused forward (here
    at a batch shape it has not seen before); the scores are eager PyTorch's, up to float
    sums taken in another order."""
    fused = load_classifier("resnet18", device="cpu", backend="auto")
    assert fused.backend != "eager"
    eager = load_classifier("resnet18", device="cpu", backend="eager")
    pred = eager.predict(_photo(), topk=1)
    index = pred.topk[0].index
    settings = FaithfulnessSettings(steps=4, road_percentiles=(30, 70), batch_size=3)
    expected = eager.score_map(_photo(), index, pred.cams[index], settings=settings)
    got = fused.score_map(_photo(), index, pred.cams[index], settings=settings)
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-7)
