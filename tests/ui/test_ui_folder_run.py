"""Classify all: one folder request through the command line's pipeline, results streamed
into the window's list, broken files reported in place, a cancel that keeps what is done,
and *Classify all and write overlays…* writing what ``resnet-lens predict --out --cam-dir
--resume`` writes."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox
from support.ui_helpers import FakeEngine, make_window, wait_for_prediction, write_image

from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.state.requests import (
    RESULTS_FILE,
    FolderRunRequest,
    ModelRequest,
    next_request_id,
)
from desktop_app.ui.widgets.folder_output_dialog import FolderOutputDialog
from desktop_app.ui.widgets.theme import contrast_ratio, dark_palette, error_text_colour

CTRL = Qt.KeyboardModifier.ControlModifier
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def _mixed_folder(tmp_path: Path, good: int = 6, size: tuple[int, int] = (320, 240)) -> Path:
    """Good images with broken files between them (sorted by name: b_ sits among the a_,
    c_ files), as a user's folder has them."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(good):
        write_image(folder / f"{'a' if i < good // 2 else 'c'}_{i:02d}.png",
                    (37 * i % 256, 90, 20), size=size)
    (folder / "b_truncated.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    (folder / "b_empty.png").write_bytes(b"")
    return folder


def _open(qtbot: Any, window: MainWindow, folder: Path, count: int) -> None:
    window.open_paths([folder])
    qtbot.waitUntil(lambda: window.filmstrip.count() == count, timeout=5000)
    wait_for_prediction(qtbot, window)


def test_classify_all_streams_every_file_in_order_and_a_broken_one_shows_its_error(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.02)
    window = make_window(qtbot, tmp_path, engine)
    folder = _mixed_folder(tmp_path)
    _open(qtbot, window, folder, 8)
    seen: list[int] = []  # the list's length each time a file arrives
    window.exports.folder_item.connect(lambda *_: seen.append(len(window.folder_results)))
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
    assert window.exports.running
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)

    assert seen == list(range(1, 9))  # one at a time, as they came: streamed, not at the end
    results = window.folder_results
    assert [r.source for r in results] == [str(p) for p in window.images.paths()]
    broken = {Path(r.source).name: r.error for r in results if r.prediction is None}
    assert sorted(broken) == ["b_empty.png", "b_truncated.jpg"]
    for name, error in broken.items():
        assert error is not None and error.startswith(f"{folder / name}:")
        assert "\n" not in error
        row = [Path(p).name for p in window.images.paths()].index(name)
        assert window.filmstrip.item(row).toolTip() == error
    good = [r for r in results if r.prediction is not None]
    assert len(good) == 6 and all(len(r.prediction.topk) == 5 for r in good)
    # The list shows each result where its file sits.
    row = [str(p) for p in window.images.paths()].index(good[0].source)
    top = good[0].prediction.topk[0]
    assert window.filmstrip.item(row).toolTip().endswith(f"{top.label} {top.probability:.1%}")
    assert window.messages.texts()[-1].startswith(
        "Classified 6 of 8 images (2 could not be read).")
    # Each readable file classified once, without maps (nothing to write them to).
    assert len([c for c in engine.classifier.calls if c["cam"] is None]) == 6


def test_cancel_half_way_keeps_what_arrived_and_the_still_keeps_being_served(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.05)
    window = make_window(qtbot, tmp_path, engine)
    folder = tmp_path / "many"
    folder.mkdir()
    images = [write_image(folder / f"img{i:02d}.png", (8 * i, 60, 90)) for i in range(32)]
    _open(qtbot, window, folder, 32)
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
    qtbot.waitUntil(lambda: len(window.folder_results) >= 8, timeout=30_000)
    # The image on screen is served between the run's batches.
    qtbot.keyClick(window.view, Qt.Key.Key_PageDown)
    wait_for_prediction(qtbot, window, source=str(images[1]), timeout=3000)
    assert window.exports.running
    qtbot.mouseClick(window.status.run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=5000)
    kept = [r.source for r in window.folder_results]
    assert 8 <= len(kept) < 32  # stopped between batches (one image each on a CPU)
    assert kept == [str(p) for p in images[:len(kept)]]  # the first ones, in order
    assert window.messages.texts()[-1].endswith("stopped: cancelled. File > Export "
                                                "results saves them.")
    qtbot.waitUntil(lambda: not window.client.busy, timeout=5000)
    assert [r.source for r in window.folder_results] == kept
    assert not window.status.run.bar.isVisible()
    assert window.actions_.classify_folder.isEnabled()


