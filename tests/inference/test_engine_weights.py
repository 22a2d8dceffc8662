"""Weights resolution, downloads, custom checkpoints and labels — all offline."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from safetensors.torch import save_file

from desktop_app.core.errors import (
    DownloadCancelled,
    LensError,
    WeightsError,
    WeightsUnavailableError,
)
from desktop_app.inference import load_classifier, weights


def _image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (120, 160, 3), dtype=np.uint8)


def test_official_weights_come_from_torchvision_cache(resnet18_weights) -> None:
    assert resnet18_weights.parent == weights.cache_dir()
    assert resnet18_weights.name == Path(torchvision.models.ResNet18_Weights.DEFAULT.url).name
    clf = load_classifier("resnet18", device="cpu")
    assert clf.weights_path == resnet18_weights
    assert clf.labels == tuple(torchvision.models.ResNet18_Weights.DEFAULT.meta["categories"])
    assert clf.labels[0] == "tench"


def test_offline_error_says_which_file_goes_where(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(WeightsUnavailableError) as info:
        load_classifier("resnet34", device="cpu")
    message = str(info.value)
    assert "\n" not in message
    assert "resnet34-b627a593.pth" in message
    assert "83.3 MB" in message
    assert str(tmp_path / "empty-home" / "hub" / "checkpoints") in message
    assert "--weights" in message
    assert not list((tmp_path / "empty-home").rglob("*.part"))  # nothing half-written


def _serve(tmp_path: Path, payload: bytes) -> str:
    served = tmp_path / "served.bin"
    served.write_bytes(payload)
    return served.as_uri()  # file:// goes through urllib like https does, without a network


def test_download_checks_hash_reports_progress_and_lands_atomically(tmp_path) -> None:
    payload = os.urandom(3 * (1 << 20) + 123)
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    target = tmp_path / "cache" / f"model-{prefix}.pth"
    seen: list[tuple[int, int | None]] = []
    got = weights.download_file(
        _serve(tmp_path, payload), target, progress=lambda d, t: seen.append((d, t))
    )
    assert got == target and target.read_bytes() == payload
    assert seen[0] == (0, len(payload)) and seen[-1] == (len(payload), len(payload))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_download_with_wrong_hash_is_refused(tmp_path) -> None:
    target = tmp_path / "cache" / "model-deadbeef.pth"
    with pytest.raises(WeightsError, match="corrupt"):
        weights.download_file(_serve(tmp_path, b"not the real weights"), target)
    assert not target.parent.exists() or not any(target.parent.iterdir())


def test_cancelled_download_leaves_nothing(tmp_path) -> None:
    payload = os.urandom(4 * (1 << 20))
    target = tmp_path / "cache" / "model-00.pth"
    calls = iter([False, True])
    with pytest.raises(DownloadCancelled):
        weights.download_file(_serve(tmp_path, payload), target, cancel=lambda: next(calls))
    assert not any(target.parent.iterdir())


def test_weights_dir_env_is_searched(monkeypatch, tmp_path, resnet18_weights) -> None:
    extra = tmp_path / "offline-kit"
    extra.mkdir()
    (extra / resnet18_weights.name).write_bytes(resnet18_weights.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv(weights.EXTRA_DIRS_ENV, str(extra))
    assert (
        weights.official_weights_path("resnet18", download=False) == extra / resnet18_weights.name
    )


# -- custom checkpoints ----------------------------------------------------------------------


def _custom_model(num_classes: int, seed: int = 1) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torchvision.models.resnet18(num_classes=num_classes).eval()


@pytest.mark.parametrize("fmt", [".pth", ".pt", ".safetensors"])
def test_custom_checkpoint_with_labels_round_trips(tmp_path, fmt) -> None:
    model = _custom_model(3)
    path = tmp_path / f"shapes{fmt}"
    if fmt == ".safetensors":
        save_file(model.state_dict(), str(path))
    else:
        torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    (tmp_path / "shapes.txt").write_text("circle\nsquare\ntriangle\n")
    clf = load_classifier(weights=path, device="cpu")
    assert clf.labels == ("circle", "square", "triangle")
    assert clf.model_name.startswith("resnet18")
    image = _image()
    pred = clf.predict(image, topk=3)
    x = clf.preprocessor(Image.fromarray(image))
    with torch.inference_mode():
        ref = torch.softmax(model(x)[0], 0)
    for score in pred.topk:
        assert score.probability == pytest.approx(float(ref[score.index]), abs=1e-5)
    assert {s.label for s in pred.topk} == {"circle", "square", "triangle"}


def test_half_precision_checkpoint_loads_as_float32(tmp_path) -> None:
    """The network is built on the meta device and the file's tensors are assigned to it:
    nothing may stay on meta, and a float16 file still gives float32 weights."""
    model = _custom_model(3)
    path = tmp_path / "half.safetensors"
    save_file({k: v.half() if v.is_floating_point() else v
               for k, v in model.state_dict().items()}, str(path))
    clf = load_classifier(weights=path, device="cpu")
    tensors = list(clf.network.parameters()) + list(clf.network.buffers())
    assert all(t.device.type == "cpu" for t in tensors)
    assert {t.dtype for t in clf.network.parameters()} == {torch.float32}
    image = _image()
    x = clf.preprocessor(Image.fromarray(image))
    with torch.inference_mode():
        ref = torch.softmax(model.half().float()(x)[0], 0)
    for score in clf.predict(image, topk=3).topk:
        assert score.probability == pytest.approx(float(ref[score.index]), abs=1e-4)


def test_labels_json_map_and_inferred_bottleneck(tmp_path) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnext50_32x4d(num_classes=2)
    path = tmp_path / "two.pth"
    torch.save(model.state_dict(), path)
    labels = tmp_path / "names.json"
    labels.write_text(json.dumps({"1": "dog", "0": "cat"}))
    clf = load_classifier(weights=path, labels=labels, device="cpu", backend="eager")
    assert clf.labels == ("cat", "dog")
    assert clf.model_name.startswith("resnext50_32x4d")


def test_default_labels_without_file(tmp_path) -> None:
    path = tmp_path / "nolabels.pth"
    torch.save(_custom_model(4).state_dict(), path)
    clf = load_classifier(weights=path, device="cpu", backend="eager")
    assert clf.labels == ("class 0", "class 1", "class 2", "class 3")


def test_label_count_mismatch_names_both(tmp_path) -> None:
    path = tmp_path / "four.pth"
    torch.save(_custom_model(4).state_dict(), path)
    labels = tmp_path / "five.txt"
    labels.write_text("a\nb\nc\nd\ne\n")
    with pytest.raises(WeightsError, match=r"five\.txt has 5 labels but four\.pth has 4 classes"):
        load_classifier(weights=path, labels=labels, device="cpu")


def test_wrong_architecture_names_the_mismatch(tmp_path) -> None:
    path = tmp_path / "r18.pth"
    torch.save(_custom_model(10).state_dict(), path)
    with pytest.raises(WeightsError) as info:
        load_classifier("resnet50", weights=path, device="cpu")
    message = str(info.value)
    assert "r18.pth does not fit" in message and "layer1.0.conv1.weight" in message
    assert "\n" not in message


_MARKER_ENV = "RESNET_LENS_PWNED_MARKER"


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ[_MARKER_ENV]}",))


def test_pickled_code_is_refused_and_never_runs(tmp_path, monkeypatch) -> None:
    marker = tmp_path / "pwned"
    monkeypatch.setenv(_MARKER_ENV, str(marker))
    path = tmp_path / "evil.pth"
    state = _custom_model(2).state_dict()
    state["payload"] = _Evil()
    torch.save(state, path)
    with pytest.raises(WeightsError, match="refused"):
        load_classifier(weights=path, device="cpu")
    assert not marker.exists()


def test_truncated_checkpoint_is_an_error(tmp_path) -> None:
    path = tmp_path / "cut.pth"
    torch.save(_custom_model(2).state_dict(), path)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(WeightsError, match=r"cut\.pth"):
        load_classifier(weights=path, device="cpu")


def test_not_a_resnet_is_an_error(tmp_path) -> None:
    path = tmp_path / "mlp.safetensors"
    save_file({"0.weight": torch.zeros(3, 4)}, str(path))
    with pytest.raises(WeightsError, match="not a torchvision ResNet"):
        load_classifier(weights=path, device="cpu")


def test_official_file_given_by_path_keeps_official_labels(tmp_path, resnet18_weights) -> None:
    copy = tmp_path / resnet18_weights.name
    copy.write_bytes(resnet18_weights.read_bytes())
    clf = load_classifier(weights=copy, device="cpu", backend="eager")
    assert clf.model_name == "resnet18"
    assert clf.labels[0] == "tench"
    assert clf.preprocessor.resize_size == 256  # resnet18 V1's own transform


def test_unknown_model_and_device_are_clear(resnet18_weights) -> None:
    with pytest.raises(WeightsError, match="unknown model 'resnet9'"):
        load_classifier("resnet9")
    if not torch.cuda.is_available():
        with pytest.raises(LensError, match="no CUDA GPU"):
            load_classifier("resnet18", device="cuda")


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"<html>404</html>"])
def test_a_file_that_is_no_checkpoint_is_not_called_pickled_code(tmp_path, content) -> None:
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(WeightsError, match=r"model\.pth: not a PyTorch checkpoint") as caught:
        load_classifier(weights=path, device="cpu")
    assert "pickled" not in str(caught.value)
