"""The eight CAM methods against pytorch-grad-cam, their fast paths, Score-CAM's progress and
cancel, and the command line's --cam."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from support.processes import run_cli

from desktop_app.core.errors import Cancelled, LensError
from desktop_app.core.geometry import CropGeometry
from desktop_app.inference import load_classifier
from desktop_app.inference.cam_formulas import GRADIENT_METHODS, first_component
from desktop_app.inference.cam_methods import CamRequest, method_cams
from desktop_app.inference.catalog import CAM_METHODS
from desktop_app.inference.gradcam import normalise, split_forward

ORACLE_CLASSES = {
    "gradcam": "GradCAM",
    "hirescam": "HiResCAM",
    "gradcam++": "GradCAMPlusPlus",
    "xgradcam": "XGradCAM",
    "layercam": "LayerCAM",
    "eigencam": "EigenCAM",
    "ablationcam": "AblationCAM",
    "scorecam": "ScoreCAM",
}
# Our layer name -> the oracle's target module (a stage's output is its last block's).
MODULES = {"layer4": "layer4.1", "layer3": "layer3.1", "layer2.1": "layer2.1", "layer1": "layer1.1"}
# Inner layers with few channels where each channel costs a forward of the oracle's model.
INNER = {"ablationcam": "layer2.1", "scorecam": "layer1"}
# The oracle needs one full forward per channel of layer4 (512) for these: slow.
SLOW_AT_LAYER4 = {"ablationcam", "scorecam"}


def _photo(seed: int = 5) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:260, 0:300].astype(np.float32)
    base = np.stack([np.sin(xx / 9) * 80, np.cos(yy / 13) * 80, (xx + yy) % 97], axis=-1)
    return Image.fromarray(np.clip(base + 128 + rng.normal(0, 25, base.shape), 0, 255)
                           .astype(np.uint8))


@pytest.fixture(scope="module")
def clf(resnet18_weights):
    return load_classifier("resnet18", device="cpu", backend="eager")


@pytest.fixture(scope="module")
def oracle_model(resnet18_weights):
    """A separate model with the same weights: pytorch-grad-cam's hooks never touch ours."""
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load(resnet18_weights, weights_only=True))
    return model.eval()


@pytest.fixture
def sign_resolved_oracle(monkeypatch):
    """pytorch-grad-cam's SVD projection with its arbitrary sign resolved by our rule: the
    projection correlates positively with the mean over channels of what it projects."""
    import pytorch_grad_cam.base_cam
    import pytorch_grad_cam.eigen_cam
    import pytorch_grad_cam.hirescam
    import pytorch_grad_cam.layer_cam
    from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

    def resolved(batch: np.ndarray) -> np.ndarray:
        projections = get_2d_projection(batch)
        for i, maps in enumerate(np.nan_to_num(batch)):
            if float((projections[i] * maps.mean(axis=0)).sum()) < 0:
                projections[i] = -projections[i]
        return projections

    for module in (pytorch_grad_cam.base_cam, pytorch_grad_cam.eigen_cam,
                   pytorch_grad_cam.hirescam, pytorch_grad_cam.layer_cam):
        monkeypatch.setattr(module, "get_2d_projection", resolved)


def _oracle(model, method: str, layer: str, x: torch.Tensor, classes: list[int], **options):
    import pytorch_grad_cam
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam_class = getattr(pytorch_grad_cam, ORACLE_CLASSES[method])
    with cam_class(model=model, target_layers=[model.get_submodule(MODULES[layer])]) as cam:
        if method == "scorecam":
            cam.batch_size = 32
        return [cam(input_tensor=x, targets=[ClassifierOutputTarget(c)], **options)[0]
                for c in classes]


def _minmax(a: np.ndarray) -> np.ndarray:
    a = a.astype(np.float64)
    return (a - a.min()) / max(a.max() - a.min(), 1e-12)


def _compare(pred, oracle: list[np.ndarray], classes: list[int], tolerance: float) -> None:
    identity = CropGeometry.for_transform(224, 224, 224, 224)  # grid -> the 224 px crop
    compared = 0
    for c, theirs in zip(classes, oracle, strict=True):
        ours = identity.warp_to_image(pred.cams.grid(c))
        assert ours.shape == theirs.shape == (224, 224)
        if np.ptp(theirs) < 1e-6:  # an all-negative map: both must be blank
            assert np.ptp(ours) < 1e-3
            continue
        compared += 1
        error = np.abs(_minmax(ours) - _minmax(theirs)).mean()
        assert error <= tolerance, (pred.cam_method, c, error)
    assert compared >= 1


def _cases() -> list:
    cases = []
    for method in CAM_METHODS:
        for layer in ("layer4", INNER.get(method, "layer3")):
            slow = layer == "layer4" and method in SLOW_AT_LAYER4
            marks = [pytest.mark.slow] if slow else []
            cases.append(pytest.param(method, layer, marks=marks, id=f"{method}-{layer}"))
    return cases