def _write_with_dialog(qtbot: Any, window: MainWindow, out: Path, *, full_size: bool = False,
                       topk: bool = False) -> str:
    """Ctrl+Shift+R, then fill the dialog as a user does: the folder typed, options ticked,
    the OK button clicked. Returns the folder the dialog offered."""
    filled: list[str] = []

    def fill() -> None:
        dialog = next((w for w in QApplication.topLevelWidgets()
                       if isinstance(w, FolderOutputDialog) and w.isVisible()), None)
        if dialog is None:  # not open yet
            QTimer.singleShot(50, fill)
            return
        filled.append(dialog.folder_edit.text())
        dialog.folder_edit.selectAll()
        qtbot.keyClicks(dialog.folder_edit, str(out))
        if full_size:
            qtbot.mouseClick(dialog.full_size_box, Qt.MouseButton.LeftButton)
        if topk:
            dialog.classes_box.setCurrentIndex(1)
        ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    # Without a window manager a closed dialog hands the focus back to nobody.
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.view.setFocus()
    QTimer.singleShot(200, fill)
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL_SHIFT)
    assert filled
    return filled[0]


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / RESULTS_FILE).read_text().splitlines()]


def test_classify_all_and_write_writes_results_and_capped_overlays_then_resumes(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path, FakeEngine())
    folder = _mixed_folder(tmp_path, good=4, size=(1600, 1200))
    _open(qtbot, window, folder, 6)
    out = tmp_path / "out"
    offered = _write_with_dialog(qtbot, window, out)
    # Beside the photos, not among them: opening the folder again must not list overlays.
    assert offered == str(tmp_path / "photos-resnet-lens")
    qtbot.waitUntil(lambda: not window.exports.running, timeout=20_000)

    records = _records(out)
    assert [r["file"] for r in records] == [
        str(p) for p in window.images.paths() if not p.name.startswith("b_")]
    for record in records:
        assert record["cam_methods"] == ["gradcam"] and len(record["maps"]) == 1  # top-1
        overlay = Path(record["maps"][0]["path"])
        assert overlay.parent == out and overlay.suffix == ".jpg"
        assert record["maps"][0]["class"] == record["topk"][0]["index"]
        assert Image.open(overlay).size == (1024, 768)  # capped as the CLI caps them
    message = window.messages.texts()[-1]
    assert f"Results: {out / RESULTS_FILE}" in message and "(4 written by this run)" in message
    # The window's numbers are the file's.
    for entry, record in zip([r for r in window.folder_results if r.prediction], records,
                             strict=True):
        assert [s.index for s in entry.prediction.topk] == [s["index"] for s in record["topk"]]

    # Again into the same folder: everything is done already.
    before = (out / RESULTS_FILE).read_bytes()
    _write_with_dialog(qtbot, window, out)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=20_000)
    assert (out / RESULTS_FILE).read_bytes()[:len(before)] == before
    assert len(_records(out)) == 4 + 0  # only the broken ones were tried again, and failed
    assert "4 already done in the output folder were skipped" in window.messages.texts()[-1]
    done_row = [p.name for p in window.images.paths()].index("a_00.png")
    assert window.filmstrip.item(done_row).toolTip().endswith("already done in the output "
                                                              "folder")


def test_a_cancelled_write_resumes_where_it_stopped(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.05)
    window = make_window(qtbot, tmp_path, engine)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(24):
        write_image(folder / f"img{i:02d}.png", (10 * i, 60, 90))
    _open(qtbot, window, folder, 24)
    out = tmp_path / "out"
    _write_with_dialog(qtbot, window, out, full_size=True)
    qtbot.waitUntil(lambda: len(window.folder_results) >= 3, timeout=30_000)
    qtbot.mouseClick(window.status.run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.client.busy, timeout=30_000)
    first = _records(out)
    assert 3 <= len(first) < 24  # whole lines only: each image done is on record
    # The window lists what the folder holds (the surprise: it once said "0 classified"
    # while the cancelled run's last batch was being written).
    assert [r.source for r in window.folder_results] == [r["file"] for r in first]
    assert window.messages.texts()[-1].startswith(f"Classified {len(first)} of 24 images")
    assert Image.open(first[0]["maps"][0]["path"]).size == (320, 240)  # full size

    _write_with_dialog(qtbot, window, out, full_size=True)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=20_000)
    records = _records(out)
    assert sorted(r["file"] for r in records) == [str(p) for p in window.images.paths()]
    assert len(window.folder_results) == 24 - len(first)  # the rest, classified now
    assert len(list(out.glob("*.jpg"))) == 24


