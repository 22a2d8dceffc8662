"""The Teach work across a relaunch, driven as a user does: the pane open at close is open
again with its project, the project's last training shows its results again (read back from
the saved report, said to be out of date once the project changes) and *Use this model*
loads its checkpoint; a missing or damaged report leaves *Show training results* off. And
*Train from folder…* starts where the user last opened something.

Every window here shares tmp_path's settings file: each new one is a relaunch. The models
are written as a training writes them (``write_report``), so no training runs here.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QWidget
from support.teach_data import solid_image
from support.ui_helpers import FakeEngine, make_window

from desktop_app.core.errors import LensError
from desktop_app.core.evaluation import HOLD_OUT, Evaluation, Mistake
from desktop_app.core.teach_project import TeachProject
from desktop_app.core.teach_recipe import DEFAULT_RECIPE
from desktop_app.inference.taught_files import TaughtFiles, files_for, write_report
from desktop_app.ui.controllers.teach_project_controller import DOCK_FLOOR
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.widgets.teach_pane import NO_PROJECT

_Ctrl = Qt.KeyboardModifier.ControlModifier
_Copy = Qt.DropAction.CopyAction


def _project(tmp_path: Path) -> TeachProject:
    """cats (3 images) and dogs (2)."""
    for i in range(3):
        solid_image(tmp_path / "data" / "cats" / f"cat{i}.png", 10 + i, (40, 30))
    for i in range(2):
        solid_image(tmp_path / "data" / "dogs" / f"dog{i}.png", 100 + i, (40, 30))
    project = TeachProject.create(tmp_path / "proj")
    project.add_class_folder(tmp_path / "data")
    return project


def _drop(target: QWidget, paths: list[Path], at: QPoint) -> None:
    """A file manager's drag: enter at ``at`` (in ``target``'s coordinates), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    for event in (QDragEnterEvent(at, _Copy, mime, left, none),
                  QDropEvent(QPointF(at), _Copy, mime, left, none)):
        QApplication.sendEvent(target, event)
        assert event.isAccepted()


def _row_centre(window: MainWindow, name: str) -> QPoint:
    classes = window.teach_pane.classes
    [item] = [classes.topLevelItem(r) for r in range(classes.topLevelItemCount())
              if classes.topLevelItem(r).text(0) == name]
    return classes.visualItemRect(item).center()


def _errors(window: MainWindow) -> list[str]:
    panel = window.messages
    return [text for row, text in enumerate(panel.texts())
            if panel.item(row).data(Qt.ItemDataRole.UserRole) == "error"]


def _save_model(project: TeachProject, trained_at: datetime) -> TaughtFiles:
    """The project's model as a training saves it: checkpoint, labels, the map of its one
    mistake and the report."""
    files = files_for(project.model_path)
    files.checkpoint.write_bytes(b"weights: the fake engine does not read them")
    files.labels.write_text("cats\ndogs\n")
    cat = project.samples("cats")[0]
    png = files.checkpoint.with_name(f"{files.checkpoint.stem}.mistakes") / f"1-{cat.stem}.png"
    solid_image(png, 200, (64, 48))
    evaluation = Evaluation(
        ("cats", "dogs"), HOLD_OUT, {"cats": 3, "dogs": 2}, {"cats": 1, "dogs": 1}, 0.5,
        {"cats": 0.0, "dogs": 1.0}, [[0, 1], [0, 1]], (Mistake(str(cat), "cats", "dogs", 0.9),),
        ("only 3 images of cats: aim for 10 or more",))
    write_report(files, {
        "trained_at": trained_at.isoformat(), "checkpoint": str(files.checkpoint),
        "recipe": {"name": "linear probe, then fine-tune layer4 + head",
                   **asdict(DEFAULT_RECIPE)},
        "result": {"best_stage": "fine-tune", "best_epoch": 3, "stopped": "early stopping",
                   "probe_val_accuracy": 0.5},
        **evaluation.to_dict(), "mistake_maps": [str(png)], "mistake_maps_trained_on": 0})
    return files


def _open_and_close(qtbot: Any, tmp_path: Path, project: TeachProject) -> None:
    """A session that opens ``project`` in the Teach pane, then quits with the pane open."""
    window = make_window(qtbot, tmp_path)
    qtbot.keyClick(window, Qt.Key.Key_T, _Ctrl)
    assert window.teach_project.open_project(project.root)
    window.close()


def _headings(window: MainWindow) -> list[str]:
    assert window.teach.dialog is not None
    return [label.text() for label in window.teach.dialog.results.findChildren(QLabel)
            if label.text().startswith("<b>")]


