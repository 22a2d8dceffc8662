"""The CAM method picker: the request carries the method, the settings keep it, the legend
and the offered file names name it, and live frames run only methods that keep up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QWidget
from support.ui_helpers import (
    FakeEngine,
    fake_camera_source,
    make_window,
    temp_settings,
    wait_for_prediction,
    write_image,
)

from desktop_app.inference.catalog import CAM_METHODS
from desktop_app.ui.state.cam_choice import METHOD_TITLES, live_capable, live_method


def _pick_with_keys(qtbot: Any, window: Any, method: str) -> None:
    """Choose ``method`` as a keyboard user does: focus the picker, arrow keys."""
    combo = window.model_controls.method_combo
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(CAM_METHODS.index(method)):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == method


def test_the_chosen_method_is_requested_shown_saved_and_named(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    offered: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda _p, _t, start, _f: (offered.append(start), ("", ""))[1])
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    assert wait_for_prediction(qtbot, window).cam_method == "gradcam"
    assert "Grad-CAM · layer4" in window.overlay.legend.lines[1]

    _pick_with_keys(qtbot, window, "gradcam++")
    qtbot.waitUntil(lambda: window.prediction is not None
                    and window.prediction.cam_method == "gradcam++", timeout=5000)
    assert engine.classifier.calls[-1]["cam"] == "gradcam++"
    legend = window.overlay.legend
    assert legend.isVisible()
    index = window.selected_class
    assert legend.lines == (f"class {index} (class {index})", "Grad-CAM++ · layer4")
    assert window.settings.cam_method == "gradcam++"

    qtbot.keyClick(window.view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert Path(offered[-1]).name == f"photo.top1-{index}.gradcam++.layer4.png"

    qtbot.keyClick(window.view, Qt.Key.Key_O)  # overlay off: its legend goes with it
    assert not legend.isVisible()


def test_the_method_is_back_after_a_relaunch(qtbot: Any, tmp_path: Path) -> None:
    settings = temp_settings(tmp_path)
    settings.cam_method = "layercam"
    settings.sync()
    window = make_window(qtbot, tmp_path, FakeEngine())
    assert window.model_controls.current_cam_method() == "layercam"
    window.open_paths([write_image(tmp_path / "a.png", (10, 200, 30))])
    assert wait_for_prediction(qtbot, window).cam_method == "layercam"


def test_live_frames_refuse_score_cam_say_why_and_a_freeze_runs_it(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)
    assert window.model_controls.method_combo.itemText(
        CAM_METHODS.index("scorecam")) == "Score-CAM (stills)"
    window.start_live_source(fake_camera_source())
    wait_for_prediction(qtbot, window)
    _pick_with_keys(qtbot, window, "scorecam")
    assert any("too slow for live frames" in t for t in window.messages.texts())
    sent = len(engine.classifier.calls)
    qtbot.waitUntil(lambda: len(engine.classifier.calls) > sent + 2, timeout=5000)
    assert {c["cam"] for c in engine.classifier.calls[sent:]} == {"gradcam"}
    assert window.prediction is not None and window.prediction.cam_method == "gradcam"

    qtbot.keyClick(window.view, Qt.Key.Key_Space)  # freeze: the frame gets Score-CAM
    qtbot.waitUntil(lambda: window.prediction is not None
                    and window.prediction.cam_method == "scorecam", timeout=5000)
    assert "Score-CAM" in window.overlay.legend.lines[1]
    window.stop_live()


@pytest.mark.parametrize(("method", "layer", "live"), [
    ("gradcam++", "layer3", True),  # one backward, as Grad-CAM's own there
    ("eigencam", "layer2", True),
    ("ablationcam", "layer4", True),  # closed form at the head
    ("ablationcam", "layer3", False),  # one forward per channel
    ("scorecam", "layer4", False),
])
def test_live_capable_methods(method: str, layer: str, live: bool) -> None:
    assert live_capable(method, layer) is live
    assert live_method(method, layer) == (method if live else "gradcam")


def test_every_method_of_the_engine_has_a_title_in_its_order() -> None:
    assert tuple(METHOD_TITLES) == CAM_METHODS


def test_a_newer_image_stops_a_score_cam_in_progress(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (200, 30, 30)),
                       write_image(tmp_path / "b.png", (30, 30, 200))])
    wait_for_prediction(qtbot, window)
    engine.classifier.scorecam_delay = 10.0
    _pick_with_keys(qtbot, window, "scorecam")
    qtbot.waitUntil(lambda: engine.classifier.calls[-1]["cam"] == "scorecam", timeout=5000)
    window.step(1)  # the worker drops the 10 s Score-CAM of a.png for b.png at once
    engine.classifier.scorecam_delay = 0.0
    prediction = wait_for_prediction(qtbot, window, timeout=3000,
                                     source=str(tmp_path / "b.png"))
    assert prediction.cam_method == "scorecam"


def test_a_slow_method_says_its_map_is_being_computed_until_it_arrives(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    header = window.predictions.header
    assert "Computing" not in header.text()
    engine.classifier.scorecam_delay = 1.0
    _pick_with_keys(qtbot, window, "scorecam")
    # The Grad-CAM map stays meanwhile; the header says it is not the answer yet.
    assert header.text().endswith("\nComputing the Score-CAM map…")
    assert window.prediction.cam_method == "gradcam"
    qtbot.waitUntil(lambda: window.prediction.cam_method == "scorecam", timeout=5000)
    assert "Computing" not in header.text()


def _slow_score_cam(qtbot: Any, window: Any, engine: FakeEngine) -> Any:
    """Score-CAM chosen on the still on screen, with its count under way."""
    engine.classifier.scorecam_delay = 10.0  # 20 "forwards" of half a second
    _pick_with_keys(qtbot, window, "scorecam")
    row = window.predictions.map_progress
    qtbot.waitUntil(lambda: row.isVisible() and row.count[0] >= 1, timeout=5000)
    return row


def test_a_slow_map_counts_its_channels_and_cancel_shows_the_prediction_without_it(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    first = wait_for_prediction(qtbot, window)
    row = window.predictions.map_progress
    assert not row.isVisible()
    row = _slow_score_cam(qtbot, window, engine)
    done, total = row.count
    assert total == 20 and row.bar.text() == f"{done}/20 channels"
    assert window.actions_.cancel_job.isEnabled()
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    assert not row.isVisible()
    # The worker stops between batches: free long before the 10 s the map would take.
    qtbot.waitUntil(lambda: not window.client.busy, timeout=1500)
    qtbot.waitUntil(lambda: window.prediction is not first, timeout=1000)
    shown = window.prediction
    assert shown.cams is None and [s.index for s in shown.topk] == [s.index for s in first.topk]
    assert not window.overlay.legend.isVisible()
    assert window.predictions.header.text().endswith(
        "\nScore-CAM map cancelled: the prediction is shown without a map.")
    assert "Score-CAM map cancelled" in window.messages.texts()[-1]
    assert not window.actions_.cancel_job.isEnabled()


def test_classify_all_stops_a_slow_map_instead_of_waiting_behind_it(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (200, 30, 30)),
                       write_image(tmp_path / "b.png", (30, 30, 200))])
    wait_for_prediction(qtbot, window)
    row = _slow_score_cam(qtbot, window, engine)
    engine.classifier.scorecam_delay = 0.0  # the run's own maps: quick
    counted: list[int] = []  # the slow map's channels, as the worker counts them
    window.client.worker.count_progress.connect(lambda p: counted.append(p.done))
    qtbot.keyClick(window.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert not row.isVisible()
    assert "Score-CAM map cancelled" in window.messages.texts()[-1]
    # The first run imports torch's side of the pipeline: seconds on a loaded machine.
    qtbot.waitUntil(lambda: len(window.folder_results) == 2, timeout=30_000)
    # The map stopped between two channels; it did not run its 20 before the folder.
    assert max(counted, default=0) < 20, counted


class _SlowScoreCamEngine(FakeEngine):
    """Its models take 10 s for a Score-CAM from the start (the method a relaunch keeps)."""

    def load(self, request: Any, progress: Any, cancel: Any) -> Any:
        classifier = super().load(request, progress, cancel)
        classifier.scorecam_delay = 10.0
        return classifier


def test_a_slow_map_counting_at_launch_no_longer_says_it_waits_for_the_model(
        qtbot: Any, tmp_path: Path) -> None:
    settings = temp_settings(tmp_path)
    settings.cam_method = "scorecam"
    settings.sync()
    window = make_window(qtbot, tmp_path, _SlowScoreCamEngine(load_delay=0.3), start=False)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    window.start()
    row = window.predictions.map_progress
    qtbot.waitUntil(lambda: row.isVisible() and row.count[0] >= 1, timeout=5000)
    # The count shows the model at work: the header says what it computes, not that it waits.
    assert window.predictions.header.text() == "Computing the Score-CAM map…"
    qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.prediction is not None, timeout=3000)
    assert "Score-CAM map cancelled" in window.predictions.header.text()


def test_in_a_640_by_480_window_the_slow_maps_count_and_cancel_scroll_into_view(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    window.resize(640, 480)  # the side panel scrolls; its top is in view
    qtbot.waitUntil(lambda: window.width() == 640 and window.height() == 480, timeout=3000)
    row = _slow_score_cam(qtbot, window, engine)
    viewport = window.predictions.parentWidget().parentWidget()
    cancel = row.cancel_button
    qtbot.waitUntil(lambda: viewport.rect().contains(
        cancel.mapTo(viewport, cancel.rect().bottomRight())), timeout=2000)
    assert viewport.rect().contains(cancel.mapTo(viewport, cancel.rect().topLeft()))
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    assert not row.isVisible()


@pytest.mark.parametrize("focus", ["view", "list"])
def test_escape_cancels_a_slow_map_with_the_focus_where_the_user_left_it(
        qtbot: Any, tmp_path: Path, focus: str) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    row = _slow_score_cam(qtbot, window, engine)
    if focus == "list":
        listing = window.predictions.list
        rect = listing.visualItemRect(listing.item(0))
        qtbot.mouseClick(listing.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    else:
        qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Escape)
    assert not row.isVisible()
    qtbot.waitUntil(lambda: not window.client.busy, timeout=1500)
    qtbot.waitUntil(lambda: window.prediction is not None and window.prediction.cams is None,
                    timeout=1000)
    assert "Score-CAM map cancelled" in window.predictions.header.text()


def test_another_method_supersedes_a_slow_map_and_its_count(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    row = _slow_score_cam(qtbot, window, engine)
    combo = window.model_controls.method_combo
    for _ in range(CAM_METHODS.index("scorecam") - CAM_METHODS.index("eigencam")):
        qtbot.keyClick(combo, Qt.Key.Key_Up)  # the newest request wins
    assert combo.currentData() == "eigencam"
    assert not row.isVisible() and not window.actions_.cancel_job.isEnabled()
    qtbot.waitUntil(lambda: window.prediction.cam_method == "eigencam", timeout=1500)
    assert "cancelled" not in window.predictions.header.text()


def test_escape_in_a_dialog_stays_the_dialogs_while_a_slow_map_runs(
        qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtWidgets import QApplication, QDialog

    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    row = _slow_score_cam(qtbot, window, engine)
    dialog = QDialog(window)
    closed: list[int] = []
    dialog.finished.connect(closed.append)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=2000)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert closed == [QDialog.DialogCode.Rejected]
    assert row.isVisible() and window.actions_.cancel_job.isEnabled()  # the map goes on
    window.cancel_jobs()


@pytest.mark.slow
def test_the_real_engine_counts_slow_maps_and_esc_stops_score_cam(
        qtbot: Any, tmp_path: Path, resnet18_weights: Path) -> None:
    from desktop_app.ui.controllers.worker import TorchEngine

    window = make_window(qtbot, tmp_path, lambda: TorchEngine(num_threads=1),
                         weights=str(resnet18_weights))
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30), (160, 120))])
    wait_for_prediction(qtbot, window, timeout=60_000)
    counts: list[tuple[int, int]] = []
    window.client.worker.count_progress.connect(lambda p: counts.append((p.done, p.total)))
    _pick_with_keys(qtbot, window, "scorecam")  # layer4: 512 channels, a minute or more here
    row = window.predictions.map_progress
    qtbot.waitUntil(lambda: row.isVisible() and row.count[0] >= 1, timeout=60_000)
    done, total = row.count
    assert 1 <= done < total <= 512 + 1  # active channels, and the blank image once
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    # Stopped between two batches in the worker, not after the other channels.
    qtbot.waitUntil(lambda: not window.client.busy, timeout=30_000)
    assert counts[-1][0] < total
    qtbot.waitUntil(lambda: window.prediction is not None and window.prediction.cams is None,
                    timeout=30_000)
    assert "Score-CAM map cancelled" in window.predictions.header.text()

    # Ablation-CAM at layer3 (256 channels) counts as well, to the end, and its map arrives.
    qtbot.keyClick(window.model_controls.method_combo, Qt.Key.Key_Up)
    assert window.model_controls.method_combo.currentData() == "ablationcam"
    layers = window.model_controls.layer_combo
    layers.setFocus()
    qtbot.keyClick(layers, Qt.Key.Key_Up)
    assert layers.currentText() == "layer3"
    qtbot.waitUntil(lambda: window.prediction.cam_layer == "layer3", timeout=60_000)
    assert window.prediction.cam_method == "ablationcam" and window.prediction.cams is not None
    assert counts[-1] == (256, 256) and not row.isVisible()
    assert "cancelled" not in window.predictions.header.text()


def _frozen_with_score_cam(qtbot: Any, tmp_path: Path) -> tuple[Any, Any]:
    """A live source frozen with Score-CAM chosen: the window and its map's progress row,
    with the count under way."""
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)
    window.start_live_source(fake_camera_source())
    wait_for_prediction(qtbot, window)
    engine.classifier.scorecam_delay = 10.0
    _pick_with_keys(qtbot, window, "scorecam")  # live frames keep Grad-CAM
    qtbot.keyClick(window.view, Qt.Key.Key_Space)  # frozen: the frame gets Score-CAM
    row = window.predictions.map_progress
    qtbot.waitUntil(lambda: row.isVisible() and row.count[0] >= 1, timeout=5000)
    return window, row


def test_on_a_frozen_frame_esc_cancels_the_slow_map_first_then_stops_the_camera(
        qtbot: Any, tmp_path: Path) -> None:
    window, row = _frozen_with_score_cam(qtbot, tmp_path)
    assert not window.actions_.stop_live.isEnabled()  # Esc is the map's now
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not row.isVisible() and window.live_source is not None
    qtbot.waitUntil(lambda: window.prediction is not None and window.prediction.cams is None,
                    timeout=1500)
    assert window.actions_.stop_live.isEnabled()
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.live_source is None, timeout=2000)


def test_resuming_live_frames_drops_the_frozen_frames_slow_map(
        qtbot: Any, tmp_path: Path) -> None:
    window, row = _frozen_with_score_cam(qtbot, tmp_path)
    qtbot.keyClick(window.view, Qt.Key.Key_Space)  # live again: frames replace the map
    assert not row.isVisible() and not window.actions_.cancel_job.isEnabled()
    window.stop_live()


@pytest.mark.parametrize("how", ["F5", "button"])
def test_a_cancelled_slow_map_is_offered_again_and_computed_at_one_keystroke_or_click(
        qtbot: Any, tmp_path: Path, how: str) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    button = window.predictions.compute_map_button
    compute = window.actions_.compute_map
    assert not button.isVisible() and not compute.isEnabled()
    row = _slow_score_cam(qtbot, window, engine)
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Escape)
    # Where the count and its Cancel were: the way to have the map after all.
    assert button.isVisible() and button.text() == "Compute the Score-CAM map (F5)"
    qtbot.waitUntil(lambda: window.prediction.cams is None, timeout=3000)
    header = window.predictions.header
    assert "Score-CAM map cancelled" in header.text()
    assert button.isVisible() and compute.isEnabled()  # also once the map-less one is shown
    assert "Compute the cancelled map" in [a.text().replace("&", "")
                                           for a in window.menuBar().actions()[2].menu().actions()]

    engine.classifier.scorecam_delay = 1.0
    if how == "F5":
        qtbot.keyClick(window.focusWidget(), Qt.Key.Key_F5)
    else:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert not button.isVisible() and not compute.isEnabled()
    assert header.text().endswith("\nComputing the Score-CAM map…")
    qtbot.waitUntil(lambda: row.isVisible() and row.count[0] >= 1, timeout=5000)
    qtbot.waitUntil(lambda: window.prediction.cams is not None, timeout=5000)
    assert window.prediction.cam_method == "scorecam" and window.overlay.legend.isVisible()
    assert "cancelled" not in header.text() and not button.isVisible()


def test_another_image_withdraws_the_cancelled_maps_offer(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (200, 30, 30)),
                       write_image(tmp_path / "b.png", (30, 30, 200))])
    wait_for_prediction(qtbot, window)
    _slow_score_cam(qtbot, window, engine)
    qtbot.mouseClick(window.predictions.map_progress.cancel_button, Qt.MouseButton.LeftButton)
    button = window.predictions.compute_map_button
    assert button.isVisible()
    engine.classifier.scorecam_delay = 0.0
    qtbot.keyClick(window.view, Qt.Key.Key_PageDown)  # b.png: its own Score-CAM, asked anew
    qtbot.waitUntil(lambda: not button.isVisible(), timeout=3000)  # once b.png is decoded
    assert not window.actions_.compute_map.isEnabled()
    prediction = wait_for_prediction(qtbot, window, source=str(tmp_path / "b.png"))
    assert prediction.cam_method == "scorecam" and prediction.cams is not None
    assert not button.isVisible()


def test_in_a_640_by_480_window_the_compute_map_button_scrolls_into_view(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640 and window.height() == 480, timeout=3000)
    row = _slow_score_cam(qtbot, window, engine)
    viewport = window.predictions.parentWidget().parentWidget()
    viewport.parentWidget().verticalScrollBar().setValue(0)  # the user scrolled back up
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton)
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Escape)
    assert not row.isVisible()
    button = window.predictions.compute_map_button
    qtbot.waitUntil(lambda: viewport.rect().contains(
        button.mapTo(viewport, button.rect().bottomRight())), timeout=2000)
    assert viewport.rect().contains(button.mapTo(viewport, button.rect().topLeft()))
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: row.isVisible(), timeout=3000)


def _legend_on_screen(window: Any) -> bool:
    """The legend's box lies whole within the picture's area the user sees."""
    legend = window.overlay.legend
    view = window.view
    corner = legend.mapTo(view, legend.rect().topLeft())
    box = legend.rect().translated(corner)
    return legend.isVisible() and view.viewport().geometry().contains(box)


def test_the_legend_stays_in_the_corner_when_the_window_shrinks_or_the_picture_pans(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: at 640x480 with the Teach pane open the legend had gone,
    # carried off the top of the picture by the view scrolling its contents.
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.resize(1400, 900)
    window.open_paths([write_image(tmp_path / "tall.png", (200, 30, 30), size=(300, 600))])
    wait_for_prediction(qtbot, window)
    qtbot.waitUntil(lambda: _legend_on_screen(window), timeout=5000)

    window.resize(640, 480)
    qtbot.keyClick(window.view, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.view.height() < 300, timeout=5000)
    assert _legend_on_screen(window)

    window.view.setFocus()
    for _ in range(4):  # zoomed in, the picture scrolls under the corner: the legend stays
        qtbot.keyClick(window.view, Qt.Key.Key_Plus)
    window.view.verticalScrollBar().setValue(window.view.verticalScrollBar().maximum())
    assert _legend_on_screen(window)


def test_at_640_px_a_message_is_read_in_full_beside_a_checkpoints_long_name(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window with a checkpoint at 640x480: Esc on a Score-CAM map
    # said only "Score-CAM map ca", the model's full name taking the rest of the bar. The
    # name gives way as the timings do (the predictions' header also gives it).
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    status, bar = window.status, window.statusBar()
    long_name = "Model: ResNet(BasicBlock, [1, 1, 1, 1]) (shapes_resnet.pth)"
    status.set_model(long_name, "Device: cpu, onednn")  # as a loaded checkpoint is named
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=3000)
    engine.classifier.scorecam_delay = 10.0
    _pick_with_keys(qtbot, window, "scorecam")
    progress = window.predictions.map_progress
    qtbot.waitUntil(lambda: progress.count[0] > 0, timeout=5000)
    qtbot.keyClick(window.model_controls.method_combo, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: bar.currentMessage().startswith("Score-CAM map cancelled"),
                    timeout=5000)
    text = bar.currentMessage()
    qtbot.wait(50)  # the status bar lays out
    permanent = [w for w in (status.latency_label, status.fps_label, status.model_label,
                             status.device_label) if w.isVisible()]
    room = min(w.geometry().left() for w in permanent)
    assert bar.fontMetrics().horizontalAdvance(text) < room
    bar.clearMessage()  # the name is back once the message is gone
    assert status.model_label.isVisible() and status.model_label.toolTip() == long_name


def test_a_score_cam_map_cancelled_while_the_model_loads_stays_cancelled(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: launched with Score-CAM chosen, Esc before the model was
    # ready said "Score-CAM map cancelled", yet the map was computed all the same (the first
    # model's layer list named the default layer the request had left unnamed, and that
    # "new" layer asked for the map again).
    settings = temp_settings(tmp_path)
    settings.cam_method = "scorecam"
    settings.sync()
    engine = FakeEngine(load_delay=1.0)
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    qtbot.waitUntil(lambda: window.stills.running, timeout=5000)
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    assert not window.stills.running
    prediction = wait_for_prediction(qtbot, window)
    assert prediction.cams is None
    qtbot.waitUntil(lambda: not window.client.busy, timeout=5000)
    assert [call["cam"] for call in engine.classifier.calls] == [None]
    assert not window.stills.running and window.stills.map_offered
    assert window.predictions.compute_map_button.isVisible()


def _picture_on_screen(window: Any) -> QRect:
    """Where the picture lies in the view, in the view's coordinates (the legend's)."""
    view = window.view
    return view.mapFromScene(view.sceneRect()).boundingRect().translated(view.viewport().pos())


def _narrow_picture_at_640_by_480(qtbot: Any, tmp_path: Path) -> Any:
    """A window of 640 x 480 showing a tall, narrow picture with its map's legend."""
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=3000)
    window.open_paths([write_image(tmp_path / "narrow.png", (200, 30, 30), size=(100, 400))])
    wait_for_prediction(qtbot, window)
    qtbot.waitUntil(lambda: _legend_on_screen(window), timeout=5000)
    return window