def test_the_dialog_refuses_a_file_as_the_output_folder(qtbot: Any, tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    dialog = FolderOutputDialog(None, str(a_file), "jet", 0.5)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and dialog.error_label.text() == f"{a_file}: a file, not a folder"
    dialog.folder_edit.clear()
    qtbot.keyClicks(dialog.folder_edit, str(tmp_path / "new"))
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    assert dialog.result() == FolderOutputDialog.DialogCode.Accepted
    assert dialog.output().folder == str(tmp_path / "new") and dialog.output().resume


def test_the_refusal_reads_as_an_error_in_light_and_dark(qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: the refusal was in the text colour right under the
    # description, so Return seemed to do nothing until one read the dialog again.
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    app = QApplication.instance()
    before = app.palette()
    try:
        for palette in (app.style().standardPalette(), dark_palette()):
            app.setPalette(palette)
            dialog = FolderOutputDialog(None, "", "jet", 0.5)
            qtbot.addWidget(dialog)
            dialog.show()
            qtbot.waitExposed(dialog)
            qtbot.keyClicks(dialog.folder_edit, str(a_file))
            qtbot.keyClick(dialog.folder_edit, Qt.Key.Key_Return)
            assert dialog.isVisible() and dialog.error_label.isVisible()
            shown = dialog.error_label.palette().color(QPalette.ColorRole.WindowText)
            assert shown == error_text_colour(palette)
            behind = dialog.palette().color(QPalette.ColorRole.Window)
            assert contrast_ratio(shown, behind) >= 4.5
            dialog.close()
    finally:
        app.setPalette(before)


def test_a_long_refused_path_wraps_instead_of_widening_the_dialog(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window at 640x480: the refusal of a long path was one line, and
    # the dialog grew wider than the screen, its buttons out of sight.
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    dialog = FolderOutputDialog(None, "", "jet", 0.5)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    width = dialog.width()
    long_path = a_file / "a-rather-long-folder-name-for-the-overlays" / "and-another-level-below"
    qtbot.keyClicks(dialog.folder_edit, str(long_path))
    qtbot.keyClick(dialog.folder_edit, Qt.Key.Key_Return)
    label = dialog.error_label
    qtbot.waitUntil(label.isVisible, timeout=3000)
    assert str(long_path) in label.text()
    assert label.fontMetrics().horizontalAdvance(label.text()) > width  # wider than the dialog
    dialog.layout().activate()  # as the event loop would: the dialog takes its new size
    assert dialog.width() == width
    assert label.height() >= label.heightForWidth(label.width())  # every line shown


def test_a_newer_folder_request_replaces_the_running_one(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.05)
    client = WorkerClient(engine)
    client.start()
    files = tuple(str(write_image(tmp_path / f"{i}.png", (i, 40, 80))) for i in range(40))
    got: dict[int, list[Any]] = {}

    def send(names: tuple[str, ...]) -> int:
        request = FolderRunRequest(next_request_id(), names, 3)
        got[request.id] = []
        client.submit(request, Reply(got[request.id].append, got[request.id].append,
                                     got[request.id].append))
        return request.id

    try:
        with qtbot.waitSignal(client.worker.model_ready, timeout=5000):
            client.submit(ModelRequest(next_request_id(), "resnet18"))
        first = send(files)
        qtbot.waitUntil(lambda: len(got[first]) >= 8, timeout=30_000)
        second = send(files[:3])
        qtbot.waitUntil(lambda: bool(got[second]) and hasattr(got[second][-1], "completed"),
                        timeout=30_000)
        ended = got[first][-1]
        assert not ended.completed and ended.stop_reason == "a newer run replaced it"
        assert 8 <= len(got[first]) - 1 < 40  # what it had done was reported
        assert got[second][-1].completed and len(got[second]) == 3 + 1
    finally:
        assert client.stop(timeout_ms=5000)


@pytest.mark.slow
def test_the_windows_numbers_are_the_command_lines(qtbot: Any, tmp_path: Path,
                                                    shapes_model: Any) -> None:
    """The trained shapes model, a folder with a broken file: Classify all gives what
    ``resnet-lens predict FOLDER --json`` and ``run_folder`` give, and the right shapes."""
    from support.processes import run_cli
    from support.shapes_model import make_heldout_set

    from desktop_app.core.sources import iter_inputs
    from desktop_app.inference import load_classifier
    from desktop_app.inference.pipeline import FolderRequest, run_folder
    from desktop_app.ui.controllers.worker import TorchEngine

    folder = tmp_path / "shapes"
    folder.mkdir()
    samples = make_heldout_set(6)
    for i, sample in enumerate(samples):
        sample.image.save(folder / f"shape{i}.png")
    (folder / "shape9_broken.jpg").write_bytes(b"\xff\xd8 broken")

    window = make_window(qtbot, tmp_path, TorchEngine, weights=str(shapes_model.weights),
                         labels=str(shapes_model.labels), device="cpu")
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=120_000)
    _open(qtbot, window, folder, 7)
    window.predictions.topk_spin.setValue(4)
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=120_000)
    shown = {r.source: r for r in window.folder_results}

    cli = run_cli("predict", str(folder), "--json", "--weights", str(shapes_model.weights),
                  "--labels", str(shapes_model.labels), "--device", "cpu", "--topk", "4")
    assert cli.returncode == 1, cli.stderr  # the broken file
    lines = [json.loads(line) for line in cli.stdout.splitlines()]
    clf = load_classifier(weights=shapes_model.weights, labels=shapes_model.labels,
                          device="cpu", backend="eager")
    direct: dict[str, Any] = {}
    run_folder(clf, iter_inputs([folder]), FolderRequest(topk=4),
               lambda o: direct.__setitem__(str(o.path), o))
    assert set(shown) == set(direct) == {line["file"] for line in lines}
    for line in lines:
        entry, outcome = shown[line["file"]], direct[line["file"]]
        if "error" in line:
            assert entry.prediction is None and outcome.error is not None
            continue
        window_probs = {s.index: s.probability for s in entry.prediction.topk}
        for expected in (line["topk"], [s.__dict__ for s in outcome.predictions[0].topk]):
            assert [s["index"] for s in expected] == list(window_probs)
            np.testing.assert_allclose([s["probability"] for s in expected],
                                       list(window_probs.values()), atol=1e-5)
    # A model that learned: most shapes named right.
    right = sum(shown[str(folder / f"shape{i}.png")].prediction.topk[0].index == s.label
                for i, s in enumerate(samples))
    assert right >= 5


def test_a_model_switch_stops_the_run_so_that_two_models_never_mix(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.05)
    window = make_window(qtbot, tmp_path, engine)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(40):
        write_image(folder / f"img{i:02d}.png", (6 * i, 60, 90))
    _open(qtbot, window, folder, 40)
    first_model = window.model_info.model
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
    qtbot.waitUntil(lambda: len(window.folder_results) >= 8, timeout=30_000)
    combo = window.model_controls.model_combo
    combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is combo, timeout=3000)
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)
    assert window.messages.texts()[-1].endswith(
        "stopped: the model changed. File > Export results saves them.")
    results = window.folder_results
    assert 8 <= len(results) < 40
    assert {r.prediction.model for r in results} == {first_model}
    qtbot.waitUntil(lambda: window.model_info.model != first_model, timeout=5000)


