"""Exports: overlay PNG, raw map, clipboard text, and folder runs saved as CSV or JSON."""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication
from support.ui_helpers import (
    FakeClassifier,
    FakeEngine,
    make_window,
    wait_for_prediction,
    write_image,
)

from desktop_app.core import atomic
from desktop_app.core.colormaps import lut
from desktop_app.ui.state import export
from desktop_app.ui.state.export import BatchEntry


def _folder(tmp_path: Path, good: int, bad: int = 0) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(good):
        write_image(folder / f"img{i:02d}.png", (20 * i % 256, 100, 50))
    for i in range(bad):
        (folder / f"broken{i}.jpg").write_bytes(b"\xff\xd8 not really")
    return folder


def test_save_overlay_png_and_raw_map(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    image = write_image(tmp_path / "wide.png", (100, 100, 100), size=(600, 300))
    window.open_paths([image])
    prediction = wait_for_prediction(qtbot, window)
    window.overlay_controls.colormap_combo.setCurrentText("turbo")
    window.overlay_controls.opacity_slider.setValue(100)
    png, npy = tmp_path / "out.png", tmp_path / "out.npy"
    window.save_overlay(png)
    window.save_map(npy)
    qtbot.waitUntil(lambda: png.exists() and npy.exists(), timeout=5000)
    qtbot.waitUntil(lambda: sum("Saved the" in m for m in window.messages.texts()) == 2,
                    timeout=5000)

    cam = np.load(npy)
    index = window.selected_class
    assert cam.dtype == np.float32 and cam.shape == (300, 600)
    np.testing.assert_array_equal(cam, prediction.cams[index])
    assert np.isnan(cam[:, 0]).all() and not np.isnan(cam[150, 300])
    pixels = np.asarray(Image.open(png).convert("RGB"))
    assert pixels.shape == (300, 600, 3)  # full resolution, not the screen's
    # Opacity 100 %: seen pixels are the colormap's colour; unseen ones the dimmed photo.
    level = int(np.rint(cam[150, 300] * 255))
    np.testing.assert_allclose(pixels[150, 300], lut("turbo")[level], atol=1)
    assert tuple(pixels[150, 2]) == (50, 50, 50)
    assert not list(tmp_path.glob(".*.part"))  # written via a temporary file, now gone


def test_copy_predictions_to_the_clipboard(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    image = write_image(tmp_path / "a.png", (1, 150, 3))
    window.open_paths([image])
    prediction = wait_for_prediction(qtbot, window)
    window.actions_.copy_predictions.trigger()
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0] == f"{image}\tresnet50\tcpu"
    top = prediction.topk[0]
    assert lines[1] == f"1\t{top.label}\t{top.probability * 100:.2f} %"
    assert len(lines) == 1 + len(prediction.topk)


def test_folder_run_exports_csv_and_json(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    folder = _folder(tmp_path, good=4, bad=1)
    window.open_paths([folder])
    qtbot.waitUntil(lambda: window.filmstrip.count() == 5, timeout=5000)
    assert not window.actions_.export_results.isEnabled()
    progress: list[tuple[int, int]] = []
    window.classify_all()
    window.exports.folder_run.progress.connect(lambda done, total: progress.append((done, total)))
    assert window.status.run.bar.isVisible()
    # The last result is listed just before the run reports its end (and hides its bar).
    qtbot.waitUntil(lambda: len(window.folder_results) == 5 and not window.exports.running,
                    timeout=30_000)
    assert not window.status.run.bar.isVisible()
    assert progress[-1] == (5, 5)
    assert window.messages.texts()[-1].startswith(
        "Classified 4 of 5 images (1 could not be read).")
    assert window.actions_.export_results.isEnabled()

    out_csv, out_json = tmp_path / "results.csv", tmp_path / "results.json"
    window.export_results(out_csv)
    window.export_results(out_json)
    qtbot.waitUntil(lambda: out_csv.exists() and out_json.exists(), timeout=5000)
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 4 * 5 + 1  # top-5 per readable image, one error row
    broken = [r for r in rows if r["error"]]
    assert broken[0]["source"].endswith("broken0.jpg")
    assert "broken0.jpg" in broken[0]["error"]
    first = next(r for r in rows if not r["error"])
    assert first["source"].endswith("img00.png")
    assert first["rank"] == "1" and 0 < float(first["probability"]) <= 1
    data = json.loads(out_json.read_text())
    assert data["count"] == 5
    sources = [item["source"] for item in data["results"]]
    assert sources == sorted(sources)
    assert data["results"][1]["topk"][0]["label"].startswith("class ")


def test_cancelling_a_folder_run_keeps_the_results_so_far(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.05)
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([_folder(tmp_path, good=30)])
    qtbot.waitUntil(lambda: window.filmstrip.count() == 30, timeout=5000)
    wait_for_prediction(qtbot, window)
    window.classify_all()
    qtbot.waitUntil(lambda: window.status.run.bar.value() >= 3, timeout=10_000)
    window.status.run.cancel_button.click()
    qtbot.waitUntil(lambda: not window.exports.running, timeout=5000)
    kept = len(window.folder_results)
    assert 3 <= kept < 30
    assert "stopped" in window.messages.texts()[-1]
    qtbot.wait(300)
    assert len(window.folder_results) == kept  # nothing more arrives
    window.export_results(tmp_path / "partial.json")
    qtbot.waitUntil(lambda: (tmp_path / "partial.json").exists(), timeout=5000)
    assert json.loads((tmp_path / "partial.json").read_text())["count"] == kept


def test_browsing_stays_responsive_during_a_folder_run(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.05)
    window = make_window(qtbot, tmp_path, engine)
    folder = _folder(tmp_path, good=40)
    window.open_paths([folder])
    wait_for_prediction(qtbot, window)
    window.classify_all()
    qtbot.waitUntil(lambda: window.status.run.bar.value() >= 2, timeout=10_000)
    # A still request jumps the batch queue: the worker serves what the user looks at first.
    window.step(5)
    wait_for_prediction(qtbot, window, source=str(folder / "img05.png"), timeout=2000)
    assert window.status.run.bar.value() < 40
    window.status.run.cancel_button.click()


def test_results_text_formats() -> None:
    classifier = FakeClassifier()
    pixels = np.full((40, 50, 3), 7, np.uint8)
    prediction = classifier.predict(pixels, topk=2, cam=None)
    entries = [BatchEntry("a.png", prediction), BatchEntry("b.png", error="b.png: file is empty")]
    rows = list(csv.reader(export.results_csv(entries).splitlines()))
    assert rows[0] == list(export.CSV_COLUMNS)
    assert rows[1][:3] == ["a.png", "1", prediction.topk[0].label]
    assert rows[3] == ["b.png", "", "", "", "", "", "", "b.png: file is empty"]
    data = json.loads(export.results_json(entries))
    assert data["results"][1] == {"source": "b.png", "error": "b.png: file is empty"}


def test_atomic_write_leaves_the_old_file_on_failure(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "r.csv"
    target.write_text("old")

    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        export.write_results(target, [])
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_export_gets_the_permissions_of_any_new_file(tmp_path: Path, umask: int) -> None:
    """Results, overlays and maps alike: mode 0o666 less the user's umask (a temporary file
    from mkstemp would have left results at 0o600, unreadable to anyone else)."""
    from desktop_app.core.overlay import save_npy, save_png

    previous = os.umask(umask)
    try:
        (tmp_path / "plain.txt").write_text("a file made the usual way")
        export.write_results(tmp_path / "r.csv", [])
        export.write_results(tmp_path / "r.json", [])
        save_png(tmp_path / "o.png", np.zeros((2, 2, 3), dtype=np.uint8))
        save_npy(tmp_path / "m.npy", np.zeros((2, 2), dtype=np.float32))
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == dict.fromkeys(["plain.txt", "r.csv", "r.json", "o.png", "m.npy"],
                                  0o666 & ~umask)


def test_ctrl_e_exports_only_the_results_of_the_images_shown(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A finished run of 7, then a second folder being classified: Ctrl+E must not save the
    first folder's rows as if they were the second's, neither during the run nor after the
    list changed again (a paste)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QFileDialog

    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (asked.append("asked"), ("", ""))[1])
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    first = tmp_path / "first"
    first.mkdir()
    for i in range(7):
        write_image(first / f"old{i}.png", (30 * i, 10, 10))
    window.open_paths([first])
    wait_for_prediction(qtbot, window)
    qtbot.keyClick(window.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(window.folder_results) == 7, timeout=10_000)

    engine.classifier.delay = 0.05
    window.open_paths([_folder(tmp_path, good=60)])
    wait_for_prediction(qtbot, window)
    qtbot.keyClick(window.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked == []  # the 7 rows are not this folder's
    assert window.folder_results == []
    qtbot.keyClick(window.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    for _ in range(2):  # at once, and a few images into the run
        qtbot.keyClick(window.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        assert not window.actions_.export_results.isEnabled()
        assert asked == []
        qtbot.waitUntil(lambda: window.status.run.bar.value() >= 3, timeout=10_000)
    window.status.run.cancel_button.click()
    qtbot.waitUntil(lambda: window.actions_.export_results.isEnabled(), timeout=5000)
    assert all("/photos/" in entry.source for entry in window.folder_results)
    # Classified again: the partial rows are not what the new run is making either.
    qtbot.keyClick(window.view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.exports.running
    qtbot.keyClick(window.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked == []
    qtbot.waitUntil(lambda: window.status.run.bar.value() >= 1, timeout=10_000)
    window.status.run.cancel_button.click()
    qtbot.waitUntil(lambda: window.actions_.export_results.isEnabled(), timeout=5000)

    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.darkCyan)
    QApplication.clipboard().setImage(image)
    qtbot.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not window.actions_.export_results.isEnabled(), timeout=5000)
    qtbot.keyClick(window.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert asked == []
    assert window.folder_results == []
