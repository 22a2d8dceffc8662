"""One decode policy: an image opened in the window reaches the model exactly as the same
file does through ``Classifier.predict(path)`` (the CLI and the API), although the window
shows it at full size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from support.ui_helpers import (
    FakeEngine,
    make_window,
    wait_for_prediction,
)

from desktop_app.core.image_io import decode_for_model, decode_image


def _detailed_jpeg(path: Path, size: tuple[int, int] = (2000, 1500)) -> Path:
    """Large and detailed enough that a reduced-scale decode differs from a full one
    followed by the model's resize."""
    rng = np.random.default_rng(7)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.stack([(xx * 7 + yy * 3) % 256, (xx ^ yy) % 256,
                       rng.integers(0, 256, (height, width))], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def test_the_window_hands_the_model_what_the_cli_and_api_decode(qtbot: Any,
                                                                 tmp_path: Path) -> None:
    photo = _detailed_jpeg(tmp_path / "big.jpg")
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([photo])
    prediction = wait_for_prediction(qtbot, window, source=str(photo))
    # The screen and the maps keep the whole picture.
    assert (window.view.image_size.width(), window.view.image_size.height()) == (2000, 1500)
    assert prediction.image_size == (2000, 1500)
    handed = engine.classifier.calls[-1]["image"]
    for resize in (232, 256):  # the resize sizes of torchvision's ResNet weights
        # What Classifier.predict makes of the window's request and of the path itself.
        seen = decode_image(handed, min_side=resize)
        cli = decode_image(photo, min_side=resize)
        assert seen.image.size == cli.image.size, resize
        np.testing.assert_array_equal(seen.array, cli.array)
        np.testing.assert_array_equal(decode_for_model(handed, resize).array, cli.array)
    assert cli.image.size < (2000, 1500)  # draft mode did shrink it: the case that matters


@pytest.mark.slow
def test_the_same_jpeg_gets_the_same_probabilities_in_the_window_and_the_api(
        qtbot: Any, tmp_path: Path, resnet18_weights: Path) -> None:
    from desktop_app.inference import load_classifier
    from desktop_app.ui.controllers.worker import TorchEngine

    photo = _detailed_jpeg(tmp_path / "big.jpg")
    window = make_window(qtbot, tmp_path, lambda: TorchEngine(num_threads=1),
                         model="resnet18", device="cpu")
    window.open_paths([photo])
    shown = wait_for_prediction(qtbot, window, source=str(photo), timeout=120_000)
    window.close()
    api = load_classifier(model="resnet18", device="cpu", num_threads=1).predict(
        photo, topk=5, cam=None)
    assert [s.index for s in shown.topk] == [s.index for s in api.topk]
    np.testing.assert_allclose([s.probability for s in shown.topk],
                               [s.probability for s in api.topk], rtol=0, atol=1e-6)