def test_live_frames_keep_coming_while_the_folder_is_classified(qtbot: Any,
                                                                tmp_path: Path) -> None:
    from support.ui_helpers import fake_camera_source

    engine = FakeEngine(predict_delay=0.05)
    window = make_window(qtbot, tmp_path, engine)
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(48):
        write_image(folder / f"img{i:02d}.png", (5 * i, 60, 90))
    _open(qtbot, window, folder, 48)
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
    shown: list[Any] = []
    window.prediction_shown.connect(shown.append)
    window.start_live_source(fake_camera_source())
    qtbot.waitUntil(lambda: len(shown) >= 3, timeout=30_000)
    assert window.exports.running  # frames came between the run's batches
    assert window.status.run.bar.value() < 48
    window.stop_live()
    qtbot.mouseClick(window.status.run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)


def _twelve_open(qtbot: Any, tmp_path: Path, engine: FakeEngine) -> MainWindow:
    window = make_window(qtbot, tmp_path, engine)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(12):
        write_image(folder / f"img{i:02d}.png", (8 * i, 60, 90))
    _open(qtbot, window, folder, 12)
    return window


def _at_640_by_480(qtbot: Any, window: MainWindow) -> None:
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640 and window.height() == 480, timeout=3000)


def test_in_a_640_by_480_window_the_runs_count_is_read_in_full_also_while_stopping(
        qtbot: Any, tmp_path: Path) -> None:
    import threading

    engine = FakeEngine()
    window = _twelve_open(qtbot, tmp_path, engine)
    _at_640_by_480(qtbot, window)
    # The batch under way is held until the checks are done: with a fixed delay it could
    # end (and the run with it) before the status bar was measured.
    gate = engine.classifier.gate = threading.Event()
    calls = len(engine.classifier.calls)
    try:
        qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
        run = window.status.run
        qtbot.waitUntil(run.isVisible, timeout=30_000)
        # A run cancelled before its first batch reaches the model ends at once: wait until
        # one is held at the gate.
        qtbot.waitUntil(lambda: len(engine.classifier.calls) > calls, timeout=30_000)
        qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
        assert run.bar.text().startswith("stopping… ")
        qtbot.wait(50)  # the status bar lays out
        # "stopping… 0/12 images" used to wrap in a bar ~90 px wide, its last word cut off.
        assert run.bar.fontMetrics().horizontalAdvance(run.bar.text()) < run.bar.width()
        assert window.width() == 640 and run.cancel_button.isVisible()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)