@pytest.mark.parametrize(("method", "layer"), _cases())
def test_equals_pytorch_grad_cam(clf, oracle_model, sign_resolved_oracle, method, layer) -> None:
    image = _photo()
    costly = method in SLOW_AT_LAYER4
    logits = clf.network(clf.preprocessor(image))[0]
    # The top classes and the least likely one: a negative logit inverts Ablation-CAM's map.
    classes = [*logits.topk(1 if costly else 2).indices.tolist(), int(logits.argmin())]
    assert logits[classes[-1]] < 0
    pred = clf.predict(image, topk=2, cam=method, cam_layer=layer, cam_classes=classes,
                       batch_size=64 if costly else 32)
    assert pred.cam_method == method and pred.to_dict()["cam_method"] == method
    oracle = _oracle(oracle_model, method, layer, clf.preprocessor(image), classes)
    _compare(pred, oracle, classes, 1e-2 if method == "scorecam" else 1e-3)


SMOOTHING = [
    ("gradcam", "layer4", {"aug_smooth": True}),
    ("layercam", "layer3", {"aug_smooth": True, "eigen_smooth": True}),
    ("gradcam++", "layer4", {"eigen_smooth": True}),
    ("hirescam", "layer3", {"eigen_smooth": True}),
]


@pytest.mark.parametrize(("method", "layer", "options"), SMOOTHING,
                         ids=[f"{m}-{lay}-{'+'.join(o)}" for m, lay, o in SMOOTHING])
def test_smoothing_equals_pytorch_grad_cam(
    clf, oracle_model, sign_resolved_oracle, method, layer, options
) -> None:
    if options.get("aug_smooth"):
        pytest.importorskip("ttach")  # pytorch-grad-cam's augmentations come from ttach
    image = _photo(seed=8)
    pred = clf.predict(image, topk=2, cam=method, cam_layer=layer, **options)
    classes = [s.index for s in pred.topk]
    oracle = _oracle(oracle_model, method, layer, clf.preprocessor(image), classes, **options)
    _compare(pred, oracle, classes, 1e-3)


def test_eigencam_sign_follows_mean_activation(clf) -> None:
    x = clf.preprocessor(_photo(seed=3))
    _, activation = split_forward(clf.network, x, "layer3.1")
    a = activation[0]
    for maps in (a, -a, a.flip(0)):  # whatever SVD returns, the rule decides the sign
        projection = first_component(maps)
        assert float((projection * maps.mean(dim=0)).sum()) > 0
    assert torch.allclose(first_component(-a), -first_component(a), atol=1e-4)


def test_ablation_closed_form_equals_ablating_forwards(clf) -> None:
    """At layer4 ablation is computed from fc's weights; here against actually ablating each
    channel and running avgpool and fc (the path inner layers take)."""
    x = clf.preprocessor(_photo(seed=4))
    logits, activation = split_forward(clf.network, x, "layer4.1")
    assert float(activation.min()) == 0.0  # after the block's ReLU: the zeroing case
    classes = tuple(int(c) for c in logits[0].topk(3).indices)
    maps = {
        at_head: normalise(method_cams(clf.network, x, logits, activation,
                                       CamRequest("ablationcam", "layer4.1", classes, at_head)))
        for at_head in (True, False)
    }
    assert np.abs(maps[True] - maps[False]).max() < 1e-4
    assert np.ptp(maps[True]) > 0.5