def test_in_a_small_window_the_legend_goes_beside_a_picture_that_leaves_room(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window at 640x480: the legend stood in the view's top-left corner
    # over a narrow picture, the margin beside it left empty.
    window = _narrow_picture_at_640_by_480(qtbot, tmp_path)
    legend = window.overlay.legend
    picture = _picture_on_screen(window)
    # Fitted: a margin either side narrower than the full legend (~170 px with its gap).
    assert 120 < picture.left() < 165
    assert not legend.geometry().intersects(picture)  # smaller, beside the picture
    assert legend.compact and legend.lines[1] == "Grad-CAM · layer4"

    window.view.setFocus()
    for _ in range(2):  # a smaller picture: room above it for the full legend
        qtbot.keyClick(window.view, Qt.Key.Key_Minus)
    qtbot.waitUntil(lambda: not legend.compact, timeout=3000)
    assert not legend.geometry().intersects(_picture_on_screen(window))
    assert _legend_on_screen(window)

    for _ in range(10):  # the picture fills the view: the legend stays, over its corner
        qtbot.keyClick(window.view, Qt.Key.Key_Plus)
    assert _picture_on_screen(window).contains(legend.geometry())
    assert _legend_on_screen(window)
    assert legend.compact  # hiding less of a small view


def test_at_640_by_480_the_legend_narrows_into_a_margin_too_narrow_for_the_compact_one(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window at 640x480: beside a picture leaving margins under ~116 px
    # the compact legend (108 px at least, 142 with a long class name) overlapped the
    # picture's edge, though narrowed a little it fits beside it.
    window = _narrow_picture_at_640_by_480(qtbot, tmp_path)
    legend = window.overlay.legend
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Plus)  # a wider picture: narrower margins
    qtbot.keyClick(window.view, Qt.Key.Key_Plus)

    def beside() -> None:
        picture = _picture_on_screen(window)
        assert 76 < picture.left() < 116  # too narrow for the compact legend, 108 px + gap
        assert not legend.geometry().intersects(picture)

    qtbot.waitUntil(beside, timeout=3000)
    assert legend.compact and _legend_on_screen(window)
    assert legend.width() + 8 <= _picture_on_screen(window).left()
    assert legend.lines[1] == "Grad-CAM · layer4"


def test_the_legend_shrinks_into_a_margin_too_narrow_for_it_whole(qtbot: Any) -> None:
    from desktop_app.core.colormaps import lut
    from desktop_app.ui.widgets.map_legend import MapLegend

    view = QWidget()
    qtbot.addWidget(view)
    view.resize(380, 338)
    legend = MapLegend(view)
    legend.set_legend(lut("jet"), "tabby (class 281)", "Grad-CAM · layer4")
    room = QRect(0, 0, 380, 338)
    legend.place(room, QRect(130, 0, 120, 338))  # a tall picture, 130 px either side
    assert legend.compact and legend.width() + 8 <= 130
    assert not legend.geometry().intersects(QRect(130, 0, 120, 338))
    legend.place(room, QRect(0, 0, 380, 250))  # a wide one, room under it
    assert not legend.compact and legend.geometry().top() >= 250
    legend.place(room, room)  # filling the view: over its top-left corner, small there
    assert legend.compact and legend.geometry().topLeft() == QPoint(8, 8)