def _choose_score_cam(qtbot: Any, window: MainWindow) -> None:
    """The method picker, as a keyboard user sets it: focused, then the arrow keys."""
    from desktop_app.inference.catalog import CAM_METHODS

    combo = window.model_controls.method_combo
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Home)
    for _ in range(CAM_METHODS.index("scorecam")):
        qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert combo.currentData() == "scorecam"


def _four_photos_with_score_cam(qtbot: Any, tmp_path: Path) -> tuple[FakeEngine, MainWindow]:
    """A window with four photos open and Score-CAM chosen (the still's map: quick here)."""
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        write_image(folder / f"img{i:02d}.png", (60 * i, 60, 90))
    _open(qtbot, window, folder, 4)
    _choose_score_cam(qtbot, window)
    qtbot.waitUntil(lambda: window.prediction.cam_method == "scorecam", timeout=5000)
    return engine, window


def test_a_score_cam_run_counts_the_image_under_way_and_cancel_stops_inside_its_map(
        qtbot: Any, tmp_path: Path) -> None:
    import re

    engine, window = _four_photos_with_score_cam(qtbot, tmp_path)
    # The third image's map takes 20 s (20 "forwards" of a second), as a real Score-CAM can.
    engine.classifier.scorecam_delays = {"img02.png": 20.0}
    out = tmp_path / "out"
    _write_with_dialog(qtbot, window, out)
    run = window.status.run
    # The count says how far the image under way has come, not just "2/4 images" for 20 s.
    def counted() -> int:
        under_way = re.fullmatch(r"2/4 images · map (\d+) %", run.bar.text())
        return int(under_way[1]) if under_way else 0

    # 2 of its 20 forwards (10 %); before them the run's first batch may import torch (slow
    # on a loaded machine).
    qtbot.waitUntil(lambda: counted() >= 10, timeout=60_000)
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    assert run.bar.text() == "stopping… 2/4 images"
    # Stopped between two of the map's forwards (a second), not after its 20 s.
    qtbot.waitUntil(lambda: not window.exports.running, timeout=5000)
    assert [Path(r["file"]).name for r in _records(out)] == ["img00.png", "img01.png"]
    assert sorted(p.name.split(".")[0] for p in out.glob("*.jpg")) == ["img00", "img01"]
    assert window.messages.texts()[-1].startswith("Classified 2 of 4 images; stopped: "
                                                  "cancelled.")
    assert not run.isVisible()

    # The image left half-way is done by the next run into the same folder, whole.
    engine.classifier.scorecam_delays = {}
    qtbot.waitUntil(lambda: not window.client.busy, timeout=5000)
    _write_with_dialog(qtbot, window, out)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=20_000)
    assert [Path(r["file"]).name for r in _records(out)] == [f"img{i:02d}.png"
                                                            for i in range(4)]
    assert len(list(out.glob("*.jpg"))) == 4


def _score_cam_run_at_640_by_480(qtbot: Any, tmp_path: Path, engine: FakeEngine,
                                 window: MainWindow) -> None:
    """A folder run writing Score-CAM overlays, in a 640x480 window, its first image's map
    under way (20 s: it stays so while the test looks)."""
    _choose_score_cam(qtbot, window)
    qtbot.waitUntil(lambda: window.prediction.cam_method == "scorecam", timeout=5000)
    _at_640_by_480(qtbot, window)
    engine.classifier.scorecam_delay = 20.0
    _write_with_dialog(qtbot, window, tmp_path / "out")
    # The run's first batch may import torch: slow on a loaded machine.
    qtbot.waitUntil(lambda: "map" in window.status.run.bar.text(), timeout=30_000)


