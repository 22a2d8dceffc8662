"""*Score this map*: three numbers and two curves beside the map, computed in the worker
with progress and cancel; a live source must be frozen first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from support.ui_helpers import (
    FakeEngine,
    fake_camera_source,
    make_window,
    wait_for_prediction,
    write_image,
)
from support.video_utils import make_test_video

from desktop_app.inference.faithfulness import auc
from desktop_app.ui.controllers.score_controller import IDLE_NOTE
from desktop_app.ui.controllers.worker import TorchEngine


def _scored(window: Any) -> bool:
    return all(text != "—" for text in window.score_panel.texts().values())


def test_score_this_map_shows_three_numbers_and_the_curves(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    prediction = wait_for_prediction(qtbot, window)
    panel = window.score_panel
    assert set(panel.texts().values()) == {"—"}
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _scored(window), timeout=5000)
    mean = float(np.nanmean(prediction.cams[window.selected_class]))
    assert panel.texts() == {"deletion": f"{1 - mean:.3f}", "insertion": f"{mean:.3f}",
                             "road": f"{mean / 2:.3f}"}
    assert set(panel.plot.curves) == {"deletion", "insertion"} and panel.plot.isVisible()
    # Found by driving the window: the names sat inside the frame, on the curves' ends.
    frame, names = panel.plot.layout_rects()
    assert list(names) == ["deletion", "insertion"]
    assert not names["deletion"].intersects(names["insertion"])
    for box in names.values():
        assert panel.plot.rect().contains(box) and not box.intersects(frame)
    assert "Grad-CAM · layer4" in panel.note.text()

    qtbot.keyClick(window.view, Qt.Key.Key_BracketRight)  # another prediction: stale scores
    qtbot.waitUntil(lambda: not _scored(window), timeout=5000)


def test_scoring_reports_progress_and_can_be_cancelled(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    engine.classifier.score_delay = 0.05  # 20 steps: a second in all
    panel = window.score_panel
    qtbot.keyClick(window.view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.job.isVisible() and panel.job.count[0] >= 2, timeout=5000)
    assert panel.job.count[1] == 20 and panel.job.bar.text() == f"{panel.job.count[0]}/20 images"
    assert not panel.score_button.isEnabled()
    qtbot.mouseClick(panel.job.cancel_button, Qt.MouseButton.LeftButton)
    assert panel.note.text() == "Scoring cancelled."
    assert panel.score_button.isEnabled() and not panel.job.isVisible()
    # The worker stops too: it is free for the next request at once, not after 20 steps.
    qtbot.waitUntil(lambda: not window.client.busy, timeout=600)
    assert set(panel.texts().values()) == {"—"}
    engine.classifier.score_delay = 0.0
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)  # and scores again
    qtbot.waitUntil(lambda: _scored(window), timeout=5000)


@pytest.mark.parametrize("focus", ["view", "list", "score button"])
def test_escape_cancels_the_scoring_wherever_the_keyboard_focus_is(
        qtbot: Any, tmp_path: Path, focus: str) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    engine.classifier.score_delay = 0.25  # 20 steps: five seconds
    panel = window.score_panel
    qtbot.mouseClick(panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.job.count[0] >= 1, timeout=5000)
    target = {"view": window.view, "list": window.predictions.list,
              "score button": window.focusWidget()}[focus]
    if focus == "list":  # a click on a class moves the keyboard there, as it does a user's
        item = window.predictions.list.currentItem()
        rect = window.predictions.list.visualItemRect(item)
        qtbot.mouseClick(window.predictions.list.viewport(), Qt.MouseButton.LeftButton,
                         pos=rect.center())
    else:
        target.setFocus()
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Escape)
    assert panel.note.text() == "Scoring cancelled." and not panel.job.isVisible()
    qtbot.waitUntil(lambda: not window.client.busy, timeout=1000)  # the worker stopped too
    assert set(panel.texts().values()) == {"—"}


def test_a_live_source_is_scored_only_when_frozen(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.start_live_source(fake_camera_source())
    wait_for_prediction(qtbot, window)
    qtbot.mouseClick(window.score_panel.score_button, Qt.MouseButton.LeftButton)
    assert "Freeze the frame first" in window.score_panel.note.text()
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    qtbot.mouseClick(window.score_panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _scored(window), timeout=5000)
    window.stop_live()



def test_a_stopped_video_frame_keeps_its_map_and_can_be_scored_and_relayered(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: Esc on a running video left its last frame and map on
    # screen, but Ctrl+M said "Nothing to score yet" and a new layer left the map as it was.
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.start_video(make_test_video(tmp_path / "clip.avi", 30, size=(160, 120)))
    shown = wait_for_prediction(qtbot, window)
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)  # Camera > Stop camera or video
    assert window.live_source is None
    assert window.prediction is not None and window.prediction.source.startswith("clip.avi#")
    assert not window.view.image_size.isEmpty()

    qtbot.keyClick(window.view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: _scored(window), timeout=5000)
    assert "Nothing to score" not in window.score_panel.note.text()

    layers = window.model_controls.layer_combo
    layers.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is layers, timeout=3000)
    qtbot.keyClick(layers, Qt.Key.Key_Up)
    assert layers.currentText() != shown.cam_layer
    qtbot.waitUntil(lambda: window.prediction.cam_layer == layers.currentText(), timeout=5000)
    assert window.prediction.source == shown.source  # the same frame, at the new layer


@pytest.mark.slow
def test_the_real_engine_scores_the_map_with_curves_that_give_its_scores(
        qtbot: Any, tmp_path: Path, resnet18_weights: Path) -> None:
    window = make_window(qtbot, tmp_path, lambda: TorchEngine(num_threads=1),
                         weights=str(resnet18_weights))
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30), (160, 120))])
    wait_for_prediction(qtbot, window, timeout=60_000)
    results: list[Any] = []
    window.client.worker.score_ready.connect(results.append)
    qtbot.mouseClick(window.score_panel.score_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _scored(window), timeout=120_000)
    (result,) = results
    for name in ("deletion", "insertion"):
        assert result.curves[name].shape == (33,)  # FaithfulnessSettings.steps + 1
        assert auc(result.curves[name]) == pytest.approx(result.scores[name])
    assert window.score_panel.texts()["road"] == f"{result.scores['road']:.3f}"


def test_the_freeze_first_note_goes_once_the_frame_is_frozen_or_the_video_stopped(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.start_live_source(fake_camera_source())
    wait_for_prediction(qtbot, window)
    qtbot.keyClick(window.view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    note = window.score_panel.note
    assert "Freeze the frame first" in note.text()
    qtbot.keyClick(window.view, Qt.Key.Key_Space)  # frozen: it can be scored now
    assert note.text() == IDLE_NOTE
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    qtbot.keyClick(window.view, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert "Freeze the frame first" in note.text()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)  # stopped, then a still is opened
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    assert note.text() == IDLE_NOTE