def test_after_a_relaunch_the_pane_its_project_and_its_last_training_results_are_back(
        qtbot: Any, tmp_path: Path) -> None:
    project = _project(tmp_path)
    window = make_window(qtbot, tmp_path)
    qtbot.keyClick(window, Qt.Key.Key_T, _Ctrl)
    assert window.teach_project.open_project(project.root)
    assert not window.actions_.training_results.isEnabled()  # nothing trained yet
    made = datetime.now().astimezone()
    files = _save_model(project, made)  # as the training in this session would
    window.close()

    engine = FakeEngine()
    again = make_window(qtbot, tmp_path, engine)
    pane = again.teach_pane
    assert again.teach_project.dock.isVisible()
    assert again.teach_project.dock.height() >= DOCK_FLOOR
    assert pane.project_label.text() == "Project: proj"
    qtbot.waitUntil(again.actions_.training_results.isEnabled, timeout=5000)
    assert _errors(again) == []

    again.actions_.training_results.trigger()  # Teach > Show training results
    dialog = again.teach.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    results = dialog.results
    summary = results.summary.text()
    assert "Validation accuracy 50%</b> (hold-out split) on 2 images" in summary
    assert "Kept: fine-tune epoch 3; stopped early" in summary
    assert f"Recipe: {DEFAULT_RECIPE.describe()}." in summary
    assert f"Trained {made:%Y-%m-%d %H:%M} on 5 images." in summary
    assert results.notice.isHidden()  # the project is as it was trained
    assert not dialog.log.isVisible() and not dialog.progress.isVisible()
    table = results.table
    assert [[int(table.item(r, c).text()) for c in range(2)] for r in range(2)] == [[0, 1],
                                                                                   [0, 1]]
    assert table.item(0, 2).text() == "0%" and table.item(1, 2).text() == "100%"
    assert "only 3 images of cats" in results.warnings.text() and results.warnings.isVisible()
    [tile] = results.findChildren(QWidget, "map-tile")  # the mistake's map, as saved
    assert tile.toolTip().endswith("cats, taken for dogs (90%)")
    [gallery] = [h for h in _headings(again) if "map of their class" in h]
    assert "not saved with the model" in gallery

    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.loads[-1].weights == str(files.checkpoint), timeout=5000)
    assert engine.loads[-1].labels == str(files.labels)

    # An image dropped on dogs: the results are no longer those of the project's images.
    solid_image(tmp_path / "more" / "dog9.png", 150, (40, 30))
    _drop(pane.classes.viewport(), [tmp_path / "more" / "dog9.png"], _row_centre(again, "dogs"))
    qtbot.waitUntil(results.notice.isVisible, timeout=5000)
    assert results.notice.text().startswith(
        f"⚠ The project has changed since this training ({made:%Y-%m-%d %H:%M})")
    assert "not of its 6 images in 2 classes now" in results.notice.text()


def test_a_project_changed_between_sessions_is_not_shown_as_trained_on_its_images(
        qtbot: Any, tmp_path: Path) -> None:
    project = _project(tmp_path)
    _save_model(project, datetime.now().astimezone() - timedelta(days=2))
    project.add_files("dogs", [solid_image(tmp_path / "dog7.png", 90, (40, 30))])
    _open_and_close(qtbot, tmp_path, project)

    again = make_window(qtbot, tmp_path)
    qtbot.waitUntil(again.actions_.training_results.isEnabled, timeout=5000)
    again.actions_.training_results.trigger()
    results = again.teach.dialog.results
    assert results.notice.isVisible()
    assert "not of its 6 images in 2 classes now" in results.notice.text()
    assert "on 5 images." in results.summary.text()


def test_a_damaged_report_leaves_show_training_results_off_with_one_line(
        qtbot: Any, tmp_path: Path) -> None:
    project = _project(tmp_path)
    files = _save_model(project, datetime.now().astimezone())
    files.report.write_text('{"classes": ["cats", "dogs"], "accuracy": ')  # cut short
    _open_and_close(qtbot, tmp_path, project)

    again = make_window(qtbot, tmp_path)
    qtbot.waitUntil(lambda: any("report.json" in t for t in again.messages.texts()),
                    timeout=5000)
    [line] = [t for t in again.messages.texts() if "report.json" in t]
    assert line == (f"{files.report}: cannot be read (not valid JSON: Expecting value, line 1)"
                    ": the training results cannot be shown")
    assert not again.actions_.training_results.isEnabled()
    assert not any("Traceback" in t for t in again.messages.texts())


def test_a_model_without_its_report_leaves_show_training_results_off_without_a_word(
        qtbot: Any, tmp_path: Path) -> None:
    project = _project(tmp_path)
    _save_model(project, datetime.now().astimezone()).report.unlink()
    _open_and_close(qtbot, tmp_path, project)

    again = make_window(qtbot, tmp_path)
    assert again.teach_pane.project_label.text() == "Project: proj"
    qtbot.waitUntil(lambda: again.background.pending == 0, timeout=5000)
    assert not again.actions_.training_results.isEnabled()
    assert not any("report" in t for t in again.messages.texts())