def test_in_a_640_by_480_window_the_map_of_the_image_under_way_is_read_in_full(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _twelve_open(qtbot, tmp_path, engine)
    _score_cam_run_at_640_by_480(qtbot, tmp_path, engine, window)
    run = window.status.run
    qtbot.wait(50)  # the status bar lays out
    assert run.bar.text().startswith("0/12 images · map ")
    assert run.bar.fontMetrics().horizontalAdvance(run.bar.text()) < run.bar.width()
    assert window.width() == 640 and run.cancel_button.isVisible()
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)


def test_at_640_by_480_a_checkpoints_long_model_name_gives_way_to_the_runs_count(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window with a checkpoint: its model name, "ResNet(BasicBlock,
    # [1, 1, 1, 1]) (shapes_resnet.pth)", kept its full width and squeezed the run's bar
    # to "3/12 images ·", the name itself cut off under "Device: …".
    engine = FakeEngine()
    window = _twelve_open(qtbot, tmp_path, engine)
    status = window.status
    long_name = "Model: ResNet(BasicBlock, [1, 1, 1, 1]) (shapes_resnet.pth)"
    status.set_model(long_name, "Device: cpu, onednn")  # as a loaded checkpoint is named
    _score_cam_run_at_640_by_480(qtbot, tmp_path, engine, window)
    run = status.run
    window.statusBar().clearMessage()  # a message's room would hide the name
    qtbot.wait(50)  # the status bar lays out
    # The run's bar and its Cancel lie whole within their row, the count read in full.
    assert run.rect().contains(run.bar.geometry())
    assert run.rect().contains(run.cancel_button.geometry())
    assert run.bar.fontMetrics().horizontalAdvance(run.bar.text()) < run.bar.width()
    # The name gives way: its middle to "…", beside the device, whole on hover.
    label = status.model_label
    assert label.geometry().right() < status.device_label.geometry().left()
    shown = label.shown_text()
    assert "…" in shown and shown.startswith("Model:") and shown.endswith(".pth)")
    assert label.fontMetrics().horizontalAdvance(shown) <= label.contentsRect().width()
    assert label.toolTip() == long_name
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)


def test_esc_stops_a_folder_run_as_its_cancel_does(qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: Esc, which cancels a slow map or a scoring, left a
    # running folder run going; only the status bar's small Cancel stopped it.
    import threading

    engine = FakeEngine()
    window = _twelve_open(qtbot, tmp_path, engine)
    gate = engine.classifier.gate = threading.Event()  # the first batch held in flight
    calls = len(engine.classifier.calls)
    run = window.status.run
    try:
        qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
        qtbot.waitUntil(run.isVisible, timeout=30_000)
        qtbot.waitUntil(lambda: len(engine.classifier.calls) > calls, timeout=30_000)
        # Wherever the focus is in the window: here the list of images.
        qtbot.mouseClick(window.filmstrip.viewport(), Qt.MouseButton.LeftButton)
        qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Escape)
        assert run.bar.text().startswith("stopping… ")
        assert not run.cancel_button.isEnabled()
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)
    assert not run.isVisible()
    assert "; stopped: cancelled." in window.messages.texts()[-1]
    assert len(window.folder_results) < 12  # what the run had done is kept, no more
    assert window.actions_.classify_folder.isEnabled()


def test_with_a_camera_beside_a_folder_run_esc_stops_the_run_first_then_the_camera(
        qtbot: Any, tmp_path: Path) -> None:
    # The run is the job, with its Cancel in the status bar; the camera a view the user
    # watches, with its own Stop: the first Esc cancels the job, the next the camera.
    import threading

    from support.ui_helpers import fake_camera_source

    engine = FakeEngine()
    window = _twelve_open(qtbot, tmp_path, engine)
    window.start_live_source(fake_camera_source())
    qtbot.waitUntil(lambda: window.live_source is not None, timeout=5000)
    gate = engine.classifier.gate = threading.Event()
    try:
        qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
        qtbot.waitUntil(lambda: window.exports.cancellable, timeout=30_000)
        qtbot.keyClick(window.view, Qt.Key.Key_Escape)
        # Stopping after its batch, or ended at once if the worker had not taken it yet
        # (the camera's frames go first): which, depends on timing (a fresh-clone CI run
        # saw the second). Either way the run no longer goes on, and the camera does.
        assert not window.exports.cancellable
        assert window.live_source is not None
        assert window.actions_.stop_live.isEnabled()  # the next Esc is the camera's
    finally:
        gate.set()
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)
    assert window.live_source is not None
    qtbot.keyClick(window.view, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.live_source is None, timeout=5000)


