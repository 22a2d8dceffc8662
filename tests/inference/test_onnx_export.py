"""ONNX export of a taught model (desktop_app.inference.onnx_export, ``train --onnx``): ONNX
Runtime's logits match PyTorch's within 1e-4."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from support.shapes_model import ShapesModel, make_sample

from desktop_app.cli import main
from desktop_app.inference import load_classifier


def _two_classes(root: Path, per_class: int) -> Path:
    for label, name in enumerate(("circle", "square")):
        (root / name).mkdir(parents=True)
        for i, stream in enumerate(np.random.SeedSequence([7, label]).spawn(per_class)):
            make_sample(np.random.default_rng(stream), label).image.save(root / name / f"{i}.png")
    return root


def test_without_the_extra_train_onnx_says_what_to_install_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name.startswith("onnx") else real(name, *a))
    status = main(["train", str(tmp_path / "no such folder"), "--out",
                   str(tmp_path / "m.safetensors"), "--onnx"])
    assert status == 2
    assert capsys.readouterr().err == (
        "resnet-lens: ONNX export needs onnx and onnxscript: pip install 'resnet-lens[onnx]'\n")


@pytest.mark.slow
def test_train_onnx_writes_a_model_whose_logits_match_pytorch(
    shapes_model: ShapesModel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("onnx", "onnxscript", "onnxruntime"):
        pytest.importorskip(name, reason="the onnx extra is not installed")
    import onnxruntime
    import torch

    from desktop_app.core.image_io import decode_for_model

    data = _two_classes(tmp_path / "data", 3)
    out = tmp_path / "out" / "model.safetensors"
    status = main(["train", str(data), "--out", str(out), "--weights", str(shapes_model.weights),
                   "--linear-only", "--onnx", "--cache-dir", str(tmp_path / "cache")])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    onnx_file = out.with_suffix(".onnx")
    assert f"wrote {out}, model.txt, model.report.json, model.onnx" in captured.out

    clf = load_classifier(weights=out, device="cpu", backend="eager")
    pre = clf.preprocessor
    images = sorted(data.glob("*/*.png"))
    batch = torch.cat([pre(decode_for_model(p, pre.resize_size).image) for p in images])
    with torch.no_grad():
        expected = clf.network(batch).numpy()
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    [name] = [i.name for i in session.get_inputs()]
    for rows in (slice(0, 1), slice(0, len(images))):  # the batch size is free
        [logits] = session.run(None, {name: batch[rows].numpy()})
        np.testing.assert_allclose(logits, expected[rows], rtol=0, atol=1e-4)
