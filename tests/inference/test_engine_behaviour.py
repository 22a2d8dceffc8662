"""Engine behaviour: geometry of the maps, errors as data, state left as found, CPU fallback."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from desktop_app.core.errors import ImageDecodeError
from desktop_app.core.geometry import CropGeometry
from desktop_app.inference import load_classifier
from desktop_app.inference.backends import CompiledForward
from desktop_app.inference.gradcam import cams_by_autograd, split_forward


@pytest.fixture(scope="module")
def clf(resnet18_weights):
    return load_classifier("resnet18", device="cpu")


@pytest.mark.parametrize("size", [(640, 480), (300, 500), (233, 1000), (224, 224), (100, 60)])
@pytest.mark.parametrize("resize", [232, 256])
def test_geometry_matches_torchvision_crop(size, resize) -> None:
    """Encode each pixel's own coordinates, run torchvision's transform, read them back."""
    width, height = size
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    coords = np.stack([xs, ys], -1).astype(np.float32)
    from torchvision.transforms import v2

    tf = v2.Compose([v2.Resize(resize, antialias=False), v2.CenterCrop(224)])
    tensor = torch.from_numpy(coords).permute(2, 0, 1)
    seen = tf(tensor)  # bilinear, no antialias: a pixel keeps (roughly) its coordinates
    geom = CropGeometry.for_transform(width, height, resize, 224)
    x0, _y0, x1, _y1 = geom.seen_box()
    # Crop pixel (i, j) came from original ((j + left + 0.5) / sx - 0.5, ...), clamped.
    j = np.arange(224)
    expect_x = np.clip((j + geom.left + 0.5) / geom.scale_x - 0.5, 0, width - 1)
    expect_y = np.clip((j + geom.top + 0.5) / geom.scale_y - 0.5, 0, height - 1)
    assert np.abs(seen[0, 0, :].numpy() - expect_x).max() < 1e-2
    assert np.abs(seen[1, :, 0].numpy() - expect_y).max() < 1e-2
    assert x0 <= expect_x.min() + 0.5 and expect_x.max() - 0.5 <= x1


def test_maps_are_image_sized_with_unseen_part_marked(clf) -> None:
    image = np.random.default_rng(0).integers(0, 256, (300, 800, 3), dtype=np.uint8)
    pred = clf.predict(image, topk=3)
    assert pred.image_size == (800, 300)
    assert sorted(pred.cams) == sorted(s.index for s in pred.topk)
    for index in pred.cams:
        m = pred.cams[index]
        assert m.shape == (300, 800) and m.dtype == np.float32
        seen = ~np.isnan(m)
        x0, y0, x1, y1 = pred.cams.geometry.seen_box()  # resize 256 trims rows too
        assert x0 > 200 and x1 < 600 and 0 < y0 < 30 and 270 < y1 < 300
        assert seen[int(y0) + 1 : int(y1) - 1, int(x0) + 1 : int(x1) - 1].all()
        assert not seen[:, : int(x0)].any() and not seen[:, int(x1) + 1 :].any()
        assert not seen[: int(y0)].any() and not seen[int(y1) + 1 :].any()
        assert np.nanmin(m) >= 0.0 and np.nanmax(m) <= 1.0
    assert set(pred.timings) >= {"decode", "preprocess", "forward", "cam", "total"}


def test_membership_does_not_build_full_maps(clf) -> None:
    pred = clf.predict(np.zeros((3000, 4000, 3), np.uint8), topk=2)
    first = pred.topk[0].index
    assert first in pred.cams and 999 not in pred.cams
    assert not pred.cams._full  # nothing 12-megapixel was built just to answer `in`
    assert pred.cams.at_size(first, 400, 300).shape == (300, 400)
    assert not pred.cams._full


def test_cam_none_and_chosen_classes(clf) -> None:
    image = np.zeros((64, 64, 3), np.uint8)
    assert clf.predict(image, cam=None).cams is None
    pred = clf.predict(image, topk=2, cam_classes=[7, 3, 7])
    assert list(pred.cams) == [7, 3]
    with pytest.raises(ValueError, match="out of range"):
        clf.predict(image, cam_classes=[1000])
    with pytest.raises(ValueError, match="unknown CAM layer"):
        clf.predict(image, cam_layer="layer5")


def test_a_bad_image_does_not_spoil_the_next(clf, tmp_path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    good = tmp_path / "good.png"
    Image.fromarray(np.full((50, 70, 3), 90, np.uint8)).save(good)
    with pytest.raises(ImageDecodeError) as info:
        clf.predict(bad)
    assert "broken.jpg" in str(info.value) and "\n" not in str(info.value)
    pred = clf.predict(good)
    assert pred.source and "good.png" in pred.source and len(pred.topk) == 5


def test_autograd_cam_leaves_model_as_found(resnet18_weights) -> None:
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(resnet18_weights, weights_only=True))
    model.train()  # a caller's model in training mode with trainable weights
    flags = [p.requires_grad for p in model.parameters()]
    x = torch.randn(1, 3, 224, 224)
    _, activation = split_forward(model, x, "layer3.1")
    cams = cams_by_autograd(model, activation, "layer3.1", [1, 2])
    assert cams.shape == (2, 14, 14)
    assert model.training
    assert [p.requires_grad for p in model.parameters()] == flags
    assert all(p.grad is None for p in model.parameters())
    assert all(not m._forward_hooks and not m._backward_hooks for m in model.modules())
    with pytest.raises(ValueError):
        cams_by_autograd(model, activation, "layer9.0", [1])
    assert model.training


def test_cuda_out_of_memory_falls_back_to_cpu(clf, monkeypatch) -> None:
    """Simulated: the forward raises CUDA's OOM once while the classifier is on a non-CPU
    device ('meta' stands in for the GPU this machine lacks: tensors move there freely)."""
    calls = {"n": 0}

    def oom_once(x):
        calls["n"] += 1
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(clf, "_device", torch.device("meta"))
    monkeypatch.setattr(clf, "_compiled", CompiledForward("eager", oom_once))
    pred = clf.predict(np.zeros((80, 80, 3), np.uint8), topk=3)
    assert calls["n"] == 1
    assert pred.device == "cpu" and clf.device == "cpu"
    assert any("out of memory" in note and "CPU" in note for note in pred.notes)
    assert len(pred.cams) == 3
    assert clf._compiled.forward is not oom_once  # rebuilt for the CPU


def test_out_of_memory_on_cpu_is_not_swallowed(clf, monkeypatch) -> None:
    def oom(x):
        raise torch.OutOfMemoryError("out of memory")

    monkeypatch.setattr(clf, "_compiled", CompiledForward("eager", oom))
    with pytest.raises(torch.OutOfMemoryError):
        clf.predict(np.zeros((80, 80, 3), np.uint8))


@pytest.mark.parametrize("backend", ["onednn", "torchscript"])
def test_compiled_backends_build_and_agree(resnet50_weights, backend) -> None:
    clf = load_classifier("resnet50", device="cpu", backend=backend)
    assert clf.backend == backend  # not a silent fallback to eager
    eager = load_classifier("resnet50", device="cpu", backend="eager")
    image = np.random.default_rng(3).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    a, b = clf.predict(image, topk=5), eager.predict(image, topk=5)
    assert [s.index for s in a.topk] == [s.index for s in b.topk]
    # Fused and folded kernels reorder float32 sums: ~1e-6 of the logits' scale on every CPU
    # seen (seeded weights give logits near 180, so 2e-4 apart: 1.4e-5 in probability on an
    # AMD EPYC). A tolerance relative to that scale holds on any CPU; a broken backend is off
    # by the order of the scale itself.
    scale = max(abs(s.logit) for s in b.topk)
    for sa, sb in zip(a.topk, b.topk, strict=True):
        assert sa.logit == pytest.approx(sb.logit, abs=1e-5 * scale)
        assert sa.probability == pytest.approx(sb.probability, abs=1e-4)
    for index in a.cams:
        assert np.abs(a.cams.grid(index) - b.cams.grid(index)).max() < 1e-3


def test_a_background_compile_serves_eager_at_once_then_swaps_in_a_verified_forward(
        resnet18_weights, monkeypatch) -> None:
    from desktop_app.inference import classifier as classifier_module

    release = threading.Event()
    real_build = classifier_module.build_forward

    def build_when_released(*args, **kwargs):
        assert release.wait(60)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(classifier_module, "build_forward", build_when_released)
    clf = load_classifier("resnet18", device="cpu", compile_in_background=True)
    image = np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    first = clf.predict(image, topk=5)  # served while the compile is still held back
    assert first.backend == clf.backend == "eager"
    release.set()
    assert clf.wait_for_backend(timeout=120) in ("onednn", "torchscript")
    later = clf.predict(image, topk=5)
    assert later.backend == clf.backend
    assert [s.index for s in later.topk] == [s.index for s in first.topk]
    scale = max(abs(s.logit) for s in first.topk)
    for a, b in zip(later.topk, first.topk, strict=True):
        assert a.logit == pytest.approx(b.logit, abs=1e-5 * scale)


def test_a_background_compile_that_disagrees_with_eager_is_never_used(
        resnet18_weights, monkeypatch) -> None:
    from desktop_app.inference import backends

    monkeypatch.setattr(backends, "_matches", lambda got, reference: False)
    clf = load_classifier("resnet18", device="cpu", compile_in_background=True)
    assert clf.wait_for_backend(timeout=120) == "eager"
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    assert clf.predict(image, topk=1).backend == "eager"