def test_a_score_cam_runs_bar_fills_within_the_image_under_way_and_is_full_at_the_end(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: the text said "1/4 images · map 60 %" while the bar
    # stood at a quarter for the image's whole map (minutes with a real Score-CAM).
    import re

    engine, window = _four_photos_with_score_cam(qtbot, tmp_path)
    engine.classifier.scorecam_delays = {"img01.png": 4.0}  # 20 forwards of 0.2 s
    _write_with_dialog(qtbot, window, tmp_path / "out")
    folder_run = window.exports.folder_run
    assert folder_run is not None
    bar = window.status.run.bar
    # (images done, the fill's width in pixels) at each count and each map step
    painted: list[tuple[int, int]] = []
    for step in (folder_run.progress, folder_run.map_progress):
        step.connect(lambda *_: painted.append((bar.value(), _painted_fill(bar))))
    seen: list[tuple[int, int]] = []  # map %, fill in pixels

    def half_way() -> None:
        under_way = re.fullmatch(r"1/4 images · map (\d+) %", bar.text())
        assert under_way and 20 <= int(under_way[1]) <= 80
        seen.append((int(under_way[1]), _painted_fill(bar)))

    # The run's first batch may import torch: slow on a loaded machine.
    qtbot.waitUntil(half_way, timeout=60_000)
    percent, pixels = seen[0]
    inner = bar.width() - 4  # the frame's sides
    # Past the first image's quarter, as far into the second's as its map has come.
    assert pixels == pytest.approx((1 + percent / 100) / 4 * inner, abs=6)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=60_000)
    widths = [width for _done, width in painted]
    # Never back. A pixel's slack: the row read crosses the text's glyphs at some fonts and
    # sizes, and the text changes with each step (a loaded run once read 98 then 97).
    assert all(later >= earlier - 1 for earlier, later in pairwise(widths))
    assert painted[-1][0] == 4 and widths[-1] >= inner - 2  # full when the run ends
    # Never ahead of the images done: an image's share fills up only with its map.
    assert all(width <= (done + 1) / 4 * inner + 1 for done, width in painted)
    assert any(inner / 4 + 6 < width < inner / 2 - 6 for width in widths)
    assert not bar.isVisible()


def _painted_fill(bar: Any) -> int:
    """How many pixels wide the bar's fill is painted: a row across its top quarter (above
    the text), in the highlight colour."""
    image = bar.grab().toImage()
    highlight = bar.palette().highlight().color()
    y = image.height() // 4
    return sum(1 for x in range(image.width())
               if _near(image.pixelColor(x, y), highlight))


def _near(color: Any, target: Any) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(
        (color.red(), color.green(), color.blue()),
        (target.red(), target.green(), target.blue()), strict=True))


