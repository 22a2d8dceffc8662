"""*Compare*: methods × top-k classes (or × layers for one class), filled job by job in the
worker, cheapest first; cancel keeps what is done; a click opens a cell; the grid and its
scores export."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from support.shapes_model import ShapesModel, make_heldout_set
from support.ui_helpers import (
    FAKE_LAYERS,
    FakeEngine,
    make_window,
    wait_for_prediction,
    write_image,
)

from desktop_app.ui.state.compare import COST_ORDER, Columns, layer_columns


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
    assert all(compare.dialog.cells[c.method, c.column.key].text().startswith("#")
               for c in scored)
    left = [c for c in compare.grid.cells.values() if c.scores is None]
    assert all(compare.dialog.cells[c.method, c.column.key].text()
               in ("not scored", "not computed") for c in left)


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


# -- columns by layer ---------------------------------------------------------------------
STAGES = ("layer1", "layer2", "layer3", "layer4")  # FAKE_LAYERS' whole stages


def _pin_second_class(qtbot: Any, window: Any) -> int:
    panel = window.predictions.list
    item = panel.item(1)
    qtbot.mouseClick(panel.viewport(), Qt.MouseButton.LeftButton,
                     pos=panel.visualItemRect(item).center())
    second = window.prediction.topk[1].index
    qtbot.waitUntil(lambda: window.selected_class == second, timeout=2000)
    return second


def test_layers_as_columns_with_the_keyboard_fill_cheapest_first_export_and_open(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _compare_window(qtbot, tmp_path, engine)
    second = _pin_second_class(qtbot, window)
    engine.classifier.score_delay = 0.001
    qtbot.keyClick(window.view, Qt.Key.Key_M,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    compare, dialog = window.compare, window.compare.dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
    sent = len(engine.classifier.calls)
    dialog.by_classes.setFocus()  # where Tab takes the user first
    qtbot.keyClick(dialog.by_classes, Qt.Key.Key_Right)
    assert dialog.by_layers.isChecked() and compare.grid.by is Columns.LAYERS
    total = len(COST_ORDER) * len(STAGES)
    qtbot.waitUntil(lambda: compare.grid.done == total and not compare.running,
                    timeout=30_000)

    # The pinned class at each of the picker's stages, said so above the rows.
    assert [h.text() for h in dialog.headers[1:]] == [f"<b>{s}</b>" for s in STAGES]
    label = window.prediction.topk[1].label
    assert label in dialog.headers[0].text() and "pinned" in dialog.headers[0].text()
    assert f"{label} (class {second}, pinned) at each layer" in dialog.status.text()
    # Each map once, for that class, by its real cost: a gradient method's backward grows
    # with the depth after the layer; Score-CAM's forwards with the layer's channels;
    # Ablation-CAM is closed-form at layer4 only.
    calls = [(c["cam"], c["cam_layer"]) for c in engine.classifier.calls[sent:]]
    assert len(calls) == total == len(set(calls))
    assert all(list(c["cam_classes"]) == [second] for c in engine.classifier.calls[sent:])
    at = calls.index
    for method in ("gradcam", "layercam", "scorecam"):
        order = [at((method, s)) for s in STAGES]
        assert order == sorted(order, reverse=method != "scorecam")
    assert at(("ablationcam", "layer4")) < at(("gradcam", "layer3"))
    assert max(at(("gradcam", s)) for s in STAGES) < at(("ablationcam", "layer1"))
    assert calls[-1] == ("scorecam", "layer4")
    for stage in STAGES:
        ranks = sorted(compare.grid.cells[m, stage].rank for m in COST_ORDER)
        assert ranks == list(range(1, len(COST_ORDER) + 1))
        assert dialog.cells["eigencam", stage].text().startswith("#")

    compare.export_csv(tmp_path / "scores.csv")
    rows = list(csv.DictReader((tmp_path / "scores.csv").open()))
    assert len(rows) == total
    for row in rows:
        cell = compare.grid.cells[row["method"], row["layer"]]
        assert int(row["class_index"]) == second and row["label"] == label
        assert int(row["rank"]) == cell.rank
        assert float(row["road"]) == pytest.approx(cell.scores["road"], abs=1e-6)
    assert {r["layer"] for r in rows} == set(STAGES)

    qtbot.mouseClick(dialog.cells["layercam", "layer2"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.prediction.cam_method == "layercam"
                    and window.prediction.cam_layer == "layer2", timeout=5000)
    assert window.selected_class == second
    assert window.model_controls.current_cam_layer() == "layer2"
    assert window.model_controls.current_cam_method() == "layercam"
    assert window.overlay.legend.lines[1] == "LayerCAM · layer2"


def test_switching_columns_while_computing_starts_over_and_cancel_keeps_cells(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _compare_window(qtbot, tmp_path, engine)
    top = window.prediction.topk[0].index
    engine.classifier.score_delay = 0.01  # 0.2 s a scoring
    window.actions_.compare.trigger()
    compare, dialog = window.compare, window.compare.dialog
    qtbot.waitUntil(lambda: compare.grid.done >= 1, timeout=10_000)
    assert compare.running
    old_grid = compare.grid
    qtbot.mouseClick(dialog.by_layers, Qt.MouseButton.LeftButton)
    grid = compare.grid
    assert grid is not old_grid and grid.by is Columns.LAYERS and compare.running
    assert set(dialog.cells) == {(m, s) for m in COST_ORDER for s in STAGES}
    assert all(cell.text() == "waiting…" for cell in dialog.cells.values())
    assert "the top class" in dialog.headers[0].text()
    sent = len(engine.classifier.calls)
    qtbot.waitUntil(lambda: grid.done >= 3, timeout=10_000)
    texts = [cell.text() for cell in dialog.cells.values()]
    assert texts.count("scoring…") == 1 and "to be scored" in texts  # one at a time
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    done = grid.done
    qtbot.waitUntil(lambda: not window.client.busy, timeout=2000)
    qtbot.wait(100)
    assert grid.done == done and compare.grid is grid and old_grid.done < len(old_grid.cells)
    assert all(list(c["cam_classes"]) == [top] and c["cam_layer"] in STAGES
               for c in engine.classifier.calls[sent:])
    for cell in grid.cells.values():
        text = dialog.cells[cell.method, cell.column.key].text()
        if cell.scores is not None:
            assert text.startswith("#")
        else:
            assert text == ("not scored" if cell.mapped else "not computed")
            assert dialog.cells[cell.method, cell.column.key].isEnabled() == cell.mapped

    engine.classifier.score_delay = 0.0
    qtbot.mouseClick(dialog.by_classes, Qt.MouseButton.LeftButton)  # and back, in full
    qtbot.waitUntil(lambda: compare.grid.by is Columns.CLASSES
                    and compare.grid.done == len(compare.grid.cells), timeout=30_000)
    assert set(dialog.cells) == {(m, s.index) for m in COST_ORDER
                                 for s in window.prediction.topk}
    assert not [t for t in window.messages.texts() if "Compare stopped" in t]


def test_layer_columns_are_the_pickers_stages_and_its_inner_block() -> None:
    assert layer_columns(FAKE_LAYERS, "layer4") == STAGES
    assert layer_columns(FAKE_LAYERS, "layer4.1") == STAGES  # layer4's last block: layer4
    assert layer_columns(FAKE_LAYERS, "layer4.0") == (*STAGES[:3], "layer4.0", "layer4")


@pytest.mark.slow
def test_a_layer_cell_is_the_engines_map_of_that_method_layer_and_class(
        qtbot: Any, tmp_path: Path, shapes_model: ShapesModel) -> None:
    from desktop_app.inference.classifier import load_classifier
    from desktop_app.ui.controllers.worker import TorchEngine

    window = make_window(qtbot, tmp_path, TorchEngine, weights=str(shapes_model.weights),
                         labels=str(shapes_model.labels), device="cpu")
    sample = make_heldout_set(1)[0]
    path = tmp_path / "shape.png"
    sample.image.save(path)
    window.open_paths([path])
    prediction = wait_for_prediction(qtbot, window, timeout=120_000)
    window.actions_.compare.trigger()
    compare = window.compare
    qtbot.mouseClick(compare.dialog.by_layers, Qt.MouseButton.LeftButton)
    wanted = [(m, s) for m in ("gradcam", "eigencam") for s in ("layer3", "layer4")]
    # The cheap maps come before any scoring: these four are among the first eleven.
    qtbot.waitUntil(lambda: all(compare.grid.cells[k].mapped for k in wanted),
                    timeout=120_000)
    qtbot.mouseClick(compare.dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.client.busy, timeout=30_000)

    top = prediction.topk[0].index
    clf = load_classifier(weights=shapes_model.weights, labels=shapes_model.labels,
                          device="cpu")
    for method, layer in wanted:
        expected = clf.predict(path, cam=method, cam_layer=layer).cams[top]
        np.testing.assert_allclose(compare.cell_map(method, layer), expected, atol=1e-5)