def _forbid_autograd(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("autograd was invoked")

    monkeypatch.setattr(torch.autograd, "grad", refuse)
    monkeypatch.setattr(torch.autograd, "backward", refuse)
    monkeypatch.setattr(torch.Tensor, "backward", refuse)


def test_layer4_needs_no_backward_and_ablation_no_extra_forward(clf, monkeypatch) -> None:
    image = _photo(seed=6)
    fc_calls = []  # a forward of any part of the network after layer4 ends in fc
    handle = clf.network.fc.register_forward_hook(lambda *_: fc_calls.append(1))
    try:
        _forbid_autograd(monkeypatch)
        for method in (*GRADIENT_METHODS, "eigencam", "ablationcam"):
            fc_calls.clear()
            pred = clf.predict(image, topk=3, cam=method)
            assert len(pred.cams) == 3 and fc_calls == [1], method
        # The same check catches a backward: inner layers need one.
        with pytest.raises(AssertionError, match="autograd was invoked"):
            clf.predict(image, topk=3, cam="gradcam++", cam_layer="layer3")
    finally:
        handle.remove()


def test_scorecam_progress_reaches_total_and_cancel_stops(clf) -> None:
    image = _photo(seed=7)
    seen: list[tuple[int, int]] = []
    clf.predict(image, topk=1, cam="scorecam", cam_layer="layer1", batch_size=16,
                progress=lambda done, total: seen.append((done, total)))
    totals = {total for _, total in seen}
    assert len(totals) == 1 and 1 <= totals.pop() <= 64 + 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == seen[-1][1]

    asked = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 2  # after two batches

    with pytest.raises(Cancelled) as info:
        clf.predict(image, topk=1, cam="scorecam", cam_layer="layer1", batch_size=16,
                    cancel=cancel)
    assert isinstance(info.value, LensError) and "\n" not in str(info.value)
    assert len(asked) == 3


def test_scorecams_cancel_check_may_use_the_model_and_the_map_goes_on_unchanged(clf) -> None:
    """The window's worker serves the photo on screen inside a folder run's Score-CAM,
    between two batches of its channels: a gradient map of an inner layer (a backward)
    must work there, and neither map may be changed by the other."""
    image, other = _photo(seed=7), _photo(seed=3)
    alone = clf.predict(image, topk=1, cam="scorecam", cam_layer="layer1", batch_size=16)
    served = []

    def between_batches() -> bool:
        if not served:
            served.append(clf.predict(other, topk=2, cam="gradcam++", cam_layer="layer3"))
        return False

    paused = clf.predict(image, topk=1, cam="scorecam", cam_layer="layer1", batch_size=16,
                         cancel=between_batches)
    assert len(served) == 1
    expected = clf.predict(other, topk=2, cam="gradcam++", cam_layer="layer3")
    assert served[0].cams is not None and expected.cams is not None
    for c in expected.cams:
        np.testing.assert_allclose(served[0].cams.grid(c), expected.cams.grid(c), atol=1e-5)
    assert alone.cams is not None and paused.cams is not None
    assert list(paused.cams) == list(alone.cams)
    for c in alone.cams:
        np.testing.assert_allclose(paused.cams.grid(c), alone.cams.grid(c), atol=1e-5)


def test_scorecam_runs_blank_channels_once_with_the_same_result(clf) -> None:
    """Channels whose mask is all zero score as the blank image: one forward for all of them
    gives what forwarding each would."""
    x = clf.preprocessor(_photo(seed=2))
    logits, activation = split_forward(clf.network, x, "layer4.1")
    a = activation[:, :24].clone()
    a[:, :8] = 0.0  # dead channels
    seen: list[tuple[int, int]] = []
    request = CamRequest("scorecam", "layer4.1", (int(logits.argmax()),), True, batch_size=8,
                         progress=lambda done, total: seen.append((done, total)))
    skipping = method_cams(clf.network, x, logits, a, request)
    assert seen[-1] == (17, 17)  # 16 live channels + one blank image

    with torch.inference_mode():  # every channel forwarded, as pytorch-grad-cam does
        up = torch.nn.functional.interpolate(a, size=(224, 224), mode="bilinear",
                                             align_corners=True)[0]
        flat = up.flatten(1)
        low, high = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
        masks = (up - low) / (high - low + 1e-8)
        scores = clf.network(x * masks[:, None])[:, request.classes[0]]
        expected = (torch.softmax(scores, 0)[:, None, None] * a[0]).sum(0)
    assert torch.allclose(skipping[0], expected, atol=1e-5, rtol=1e-4)


def test_unknown_method_and_batch_size_are_invalid_arguments(clf) -> None:
    with pytest.raises(LensError, match="unknown CAM method 'nope'"):
        clf.predict(_photo(), cam="nope")
    with pytest.raises(LensError, match="at least 1"):
        clf.predict(_photo(), cam="scorecam", batch_size=0)


@pytest.fixture(scope="module")
def photo_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cam") / "photo.png"
    _photo().save(path)
    return path


def test_cli_writes_maps_per_method_and_layer(photo_file, tmp_path, resnet18_weights) -> None:
    out = tmp_path / "maps"
    result = run_cli("predict", str(photo_file), "--model", "resnet18", "--topk", "2", "--json",
                     "--cam", "gradcam++,eigencam", "--cam-dir", str(out), "--cam-layer",
                     "layer3", "--cam-classes", "topk", "--cam-format", "png")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    top = [s["index"] for s in record["topk"]]
    expected = {f"photo.top{r}-{c}.{m}.layer3.png" for m in ("gradcam++", "eigencam")
                for r, c in enumerate(top, start=1)}
    assert {p.name for p in out.iterdir()} == expected
    assert record["cam_methods"] == ["gradcam++", "eigencam"]
    assert {(m["method"], m["class"], Path(m["path"]).name) for m in record["maps"]} == {
        (n.split(".")[2], int(n.split(".")[1].split("-")[1]), n) for n in expected}


def test_cli_rejects_unknown_method_in_one_line(photo_file, tmp_path) -> None:
    result = run_cli("predict", str(photo_file), "--cam", "gradcam,nope", "--cam-dir",
                     str(tmp_path / "m"))
    assert result.returncode == 2 and result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith("resnet-lens predict: error: argument --cam: ")
    assert "unknown CAM method nope" in errors[0] and "scorecam" in errors[0]
    assert "Traceback" not in result.stderr and not (tmp_path / "m").exists()