def test_browsing_during_a_score_cam_run_is_answered_inside_the_image_under_way(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: with a Score-CAM export under way, the arrow key to the
    # next photo showed nothing new until the export's image in flight had its whole map
    # (seconds to minutes with a real Score-CAM): the still waited behind it.
    import re
    import time

    engine, window = _four_photos_with_score_cam(qtbot, tmp_path)
    # The run's third image takes 10 s (20 "forwards" of half a second); the photo the user
    # browses to has a quick map.
    engine.classifier.scorecam_delays = {"img02.png": 10.0}
    out = tmp_path / "out"
    _write_with_dialog(qtbot, window, out)
    run = window.status.run

    def third_map() -> int:
        """How far the run's third image's map has come (%); 0 before it, 100 after."""
        counts = re.fullmatch(r"(\d)/4 images(?: · map (\d+) %)?", run.bar.text())
        if counts is None or int(counts[1]) > 2:  # done (the bar is gone at the end)
            return 100
        return int(counts[2] or 0) if int(counts[1]) == 2 else 0

    # 2 of its 20 forwards; before them the run's first batch may import torch (slow on a
    # loaded machine).
    qtbot.waitUntil(lambda: third_map() >= 10, timeout=60_000)
    shown = window.prediction
    assert shown is not None and Path(shown.source).name == "img00.png"
    window.view.setFocus()
    pressed = time.monotonic()
    qtbot.keyClick(window.view, Qt.Key.Key_Right)
    browsed = str(tmp_path / "photos" / "img01.png")
    wait_for_prediction(qtbot, window, source=browsed, timeout=20_000)
    print(f"browsed photo shown after {time.monotonic() - pressed:.2f} s, "
          f"the run's map at {third_map()} %")
    # Served between two of the run's map's forwards (half a second each), not after its
    # 10 s.
    assert third_map() < 100
    assert window.prediction.cam_method == "scorecam" and window.prediction.cams is not None
    qtbot.waitUntil(window.view.has_overlay, timeout=3000)  # its own map, drawn
    # The run's map went on where it was: the image is written whole, once, in its place.
    qtbot.waitUntil(lambda: not window.exports.running, timeout=60_000)
    assert [Path(r["file"]).name for r in _records(out)] == [f"img{i:02d}.png"
                                                            for i in range(4)]
    assert len(list(out.glob("*.jpg"))) == 4
    runs = [c for c in engine.classifier.calls if c["cam"] == "scorecam"
            and Path(str(c["image"])).name == "img02.png"]
    assert len(runs) == 1  # not restarted: the still went in between its forwards
    assert window.messages.texts()[-1].startswith("Classified 4 of 4 images")


def test_cancelling_a_run_while_the_browsed_photos_slow_map_is_served_inside_it_ends_it_at_once(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: the photo browsed to during a Score-CAM export had a
    # Score-CAM map of its own, served inside the run's map; the run's Cancel then said
    # "stopping… 2/4 images" for the whole of that map (30 s here, minutes for real), with
    # Classify all and Export results greyed out meanwhile.
    import re

    engine, window = _four_photos_with_score_cam(qtbot, tmp_path)
    engine.classifier.scorecam_delays = {"img02.png": 10.0}
    out = tmp_path / "out"
    _write_with_dialog(qtbot, window, out)
    run = window.status.run
    # Inside the third image's map (the first batch may import torch: slow when loaded).
    qtbot.waitUntil(lambda: run.bar.text().startswith("2/4 images · map "), timeout=60_000)
    engine.classifier.scorecam_delays["img01.png"] = 30.0  # the browsed photo's own map
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.view.setFocus()
    qtbot.keyClick(window.view, Qt.Key.Key_Right)
    counting = window.predictions.map_progress
    qtbot.waitUntil(lambda: counting.isVisible() and re.fullmatch(
        r"[1-9]\d*/20 channels", counting.bar.text()) is not None, timeout=10_000)
    engine.classifier.scorecam_delays["img01.png"] = 1.0  # when it is asked again
    qtbot.mouseClick(run.cancel_button, Qt.MouseButton.LeftButton)
    # The run ends now, not after the browsed photo's 30 s map.
    qtbot.waitUntil(lambda: not window.exports.running, timeout=5000)
    assert window.messages.texts()[-1].startswith("Classified 2 of 4 images; stopped: "
                                                  "cancelled.")
    assert [Path(r["file"]).name for r in _records(out)] == ["img00.png", "img01.png"]
    assert window.actions_.classify_folder.isEnabled()
    # The browsed photo's map was not cancelled: it is computed, and shown, after the run.
    browsed = str(tmp_path / "photos" / "img01.png")
    wait_for_prediction(qtbot, window, source=browsed, timeout=10_000)
    assert window.prediction.cam_method == "scorecam" and window.prediction.cams is not None
    assert not any("cancelled" in text for text in window.messages.texts()[:-1])


def test_in_a_640_px_window_the_run_s_closing_message_is_read_to_its_end(
        qtbot: Any, tmp_path: Path) -> None:
    # The device beside it ("Device: cpu, onednn") cut it at "File > Export results saves
    # them" (its last letters and full stop gone).
    window = make_window(qtbot, tmp_path, FakeEngine(predict_delay=0.02))
    _open(qtbot, window, _mixed_folder(tmp_path, good=100, size=(32, 24)), 102)
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640, timeout=3000)
    qtbot.keyClick(window.view, Qt.Key.Key_R, CTRL)
    qtbot.waitUntil(lambda: not window.exports.running, timeout=30_000)
    bar, status = window.statusBar(), window.status
    text = bar.currentMessage()
    assert text == ("Classified 100 of 102 images (2 could not be read). "
                    "File > Export results saves them.")
    qtbot.wait(50)  # the bar lays its widgets out again
    permanent = [w for w in (status.latency_label, status.fps_label, status.run,
                             status.model_label, status.device_label) if w.isVisible()]
    room = min((w.geometry().left() for w in permanent), default=bar.width() - 16)
    assert bar.fontMetrics().horizontalAdvance(text) < room
    bar.clearMessage()
    assert status.device_label.isVisible()  # back once the message is gone