def test_a_pane_closed_at_exit_stays_closed_and_a_deleted_project_opens_it_empty(
        qtbot: Any, tmp_path: Path) -> None:
    _open_and_close(qtbot, tmp_path, _project(tmp_path))
    shutil.rmtree(tmp_path / "proj")  # deleted between two sessions

    again = make_window(qtbot, tmp_path)
    assert again.teach_project.dock.isVisible()
    assert again.teach_pane.project_label.text() == NO_PROJECT
    assert not again.teach_pane.train_button.isEnabled()
    assert _errors(again) == []
    qtbot.keyClick(again, Qt.Key.Key_T, _Ctrl)  # the pane closed, then the app
    assert not again.teach_project.dock.isVisible()
    again.close()

    third = make_window(qtbot, tmp_path)
    assert not third.teach_project.dock.isVisible()


def test_train_from_folder_starts_where_images_were_last_opened(
        qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    window = make_window(qtbot, tmp_path)
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda _parent, _title, start: asked.append(start) or ""))
    window.actions_.train_from_folder.trigger()  # nothing opened yet: the home folder
    assert asked == [str(Path.home())]

    picture = solid_image(tmp_path / "pictures" / "cat.png", 40, (40, 30))
    _drop(window, [picture], QPoint(300, 300))  # from a file manager onto the window
    qtbot.waitUntil(lambda: window.images.paths() == [picture], timeout=5000)
    window.actions_.train_from_folder.trigger()
    assert asked[-1] == str(tmp_path / "pictures")


def _relaunched_with_results(qtbot: Any, tmp_path: Path
                             ) -> tuple[TaughtFiles, FakeEngine, MainWindow, Any]:
    """A project trained earlier, the window relaunched on it, its saved results shown."""
    project = _project(tmp_path)
    files = _save_model(project, datetime.now().astimezone())
    _open_and_close(qtbot, tmp_path, project)
    engine = FakeEngine()
    again = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: again.model_info is not None, timeout=5000)
    qtbot.waitUntil(again.actions_.training_results.isEnabled, timeout=5000)
    again.actions_.training_results.trigger()
    return files, engine, again, again.teach.dialog.results


def test_use_this_model_is_offered_again_once_the_window_switched_to_another_model(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: after Use this model, then another model chosen in the
    # model list, the results still said "Model in use" (greyed), with no way back to it.
    files, engine, again, results = _relaunched_with_results(qtbot, tmp_path)
    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.model_info is not None
                    and again.model_info.model == files.checkpoint.stem, timeout=5000)
    assert not results.use_button.isEnabled()
    assert results.use_button.text() == "Model in use"

    qtbot.mouseClick(again.teach.dialog.close_button, Qt.MouseButton.LeftButton)
    again.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is again, timeout=3000)
    combo = again.model_controls.model_combo
    combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is combo, timeout=3000)
    qtbot.keyClick(combo, Qt.Key.Key_Up)  # from the checkpoint to the last official model
    qtbot.waitUntil(lambda: again.model_info.model == combo.currentText(), timeout=5000)
    assert engine.loads[-1].weights is None
    again.actions_.training_results.trigger()  # Teach > Show training results
    assert results.use_button.isEnabled() and results.use_button.text() == "Use this model"

    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: engine.loads[-1].weights == str(files.checkpoint), timeout=5000)
    qtbot.waitUntil(lambda: again.model_info.model == files.checkpoint.stem, timeout=5000)
    assert results.use_button.text() == "Model in use"  # its own load keeps it marked


def test_use_this_model_is_offered_again_when_the_checkpoint_does_not_load(
        qtbot: Any, tmp_path: Path) -> None:
    # Found by driving the window: the checkpoint moved away, Use this model said "no such
    # file (still using ...)" and the button stayed "Model in use", greyed: no retry.
    files, engine, again, results = _relaunched_with_results(qtbot, tmp_path)
    load = engine.load

    def checkpoint_gone(request: Any, progress: Any, cancel: Any) -> Any:
        if request.weights == str(files.checkpoint):
            raise LensError(f"{files.checkpoint}: no such file")
        return load(request, progress, cancel)

    engine.load = checkpoint_gone  # type: ignore[method-assign]
    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("no such file (still using" in t
                                for t in again.messages.texts()), timeout=5000)
    assert results.use_button.isEnabled() and results.use_button.text() == "Use this model"

    engine.load = load  # type: ignore[method-assign]  # the file is back
    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.model_info.model == files.checkpoint.stem, timeout=5000)
    assert results.use_button.text() == "Model in use"
