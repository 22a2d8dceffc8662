"""The model-randomisation sanity check (desktop_app/inference/sanity.py) and its command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from cli_runner import run_cli
from PIL import Image
from shapes_model import ShapesModel, make_edge_set, shapes_model_fixture

from desktop_app.core.errors import InvalidArgument
from desktop_app.inference import load_classifier
from desktop_app.inference.sanity import CASCADE, FLAG_STEP, randomisation_check, spearman


def test_spearman_equals_scipys_with_ties_and_is_nan_for_a_constant_map() -> None:
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    for _ in range(5):
        a = np.round(rng.random((7, 7)) * 3)  # ties, as after ReLU
        b = np.round(rng.random((7, 7)) * 3)
        assert spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel())[0], abs=1e-12)
    assert math.isnan(spearman(np.zeros((7, 7)), rng.random((7, 7))))


@pytest.fixture(scope="module")
def shapes_model(request: pytest.FixtureRequest) -> ShapesModel:
    return shapes_model_fixture(request)


@pytest.fixture(scope="module")
def learned_clf(shapes_model: ShapesModel):
    return load_classifier(weights=shapes_model.weights, labels=shapes_model.labels,
                           device="cpu", backend="eager")


@pytest.mark.slow
def test_gradcam_changes_with_the_weights_and_eigencam_is_flagged(learned_clf) -> None:
    """Measured on three edge images: Grad-CAM's correlation is at most 0.3 once fc..layer3
    are random (so 0.5 leaves a margin); Eigen-CAM ignores fc entirely (exactly 1 after the
    first step) and stays above 0.8 by layer3 — it explains the image."""
    before = {k: v.clone() for k, v in learned_clf.network.state_dict().items()}
    at = CASCADE.index(FLAG_STEP)
    for sample in make_edge_set(3):
        report = randomisation_check(learned_clf, sample.image, ("gradcam", "eigencam"),
                                     class_index=sample.label)
        assert report.steps == CASCADE and report.class_index == sample.label
        gradcam = report.correlations["gradcam"]
        assert not gradcam[at] >= 0.5, gradcam  # NaN (a blank map) counts as changed
        assert report.correlations["eigencam"][0] == pytest.approx(1.0)
        assert report.flagged == ("eigencam",)
        record = json.loads(json.dumps(report.to_dict()))  # what `sanity --json` prints
        assert record["steps"] == list(CASCADE) and record["flagged"] == ["eigencam"]
    after = learned_clf.network.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # the caller's model


def test_bad_arguments_are_invalid(resnet18_weights) -> None:
    clf = load_classifier("resnet18", device="cpu", backend="eager")
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    with pytest.raises(InvalidArgument, match="unknown CAM method nope"):
        randomisation_check(clf, image, ("gradcam", "nope"))
    with pytest.raises(InvalidArgument, match="out of range"):
        randomisation_check(clf, image, class_index=5000)


def test_command_prints_the_table_and_json(tmp_path, resnet18_weights) -> None:
    image = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
                    ).save(image)
    result = run_cli("sanity", str(image), "--model", "resnet18", "--cam", "gradcam,eigencam",
                     "--class", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["randomised", "gradcam", "eigencam"]
    assert [line.split()[0] for line in lines[2:7]] == ["fc", "..layer4", "..layer3",
                                                        "..layer2", "..layer1"]


@pytest.mark.parametrize(("args", "option", "says"), [
    (["--cam", "nope"], "--cam", "unknown CAM method nope"),
    (["--class", "1000"], "--class", "out of range"),
])
def test_command_rejects_bad_values_in_one_line(tmp_path, resnet18_weights, args, option,
                                                says) -> None:
    image = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(image)
    result = run_cli("sanity", str(image), "--model", "resnet18", *args)
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(
        f"resnet-lens sanity: error: argument {option}: ")
    assert says in errors[0]
