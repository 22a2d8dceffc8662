"""Live sources in the window: a video file through the capture path, fake cameras that
freeze or get unplugged, freezing a frame, and closing while everything runs."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from support.ui_helpers import (
    FakeClassifier,
    FakeEngine,
    LagProbe,
    fake_camera_source,
    make_window,
    wait_for_prediction,
    write_image,
)
from support.video_utils import decode_index, make_test_video

from desktop_app.ui.state.requests import Kind, PredictResult
from desktop_app.ui.widgets.predictions_panel import CLASS_ROLE


def _live_results(window: Any) -> list[PredictResult]:
    results: list[PredictResult] = []

    def keep(result: PredictResult) -> None:
        if result.request.kind is Kind.LIVE:
            results.append(result)

    window.client.worker.prediction_ready.connect(keep)
    return results


def test_video_frames_go_through_the_worker_and_the_gui_stays_responsive(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.03)
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)
    video = make_test_video(tmp_path / "clip.avi", 90, size=(640, 480), fps=30)
    results = _live_results(window)
    shown: list[Any] = []
    window.prediction_shown.connect(shown.append)
    probe = LagProbe()
    probe.start()
    window.start_video(video)
    qtbot.waitUntil(lambda: len(shown) >= 25, timeout=20_000)
    probe.stop()
    window.stop_live()
    # The worker thread appends to ``results`` itself (a direct connection), and one frame
    # may still be in flight: check a snapshot.
    results = list(results)

    # Frames arrive in order, each once, and each result carries the pixels it was made from
    # (the video loops, so the picture shows the index modulo its length).
    numbers = [int(r.request.source.rsplit("#frame-", 1)[1]) for r in results]
    assert numbers == sorted(set(numbers))
    assert [decode_index(r.request.image) for r in results] == [n % 90 for n in numbers]
    # Newest frame wins: no backlog, so the worker saw no more frames than it had time for.
    calls = len(engine.classifier.calls)
    assert calls <= len(results) + 2
    assert results[0].request.image.shape == (480, 640, 3)
    assert window.view.has_overlay()
    assert probe.p99_ms < 100, f"event loop lag p99 {probe.p99_ms:.0f} ms"
    assert probe.max_ms < 400, f"event loop lag max {probe.max_ms:.0f} ms"
    assert window.status.fps_label.text() == ""  # cleared when the source stopped


def test_fps_is_shown_while_live(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.start_video(make_test_video(tmp_path / "clip.avi", 30, size=(160, 120)))
    qtbot.waitUntil(lambda: "fps" in window.status.fps_label.text(), timeout=10_000)
    assert "(source" in window.status.fps_label.text()


def test_freeze_keeps_the_frame_and_space_resumes(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    results = _live_results(window)
    window.start_live_source(fake_camera_source())
    qtbot.waitUntil(lambda: len(results) >= 3, timeout=10_000)
    assert window.camera_panel.freeze_box.isEnabled()
    qtbot.waitUntil(lambda: "fps" in window.status.fps_label.text(), timeout=5000)
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.actions_.freeze.isChecked() and window.camera_panel.freeze_box.isChecked()
    # No rate while frozen (it fell to "0.0 fps", which read like a fault).
    qtbot.waitUntil(lambda: window.status.fps_label.text() == "", timeout=3000)
    frozen = window.prediction
    count = len(results)
    qtbot.wait(300)
    assert window.prediction is frozen
    assert len(results) <= count + 1  # at most the one in flight when Space was pressed
    # The frozen frame is a still now: a new k re-classifies it.
    window.predictions.topk_spin.setValue(2)
    qtbot.waitUntil(lambda: window.predictions.list.count() == 2, timeout=5000)
    assert window.predictions.header.text().startswith(f"{frozen.source} (frozen)")
    assert frozen.source.startswith("Camera 0#frame-")
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert not window.actions_.freeze.isChecked()
    count = len(results)
    qtbot.waitUntil(lambda: len(results) >= count + 2, timeout=10_000)
    qtbot.waitUntil(lambda: "fps" in window.status.fps_label.text(), timeout=5000)


def test_a_camera_that_keeps_sending_the_same_frame_is_reported(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    still = np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    window.start_live_source(fake_camera_source(lambda n: still, stale_timeout=0.3))
    qtbot.waitUntil(lambda: window.live_source is None, timeout=10_000)
    assert "Camera 0 has sent the same image for 0.3 s" in window.messages.texts()[-1]
    assert not window.camera_panel.start_button.isChecked()
    # The app carries on.
    window.open_paths([write_image(tmp_path / "a.png", (9, 9, 9))])
    wait_for_prediction(qtbot, window)


def test_a_camera_unplugged_mid_stream_is_reported(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    results = _live_results(window)
    frames = lambda n: None if n >= 20 else np.full((90, 120, 3), n * 10 % 256, np.uint8)  # noqa: E731
    window.start_live_source(fake_camera_source(frames, frame_timeout=0.3))
    qtbot.waitUntil(lambda: window.live_source is None, timeout=10_000)
    assert window.messages.texts()[-1] == "Camera 0 stopped delivering frames (unplugged?)"
    assert results  # frames before the fault were classified
    assert window.status.fps_label.text() == ""


def test_a_camera_that_does_not_exist_is_reported(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    qtbot.waitUntil(lambda: window.camera_panel.combo.currentText() == "No camera found",
                    timeout=10_000)
    assert not window.camera_panel.start_button.isEnabled()
    window.start_camera(9)
    qtbot.waitUntil(lambda: window.live_source is None, timeout=15_000)
    assert window.messages.texts()[-1].startswith("Camera 9 could not be opened")


def test_a_broken_video_file_is_reported(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 100)
    window.open_paths([broken])
    qtbot.waitUntil(lambda: window.live_source is None and bool(window.messages.texts()),
                    timeout=10_000)
    assert "broken.mp4" in window.messages.texts()[-1]


@pytest.mark.parametrize("source", ["camera", "video"])
def test_closing_mid_inference_with_a_live_source_is_quick_and_clean(
        qtbot: Any, tmp_path: Path, source: str) -> None:
    engine = FakeEngine(predict_delay=0.4)
    window = make_window(qtbot, tmp_path, engine)
    if source == "camera":
        window.start_live_source(fake_camera_source())
    else:
        window.start_video(make_test_video(tmp_path / "clip.avi", 60, size=(320, 240)))
    qtbot.waitUntil(lambda: bool(engine.classifiers) and len(engine.classifier.calls) >= 2,
                    timeout=10_000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert not window.client._thread.isRunning()


# Flat frames whose fake top classes differ, each in the other's top 5.
GREY_A, GREY_B = 40, 190


def _alternating(n: int) -> np.ndarray:
    """Six frames of one grey, six of the other, and so on."""
    return np.full((120, 160, 3), GREY_A if n // 6 % 2 == 0 else GREY_B, np.uint8)


def _click_class(qtbot: Any, window: Any, index: int) -> None:
    view = window.predictions.list
    item = next(view.item(r) for r in range(view.count())
                if view.item(r).data(CLASS_ROLE) == index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.visualItemRect(item).center())


def test_the_map_follows_the_top_class_of_each_frame_unless_a_class_is_pinned(
        qtbot: Any, tmp_path: Path) -> None:
    tops: dict[int, list[int]] = {}
    for grey in (GREY_A, GREY_B):
        listed = FakeClassifier().predict(np.full((120, 160, 3), grey, np.uint8)).topk
        tops[grey] = [s.index for s in listed]
    top_a, top_b = tops[GREY_A][0], tops[GREY_B][0]
    assert top_a != top_b and top_a in tops[GREY_B] and top_b in tops[GREY_A]

    window = make_window(qtbot, tmp_path, FakeEngine())
    seen: list[tuple[int, int | None, int | None, str]] = []

    def record(prediction: Any) -> None:
        current = window.predictions.list.currentItem()
        seen.append((prediction.topk[0].index, window.selected_class,
                     None if current is None else current.data(CLASS_ROLE),
                     window.predictions.header.text()))

    window.prediction_shown.connect(record)

    def shown_tops(start: int) -> set[int]:
        return {top for top, *_ in seen[start:]}

    window.start_live_source(fake_camera_source(_alternating))
    qtbot.waitUntil(lambda: shown_tops(0) == {top_a, top_b}, timeout=10_000)
    # Unpinned: the highlighted row and the map are each frame's top class.
    assert all(selected == top == row for top, selected, row, _ in seen), seen
    assert all("Pinned" not in header for *_, header in seen)

    # A click pins a class: it stays while the top class changes under it.
    _click_class(qtbot, window, top_a)
    start = len(seen)
    qtbot.waitUntil(lambda: shown_tops(start) == {top_a, top_b}, timeout=10_000)
    assert all(selected == row == top_a for _, selected, row, _ in seen[start:]), seen
    assert all(f"Pinned: class {top_a}" in header for *_, header in seen[start:])
    assert window.predictions.list.currentItem().text().startswith(f"class {top_a}")

    # Clicking the pinned class again releases it.
    _click_class(qtbot, window, top_a)
    start = len(seen)
    qtbot.waitUntil(lambda: shown_tops(start) == {top_a, top_b}, timeout=10_000)
    assert all(selected == top == row for top, selected, row, _ in seen[start:]), seen

    # So does T, wherever the focus is.
    _click_class(qtbot, window, top_b if window.selected_class == top_a else top_a)
    assert "Pinned" in window.predictions.header.text()
    qtbot.keyClick(window.view, Qt.Key.Key_T)
    assert "Pinned" not in window.predictions.header.text()
    start = len(seen)
    qtbot.waitUntil(lambda: shown_tops(start) == {top_a, top_b}, timeout=10_000)
    assert all(selected == top == row for top, selected, row, _ in seen[start:]), seen

    # Freeze + save: the saved map is the frozen frame's top class.
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    frozen = window.prediction
    assert window.selected_class == frozen.topk[0].index
    path = tmp_path / "frozen.npy"
    window.save_map(path)
    qtbot.waitUntil(path.exists, timeout=5000)
    np.testing.assert_array_equal(np.load(path), np.asarray(frozen.cams[frozen.topk[0].index]))
    window.stop_live()


def test_a_frozen_video_frame_is_named_after_the_video_and_the_frame(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """In the clipboard and in the names offered for saving: "clip.avi#frame-12" and
    "clip_frame-12.top1-3.gradcam.layer4.png", not "<array>" and "_array_.top1-3…"."""
    from PySide6.QtWidgets import QApplication, QFileDialog

    offered: list[str] = []
    def ask(_parent: Any, _title: str, start: str, _filter: str) -> tuple[str, str]:
        offered.append(start)
        return "", ""  # the user cancels

    monkeypatch.setattr(QFileDialog, "getSaveFileName", ask)
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.start_video(make_test_video(tmp_path / "clip.avi", 30, size=(160, 120)))
    wait_for_prediction(qtbot, window)
    qtbot.keyClick(window.view, Qt.Key.Key_Space)
    assert window.actions_.freeze.isChecked()
    qtbot.keyClick(window.view, Qt.Key.Key_BracketLeft)  # re-classified as a still: same name
    qtbot.waitUntil(lambda: window.predictions.list.count() == 4, timeout=5000)
    qtbot.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    source = QApplication.clipboard().text().splitlines()[0].split("\t")[0]
    assert re.fullmatch(r"clip\.avi#frame-\d+", source), source
    frame = source.rsplit("-", 1)[1]
    qtbot.keyClick(window.view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(window.view, Qt.Key.Key_S,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    names = [Path(p).name for p in offered]
    index = window.selected_class
    stem = f"clip_frame-{frame}.top1-{index}.gradcam.layer4"
    assert names == [f"{stem}.png", f"{stem}.npy"]
    window.stop_live()


def test_mirror_is_for_cameras_and_a_video_plays_as_recorded(qtbot: Any,
                                                              tmp_path: Path) -> None:
    """Mirror is on (the default) yet a video plays unmirrored: the checkbox and M are
    greyed out for it, and pressing M changes neither the setting nor the picture."""
    window = make_window(qtbot, tmp_path, FakeEngine())
    panel = window.camera_panel
    assert panel.mirror_box.isChecked() and panel.mirror_box.isEnabled()
    results = _live_results(window)
    window.start_video(make_test_video(tmp_path / "clip.avi", 30, size=(160, 120)))
    qtbot.waitUntil(lambda: len(results) >= 2, timeout=10_000)
    assert not panel.mirror_box.isEnabled() and not window.actions_.mirror.isEnabled()
    for _ in range(2):
        qtbot.keyClick(window.view, Qt.Key.Key_M)
    assert panel.mirror_box.isChecked()  # the camera's setting is kept for cameras
    count = len(results)
    qtbot.waitUntil(lambda: len(results) >= count + 3, timeout=10_000)
    band = list(results)[-1].request.image[-5]  # the colour band: red left, blue right
    assert band[5][0] > 200 and band[5][2] < 60, band[5]
    window.stop_live()
    assert panel.mirror_box.isEnabled() and window.actions_.mirror.isEnabled()
    # A camera can be mirrored.
    window.start_live_source(fake_camera_source())
    qtbot.waitUntil(lambda: window.live_source is not None and window.prediction is not None,
                    timeout=10_000)
    assert panel.mirror_box.isEnabled()
    qtbot.keyClick(window.view, Qt.Key.Key_M)
    assert not panel.mirror_box.isChecked() and not window.live_source._source.mirror
    window.stop_live()
