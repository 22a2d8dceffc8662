"""The engine against its references: torchvision's transforms and model, pytorch-grad-cam."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from desktop_app.core.geometry import CropGeometry
from desktop_app.inference import load_classifier


def _photo(width: int, height: int, seed: int) -> Image.Image:
    """Smooth structure plus noise, so different images give clearly different activations."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack(
        [np.sin(xx / (7 + seed)) * 80, np.cos(yy / (11 + seed)) * 80, (xx + yy) % 97], axis=-1
    )
    noisy = base + 128 + rng.normal(0, 25, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _reference_logits(model_name: str, image: Image.Image, weights_path) -> torch.Tensor:
    spec = torchvision.models.get_model_weights(model_name).DEFAULT
    model = torchvision.models.get_model(model_name, weights=None)
    model.load_state_dict(torch.load(weights_path, weights_only=True))
    with torch.inference_mode():
        return model.eval()(spec.transforms()(image).unsqueeze(0))[0]


def _all_logits(clf, image) -> torch.Tensor:
    pred = clf.predict(image, topk=clf.num_classes, cam=None)
    out = torch.empty(clf.num_classes)
    for score in pred.topk:
        out[score.index] = score.logit
    return out


SIZES = [(640, 480), (300, 500), (224, 224), (1000, 200), (57, 91)]
MODES = ["RGB", "L", "P", "CMYK", "I;16"]


@pytest.fixture(scope="module")
def eager18(resnet18_weights):
    return load_classifier("resnet18", device="cpu", backend="eager")


@pytest.mark.parametrize("size", SIZES)
def test_preprocessing_equals_torchvision(eager18, size: tuple[int, int]) -> None:
    image = _photo(*size, seed=size[0])
    spec = torchvision.models.ResNet18_Weights.DEFAULT
    ours = eager18.preprocessor(image)
    ref = spec.transforms()(image).unsqueeze(0)
    assert ours.shape == ref.shape == (1, 3, 224, 224)
    assert torch.equal(ours, ref)


@pytest.mark.parametrize("mode", MODES)
def test_modes_give_reference_logits(eager18, resnet18_weights, mode: str) -> None:
    rgb = _photo(320, 240, seed=3)
    image = (
        rgb.convert(mode)
        if mode != "I;16"
        else Image.fromarray(
            (np.asarray(rgb.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        )
    )
    # The reference sees what a careful user would hand torchvision: the image as RGB.
    reference_rgb = (
        rgb.convert("L").convert("RGB") if mode in ("L", "I;16") else image.convert("RGB")
    )
    ref = _reference_logits("resnet18", reference_rgb, resnet18_weights)
    got = _all_logits(eager18, image)
    assert torch.allclose(got, ref, atol=1e-4, rtol=0), (got - ref).abs().max()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("model_name", "backend"),
    [("resnet18", "eager"), ("resnet18", "auto"), ("resnet50", "eager")],
)
def test_logits_equal_torchvision(request, model_name, backend, size) -> None:
    weights_path = request.getfixturevalue(f"{model_name}_weights")
    clf = _cached_classifier(request, model_name, backend)
    image = _photo(*size, seed=size[1])
    ref = _reference_logits(model_name, image, weights_path)
    got = _all_logits(clf, image)
    assert torch.allclose(got, ref, atol=1e-4, rtol=0), (got - ref).abs().max()


def test_fast_backend_resnet50_close_to_eager(resnet50_weights) -> None:
    # oneDNN's fused kernels reorder float sums; on ResNet-50 that costs a few 1e-5.
    clf = load_classifier("resnet50", device="cpu", backend="auto")
    image = _photo(500, 375, seed=9)
    ref = _reference_logits("resnet50", image, resnet50_weights)
    got = _all_logits(clf, image)
    assert torch.allclose(got, ref, atol=5e-4, rtol=0), (got - ref).abs().max()
    assert clf.backend in ("onednn", "torchscript", "eager")


_CLASSIFIERS: dict[tuple[str, str], object] = {}


def _cached_classifier(request, model_name: str, backend: str):
    key = (model_name, backend)
    if key not in _CLASSIFIERS:
        _CLASSIFIERS[key] = load_classifier(model_name, device="cpu", backend=backend)
    return _CLASSIFIERS[key]


# -- Grad-CAM against pytorch-grad-cam -------------------------------------------------------


def _oracle_cams(model_name, weights_path, x, target_module_name, classes):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model = torchvision.models.get_model(model_name, weights=None)
    model.load_state_dict(torch.load(weights_path, weights_only=True))
    model.eval()
    target = model.get_submodule(target_module_name)
    with GradCAM(model=model, target_layers=[target]) as cam:
        return [cam(input_tensor=x, targets=[ClassifierOutputTarget(c)])[0] for c in classes]


def _minmax(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return (a - a.min()) / max(a.max() - a.min(), 1e-12)


@pytest.mark.parametrize(
    ("model_name", "layer", "module"),
    [
        ("resnet18", "layer4", "layer4.1"),
        ("resnet18", "layer3", "layer3.1"),
        ("resnet18", "layer2.0", "layer2.0"),
        ("resnet50", "layer4", "layer4.2"),
        ("resnet50", "layer3", "layer3.5"),
    ],
)
def test_gradcam_equals_pytorch_grad_cam(request, model_name, layer, module) -> None:
    weights_path = request.getfixturevalue(f"{model_name}_weights")
    clf = _cached_classifier(request, model_name, "auto")
    image = _photo(300, 260, seed=5)
    pred = clf.predict(image, topk=3, cam_layer=layer)
    classes = [s.index for s in pred.topk]
    x = clf.preprocessor(image)
    oracle = _oracle_cams(model_name, weights_path, x, module, classes)
    identity = CropGeometry.for_transform(224, 224, 224, 224)  # grid -> the 224 px crop
    compared = 0
    for c, theirs in zip(classes, oracle, strict=True):
        ours = identity.warp_to_image(pred.cams.grid(c))
        assert ours.shape == theirs.shape == (224, 224)
        if np.ptp(theirs) < 1e-6:  # all-negative map: both must be flat
            assert np.ptp(ours) < 1e-3
            continue
        compared += 1
        assert np.abs(_minmax(ours) - _minmax(theirs)).mean() < 1e-3
    assert compared >= 1


def test_maps_differ_per_class_and_layer(eager18) -> None:
    pred = eager18.predict(_photo(400, 300, seed=2), topk=5)
    grids = [pred.cams.grid(s.index) for s in pred.topk]
    assert any(np.abs(grids[0] - g).mean() > 1e-3 for g in grids[1:])
    inner = eager18.predict(_photo(400, 300, seed=2), topk=5, cam_layer="layer3")
    assert inner.cams.grid(pred.topk[0].index).shape == (14, 14)
