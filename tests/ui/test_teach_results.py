"""The Teach window's results on a small screen: it opens on the screen, and everything in it
(the summary, *Use this model*, the confusion matrix, the map tiles) is reached by scrolling
down, never by scrolling sideways or moving the window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QScreen
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from desktop_app.core.evaluation import HOLD_OUT, Evaluation
from desktop_app.inference.taught_gallery import TILE_SIDE, Gallery, MapTile
from desktop_app.ui.widgets.teach_dialog import TeachDialog
from desktop_app.ui.widgets.teach_results import ConfusionTable, TileFlow

SMALL_SCREEN = QRect(0, 0, 640, 480)
CLASSES = tuple(f"class number {i}" for i in range(6))


def _evaluation() -> Evaluation:
    k = len(CLASSES)
    return Evaluation(
        CLASSES, "hold-out", dict.fromkeys(CLASSES, 20), dict.fromkeys(CLASSES, 5), 0.8,
        dict.fromkeys(CLASSES, 0.8),
        [[4 if r == c else int(c == (r + 1) % k) for c in range(k)] for r in range(k)], (),
        ("class number 0 has few images, and this warning says so in many words",))


def _tile(true: str, predicted: str) -> MapTile:
    return MapTile(Path(f"/data/{true}/a-rather-long-file-name-of-an-image.png"), true,
                   predicted, 0.93, np.full((TILE_SIDE, TILE_SIDE, 3), 120, np.uint8))


@pytest.fixture
def small_screen(monkeypatch: pytest.MonkeyPatch) -> QRect:
    monkeypatch.setattr(QScreen, "availableGeometry", lambda _screen: QRect(SMALL_SCREEN))
    return SMALL_SCREEN


def _dialog_with_results(qtbot: Any, validation: str = HOLD_OUT,
                         trained_on: int = 0) -> TeachDialog:
    dialog = TeachDialog()
    qtbot.addWidget(dialog)
    dialog.show_started("Teach — parts", "Reading /data…")
    dialog.move(30, 20)
    dialog.show()
    qtbot.waitExposed(dialog)
    mistakes = [_tile(CLASSES[i], CLASSES[i + 1]) for i in range(4)]
    gallery = {name: tuple(_tile(name, name) for _ in range(6)) for name in CLASSES}
    dialog.results.show_results("Validation accuracy 80% on 30 images. " * 3, _evaluation(),
                                Gallery(gallery, tuple(mistakes), validation, trained_on))
    dialog.show_done("Saved to /models/parts.safetensors")
    return dialog


def test_the_results_window_opens_within_a_640_by_480_screen(
        qtbot: Any, small_screen: QRect) -> None:
    dialog = _dialog_with_results(qtbot)

    qtbot.waitUntil(lambda: small_screen.contains(dialog.frameGeometry()), timeout=3000)
    hint = dialog.minimumSizeHint()
    assert hint.width() <= small_screen.width() and hint.height() <= small_screen.height()


def test_at_640_pixels_the_results_scroll_down_and_use_this_model_is_in_view(
        qtbot: Any, small_screen: QRect) -> None:
    dialog = _dialog_with_results(qtbot)
    qtbot.waitUntil(lambda: dialog.width() <= small_screen.width(), timeout=3000)
    results = dialog.results
    scroll = dialog.findChild(QWidget, "qt_scrollarea_viewport")
    assert scroll is not None

    # Nothing wider than the window: no sideways scrolling to reach anything.
    qtbot.waitUntil(lambda: results.width() <= scroll.width(), timeout=3000)
    button = results.use_button
    right_edge = button.mapTo(scroll, QPoint(button.width(), 0)).x()
    assert 0 < right_edge <= scroll.width()
    flows = results.findChildren(TileFlow)
    assert len(flows) == 1 + len(CLASSES)  # the mistakes, then one row set per class
    assert all(1 <= flow.columns < 6 for flow in flows)  # rows as wide as the window
    assert all(len(flow.tiles) == 4 or len(flow.tiles) == 6 for flow in flows)
    assert all(flow.width() <= scroll.width() for flow in flows)
    # The table shows every row even with its own sideways scroll bar.
    table = results.findChild(ConfusionTable)
    assert table.horizontalScrollBar().isVisible()
    shown = table.viewport().height()
    assert shown >= sum(table.rowHeight(r) for r in range(table.rowCount()))


def test_a_mistakes_caption_fits_its_three_lines_and_the_tooltip_has_the_file(
        qtbot: Any, small_screen: QRect) -> None:
    dialog = _dialog_with_results(qtbot)
    first = dialog.results.findChildren(TileFlow)[0].tiles[0]
    assert first.toolTip().startswith("/data/class number 0/a-rather-long-file-name")
    assert first.toolTip().endswith("class number 0, taken for class number 1 (93%)")
    caption = first.findChildren(type(dialog.status))[1]
    needed = caption.heightForWidth(caption.width())
    assert needed <= caption.height()  # nothing cut off at the bottom


def _headings(dialog: TeachDialog) -> list[QLabel]:
    return [label for label in dialog.results.findChildren(QLabel)
            if label.text().startswith("<b>") and label.isVisible()]


def test_under_k_fold_the_gallery_says_whose_maps_they_are_and_that_it_trained_on_them(
        qtbot: Any, small_screen: QRect) -> None:
    dialog = _dialog_with_results(qtbot, "5-fold cross-validation", trained_on=29)

    [gallery] = [h for h in _headings(dialog) if "map of their class" in h.text()]
    text = gallery.text()
    assert text.startswith("<b>Images with the map of their class")
    assert "Predictions are out-of-fold" in text
    assert "the saved model's, the one you will use" in text
    assert "trained on 29 of these 36 images" in text  # 6 classes, 6 tiles each
    assert "trained on 29 of these 36 images" in gallery.toolTip()
    [mistakes] = [h for h in _headings(dialog) if "mistakes" in h.text()]
    assert "Most confident mistakes in 5-fold cross-validation" in mistakes.text()
    # Said once, in the header, not on the tiles; and it wraps within the 640-pixel window.
    assert not any("out-of-fold" in tile.toolTip() for flow in
                   dialog.results.findChildren(TileFlow) for tile in flow.tiles)
    scroll = dialog.findChild(QWidget, "qt_scrollarea_viewport")
    qtbot.waitUntil(lambda: gallery.width() <= scroll.width(), timeout=3000)


def test_with_a_hold_out_split_the_gallery_is_of_validation_images_without_a_note(
        qtbot: Any, small_screen: QRect) -> None:
    dialog = _dialog_with_results(qtbot)
    texts = [h.text() for h in _headings(dialog)]
    assert ("<b>Validation images with the map of their class: is it on the object or on the "
            "background?</b>") in texts
    assert "<b>Most confident mistakes (the map of the class the model chose)</b>" in texts
    assert not any("out-of-fold" in text for text in texts)


def test_tab_goes_through_the_confusion_table_in_one_press(qtbot: Any) -> None:
    # Found by driving the window: Tab stepped through all 6 x 8 cells of the table
    # before the keyboard reached anything after it.
    dialog = _dialog_with_results(qtbot)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
    table = dialog.results.findChild(ConfusionTable)
    table.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is table, timeout=3000)
    qtbot.keyClick(table, Qt.Key.Key_Right)  # the arrows still move among the cells
    assert table.currentColumn() == 1
    qtbot.keyClick(table, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is not table
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab, Qt.KeyboardModifier.ShiftModifier)
    assert QApplication.focusWidget() is table
