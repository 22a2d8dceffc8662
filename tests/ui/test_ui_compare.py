"""*Compare*: methods × top-k classes, filled cell by cell in the worker, cheapest first;
cancel keeps what is done; a click opens a cell; the grid and its scores export."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PIL import Image
from PySide6.QtCore import Qt
from support.ui_helpers import FakeEngine, make_window, wait_for_prediction, write_image

from desktop_app.ui.state.compare import COST_ORDER


def _compare_window(qtbot: Any, tmp_path: Path, engine: FakeEngine, k: int = 2) -> Any:
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "photo.png", (200, 30, 30))])
    wait_for_prediction(qtbot, window)
    window.predictions.topk_spin.setValue(k)
    qtbot.waitUntil(lambda: window.predictions.list.count() == k, timeout=5000)
    return window


def test_compare_fills_cells_cheapest_first_ranks_them_and_exports(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _compare_window(qtbot, tmp_path, engine)
    engine.classifier.score_delay = 0.002
    sent = len(engine.classifier.calls)
    seen_partial: list[int] = []
    qtbot.keyClick(window.view, Qt.Key.Key_M,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    compare = window.compare
    total = len(COST_ORDER) * 2

    def finished() -> None:
        assert compare.grid is not None
        seen_partial.append(compare.grid.done)
        assert compare.grid.done == total and not compare.running

    qtbot.waitUntil(finished, timeout=20_000)
    assert any(0 < done < total for done in seen_partial)  # the window saw cells fill
    maps = [c["cam"] for c in engine.classifier.calls[sent:]]
    assert maps == list(COST_ORDER)
    classes = [s.index for s in window.prediction.topk]
    assert all(c["cam_classes"] == classes for c in engine.classifier.calls[sent:])
    for index in classes:
        ranks = sorted(compare.grid.cells[m, index].rank for m in COST_ORDER)
        assert ranks == list(range(1, len(COST_ORDER) + 1))
    assert compare.dialog.cells["scorecam", classes[0]].text().startswith("#")

    compare.export_csv(tmp_path / "scores.csv")
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert len(rows) == total
    assert {r["method"] for r in rows} == set(COST_ORDER)
    assert all(r["deletion"] and r["insertion"] and r["road"] and r["rank"] for r in rows)
    compare.export_png(tmp_path / "grid.png")
    grid = compare.dialog.grid_widget
    with Image.open(tmp_path / "grid.png") as png:
        assert png.size[0] >= grid.width() and png.size[1] >= grid.height()


def test_cancel_keeps_the_finished_cells(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _compare_window(qtbot, tmp_path, engine)
    engine.classifier.score_delay = 0.02  # 0.4 s a cell
    window.actions_.compare.trigger()
    compare = window.compare
    qtbot.waitUntil(lambda: compare.grid is not None and compare.grid.done >= 2,
                    timeout=10_000)
    qtbot.mouseClick(compare.dialog.cancel_button, Qt.MouseButton.LeftButton)
    done = compare.grid.done
    assert not compare.running and "Cancelled" in compare.dialog.status.text()
    qtbot.waitUntil(lambda: not window.client.busy, timeout=1000)  # the worker stopped too
    qtbot.wait(100)
    assert compare.grid.done == done
    scored = [c for c in compare.grid.cells.values() if c.scores is not None]
    assert len(scored) == done
    assert all(compare.dialog.cells[c.method, c.class_index].text().startswith("#")
               for c in scored)


def test_a_click_on_a_cell_shows_its_method_and_class(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _compare_window(qtbot, tmp_path, engine)
    window.actions_.compare.trigger()
    compare = window.compare
    qtbot.waitUntil(lambda: compare.grid.done == len(compare.grid.cells), timeout=20_000)
    second = window.prediction.topk[1].index
    qtbot.mouseClick(compare.dialog.cells["layercam", second], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.prediction.cam_method == "layercam", timeout=5000)
    assert window.selected_class == second
    assert window.model_controls.current_cam_method() == "layercam"
    assert window.overlay.legend.lines[1].startswith("LayerCAM")
