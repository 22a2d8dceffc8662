"""The Teach pane, driven as a user does: folders and files dropped on it, classes named by
typing, samples removed with Delete, frames captured from a video while C or the button is
held, and everything there again after the window is closed and reopened."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRect, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QWidget,
)
from support.teach_data import solid_image
from support.ui_helpers import make_window
from support.video_utils import make_test_video

from desktop_app.core.teach_project import MANIFEST, TeachProject
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.widgets.teach_pane import NO_PROJECT, TeachPane

_Copy = Qt.DropAction.CopyAction
_Left = Qt.MouseButton.LeftButton
_NoMod = Qt.KeyboardModifier.NoModifier


def _class_folder(root: Path) -> Path:
    for i in range(3):
        solid_image(root / "cats" / f"cat{i}.png", 10 + i, (40, 30))
    for i in range(2):
        solid_image(root / "dogs" / f"dog{i}.jpg", 100 + i, (40, 30))
    return root


def _drop(target: QWidget, paths: list[Path], at: QPoint) -> None:
    """A file manager's drag: enter at ``at`` (in ``target``'s coordinates), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(at, _Copy, mime, _Left, _NoMod)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(at), _Copy, mime, _Left, _NoMod)
    QApplication.sendEvent(target, drop)
    assert drop.isAccepted()


def _rows(pane: TeachPane) -> list[tuple[str, str]]:
    tree = pane.classes
    return [(tree.topLevelItem(r).text(0), tree.topLevelItem(r).text(1))
            for r in range(tree.topLevelItemCount())]


def _row_centre(pane: TeachPane, name: str) -> QPoint:
    item = next(pane.classes.topLevelItem(r) for r in range(pane.classes.topLevelItemCount())
                if pane.classes.topLevelItem(r).text(0) == name)
    return pane.classes.visualItemRect(item).center()


def _click_class(qtbot: Any, pane: TeachPane, name: str) -> None:
    qtbot.mouseClick(pane.classes.viewport(), _Left, pos=_row_centre(pane, name))
    assert pane.current_class == name


def _wait_thumbnails(qtbot: Any, pane: TeachPane, count: int) -> None:
    def loaded() -> None:
        assert pane.thumbnails.count() == count
        assert all(not pane.thumbnails.item(r).icon().isNull() for r in range(count))

    qtbot.waitUntil(loaded, timeout=5000)


def _errors(window: MainWindow) -> list[str]:
    panel = window.messages
    return [text for row, text in enumerate(panel.texts())
            if panel.item(row).data(Qt.ItemDataRole.UserRole) == "error"]


def _new_project(qtbot: Any, window: MainWindow, root: Path) -> TeachPane:
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    pane = window.teach_pane
    assert window.teach_project.dock.isVisible() and pane.project_label.text() == NO_PROJECT
    assert window.teach_project.new_project(root)
    return pane


def test_a_project_made_by_dropping_typing_and_deleting_reopens_the_same(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    assert "Add at least two classes" in pane.warning_label.text()
    assert not pane.train_button.isEnabled()

    # A folder with one sub-folder per class, dropped on the empty class list.
    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(20, 60))
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "2")], timeout=5000)
    assert pane.current_class == "cats"
    _wait_thumbnails(qtbot, pane, 3)
    assert pane.warning_label.isHidden() and pane.train_button.isEnabled()

    # Renamed by typing: F2 on the selected class, a new name, Enter.
    _click_class(qtbot, pane, "dogs")
    qtbot.keyClick(pane.classes, Qt.Key.Key_F2)
    editor = QApplication.focusWidget()
    assert editor is not pane.classes
    qtbot.keyClicks(editor, "  puppies ")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("puppies", "2")], timeout=3000)

    # The second thumbnail of "cats" clicked, then Delete with the focus on the thumbnails.
    _click_class(qtbot, pane, "cats")
    _wait_thumbnails(qtbot, pane, 3)
    second = pane.thumbnails.item(1)
    doomed = pane.sample_paths()[1]
    qtbot.mouseClick(pane.thumbnails.viewport(), _Left,
                     pos=pane.thumbnails.visualItemRect(second).center())
    assert pane.thumbnails.hasFocus()
    qtbot.keyClick(pane.thumbnails, Qt.Key.Key_Delete)
    assert _rows(pane) == [("cats", "2"), ("puppies", "2")]
    assert pane.thumbnails.count() == 2 and not doomed.exists()
    assert doomed not in pane.sample_paths()
    kept = pane.sample_paths()
    window.close()

    # A new window: Ctrl+T brings back the last project as it was.
    again = make_window(qtbot, tmp_path)
    qtbot.keyClick(again, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    pane = again.teach_pane
    assert pane.project_label.text() == "Project: proj"
    assert _rows(pane) == [("cats", "2"), ("puppies", "2")]
    assert pane.sample_paths() == kept
    assert again.teach_project.project is not None
    dataset = again.teach_project.project.dataset()
    assert dataset.classes == ("cats", "puppies") and dataset.counts() == {"cats": 2,
                                                                           "puppies": 2}
    assert again.teach_project.project.model_path.parent == tmp_path / "proj" / "model"


def test_a_project_made_from_the_menu_takes_its_first_class_from_the_keyboard(
        qtbot: Any, tmp_path: Path) -> None:
    """After *New teaching project…* the keyboard went back to the picture: Tab after Tab
    through the side panel before *Add class* could be reached."""
    window = make_window(qtbot, tmp_path)
    window.view.setFocus()

    def name_the_folder() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, QFileDialog)
        dialog.selectFile(str(tmp_path / "proj"))
        dialog.accept()

    QTimer.singleShot(0, name_the_folder)
    window.actions_.new_teach_project.trigger()
    pane = window.teach_pane
    assert pane.project_label.text() == "Project: proj"
    window.activateWindow()  # the dialog gone, as a window manager does
    qtbot.waitUntil(lambda: QApplication.focusWidget() is pane.classes, timeout=3000)

    qtbot.keyClick(pane.classes, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is pane.add_class_button
    qtbot.keyClick(pane.add_class_button, Qt.Key.Key_Space)
    editor = QApplication.focusWidget()
    qtbot.keyClicks(editor, "cats")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "0")], timeout=3000)


def test_files_dropped_on_a_class_go_there_and_a_text_file_is_refused(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    qtbot.mouseClick(pane.add_class_button, _Left)
    # A new class is named at once: its name is open for typing.
    qtbot.keyClicks(QApplication.focusWidget(), "red")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.mouseClick(pane.add_class_button, _Left)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)  # keeps "Class 2"
    qtbot.waitUntil(lambda: _rows(pane) == [("red", "0"), ("Class 2", "0")], timeout=3000)
    assert "Needs at least 2 images: red, Class 2." in pane.warning_label.text()

    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    files = [solid_image(tmp_path / f"r{i}.png", 200 + i, (40, 30)) for i in range(2)]
    _drop(pane.classes.viewport(), [*files, notes], _row_centre(pane, "red"))
    qtbot.waitUntil(lambda: _rows(pane)[0] == ("red", "2"), timeout=5000)
    assert any("notes.txt: not an image file, not added" in m for m in _errors(window))
    # Dropped on the thumbnails: into the class shown there.
    _click_class(qtbot, pane, "Class 2")
    _drop(pane.thumbnails.viewport(), [files[0]], QPoint(30, 30))
    qtbot.waitUntil(lambda: _rows(pane)[1] == ("Class 2", "1"), timeout=5000)
    _wait_thumbnails(qtbot, pane, 1)
    assert "Needs at least 2 images: Class 2." in pane.warning_label.text()


def test_the_hint_above_the_thumbnails_names_the_class_clicked(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    assert pane.samples_label.text().startswith("Add a class")
    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(30, 30))
    qtbot.waitUntil(lambda: [n for n, _ in _rows(pane)] == ["cats", "dogs"], timeout=5000)
    for name in ("dogs", "cats"):
        _click_class(qtbot, pane, name)
        assert pane.samples_label.text().startswith(f"{name}: drop images or folders here")
    qtbot.keyClick(pane.classes, Qt.Key.Key_Down)  # the keyboard's way too
    assert pane.current_class == "dogs"
    assert pane.samples_label.text().startswith("dogs: drop images or folders here")


def test_a_name_taken_by_another_class_is_refused_and_the_old_name_stays(
        qtbot: Any, tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("cat")
    project.add_class("dog")
    window = make_window(qtbot, tmp_path)
    assert window.teach_project.open_project(project.root)
    pane = window.teach_pane
    _click_class(qtbot, pane, "dog")
    qtbot.mouseClick(pane.rename_button, _Left)
    qtbot.keyClicks(QApplication.focusWidget(), "CAT")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "there is already a class named 'CAT'" in _errors(window),
                    timeout=3000)
    qtbot.waitUntil(lambda: _rows(pane) == [("cat", "0"), ("dog", "0")], timeout=3000)
    assert TeachProject.open(project.root).classes == ("cat", "dog")


def test_removing_a_class_with_images_asks_first(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("a")
    project.add_files("a", [solid_image(tmp_path / "a.png", 1, (40, 30))])
    project.add_class("b")
    window = make_window(qtbot, tmp_path)
    window.teach_project.open_project(project.root)
    pane = window.teach_pane
    asked: list[str] = []
    answer = QMessageBox.StandardButton.No

    def question(_parent: Any, _title: str, text: str, *_args: Any) -> Any:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    qtbot.mouseClick(pane.remove_class_button, _Left)
    assert asked == ["Remove the class 'a' and its 1 image from the project?"]
    assert _rows(pane) == [("a", "1"), ("b", "0")]
    answer = QMessageBox.StandardButton.Yes
    qtbot.mouseClick(pane.remove_class_button, _Left)
    assert _rows(pane) == [("b", "0")] and pane.current_class == "b"
    qtbot.mouseClick(pane.remove_class_button, _Left)  # no images: no question
    assert len(asked) == 2 and _rows(pane) == []
    assert not pane.capture_button.isEnabled()
    assert json.loads((project.root / MANIFEST).read_text())["classes"] == []


# A video whose name (and so its window title) holds what no file name may on Windows.
HOSTILE_VIDEO = 'CON: a\\b*c?<d>|"e .avi'


def _wait_for_video(qtbot: Any, window: MainWindow, tmp_path: Path) -> None:
    window.start_video(make_test_video(tmp_path / HOSTILE_VIDEO, 60, size=(160, 120)))
    qtbot.waitUntil(lambda: window.live.latest_frame() is not None, timeout=10_000)


def _window_with_class_hand(qtbot: Any, tmp_path: Path) -> tuple[MainWindow, TeachPane]:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class("hand")
    window = make_window(qtbot, tmp_path)
    assert window.teach_project.open_project(project.root)
    return window, window.teach_pane


def test_holding_c_captures_a_few_frames_a_second_from_the_video(
        qtbot: Any, tmp_path: Path) -> None:
    window, pane = _window_with_class_hand(qtbot, tmp_path)
    _wait_for_video(qtbot, window, tmp_path)
    pane.classes.setFocus()
    qtbot.keyPress(pane.classes, Qt.Key.Key_C)
    # Held: the system repeats the key, marked as repeats or (XTest, some X servers) as
    # plain release + press pairs; neither may start a new capture.
    for marked in (True, False, True):
        qtbot.wait(300)
        for kind in (QEvent.Type.KeyRelease, QEvent.Type.KeyPress):
            QApplication.sendEvent(pane.classes, QKeyEvent(kind, Qt.Key.Key_C, _NoMod, "c",
                                                           marked))
        assert window.teach_project.capturing
    qtbot.keyRelease(pane.classes, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: not window.teach_project.capturing, timeout=1000)
    assert len([m for m in window.messages.texts() if m.startswith("Captured ")]) == 1
    # About 1 s at 4 frames a second; the label says how many, and that many arrive.
    label = pane.capture_label.text()
    assert label.startswith("Captured ") and label.endswith(" frames into hand")
    captured = int(label.split()[1])
    assert 2 <= captured <= 6  # 4 nominal; a loaded machine fires timers late
    qtbot.waitUntil(lambda: _rows(pane) == [("hand", str(captured))], timeout=5000)
    _wait_thumbnails(qtbot, pane, captured)
    files = TeachProject.open(tmp_path / "proj").samples("hand")
    assert len(files) == captured
    # Named by class, time and number in the capture, not by the video's hostile title.
    labels = [pane.thumbnails.item(r).text() for r in range(captured)]
    assert [re.fullmatch(r"hand-\d{8}-\d{6}-(\d{3})\.png", t)[1] for t in labels] == [
        f"{n:03d}" for n in range(1, captured + 1)]
    assert all(re.fullmatch(r"[0-9a-f]{8}-hand-[\d-]+\.png", f.name) for f in files)
    assert np.asarray(Image.open(files[0])).shape == (120, 160, 3)

    # The button, held with the mouse, does the same.
    qtbot.mousePress(pane.capture_button, _Left)
    qtbot.wait(700)
    assert "Capturing into hand:" in pane.capture_label.text()
    qtbot.mouseRelease(pane.capture_button, _Left)
    qtbot.waitUntil(lambda: int(_rows(pane)[0][1]) >= captured + 2, timeout=5000)
    assert not window.teach_project.capturing


def test_capture_without_a_running_source_says_how_to_start_one(
        qtbot: Any, tmp_path: Path) -> None:
    window, pane = _window_with_class_hand(qtbot, tmp_path)
    qtbot.mousePress(pane.capture_button, _Left)
    qtbot.mouseRelease(pane.capture_button, _Left)
    # C held with the focus on any of the pane's buttons asks the same.
    pane.add_images_button.setFocus()
    qtbot.keyPress(pane.add_images_button, Qt.Key.Key_C)
    qtbot.keyRelease(pane.add_images_button, Qt.Key.Key_C)
    assert len([m for m in _errors(window)
                if "Start the camera (Ctrl+K) or open a video" in m]) == 2
    assert not window.teach_project.capturing and _rows(pane) == [("hand", "0")]


def test_train_hands_over_the_dataset_read_in_the_background_and_the_model_path(
        qtbot: Any, tmp_path: Path) -> None:
    project = TeachProject.create(tmp_path / "proj")
    project.add_class_folder(_class_folder(tmp_path / "data"))
    window = make_window(qtbot, tmp_path)
    window.teach_project.open_project(project.root)
    pane = window.teach_pane
    assert pane.train_button.isEnabled()
    gone = project.samples("cats")[0]
    gone.unlink()  # behind the app's back
    with qtbot.waitSignal(window.teach_project.train_requested, timeout=5000) as asked:
        qtbot.mouseClick(pane.train_button, _Left)
    dataset, model_path = asked.args
    assert dataset.classes == ("cats", "dogs") and dataset.counts() == {"cats": 2, "dogs": 2}
    assert model_path == project.model_path
    assert f"{gone}: No such file or directory, left out" in _errors(window)
    assert pane.train_button.isEnabled()


def test_a_damaged_project_is_one_message_and_the_pane_stays_usable(
        qtbot: Any, tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / MANIFEST).write_text("{broken")
    window = make_window(qtbot, tmp_path)
    assert not window.teach_project.open_project(root)
    (message,) = _errors(window)
    assert message.startswith(f"{root / MANIFEST}: damaged (not valid JSON")
    assert window.teach_pane.project_label.text() == NO_PROJECT
    assert window.teach_project.new_project(tmp_path / "other")


def test_add_folder_adds_classes_or_images_for_the_selected_class(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    window = make_window(qtbot, tmp_path)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    assert pane.add_folder_button.isEnabled() and not pane.add_images_button.isEnabled()
    chosen = [_class_folder(tmp_path / "data")]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        lambda *_args: str(chosen.pop(0)))
    qtbot.mouseClick(pane.add_folder_button, _Left)
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "2")], timeout=5000)
    # A plain folder of images: into the selected class.
    for i in range(2):
        solid_image(tmp_path / "more" / f"m{i}.png", 60 + i, (40, 30))
    chosen.append(tmp_path / "more")
    _click_class(qtbot, pane, "dogs")
    qtbot.mouseClick(pane.add_folder_button, _Left)
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "4")], timeout=5000)
    _wait_thumbnails(qtbot, pane, 4)


def test_the_open_pane_fits_a_640_by_480_window(qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    window.teach_project.add_class()
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    window.resize(640, 480)
    qtbot.waitUntil(lambda: window.width() == 640 and window.height() == 480, timeout=3000)
    assert pane.width() <= 640 and window.view.height() >= 150
    assert all(b.isVisible() and b.width() >= b.minimumSizeHint().width()
               for b in (pane.capture_button, pane.train_button, pane.add_folder_button))
    # The capture counter is read in full, beside a warning (it used to be cut to "Captu").
    pane.set_warnings(["Needs at least 2 images: Class 1."], trainable=False)
    text = "Capturing into Class 1: 12"
    pane.set_capture_count(text)
    qtbot.waitUntil(lambda: pane.capture_label.width()
                    >= pane.capture_label.fontMetrics().horizontalAdvance(text), timeout=3000)
    assert pane.capture_label.isVisible() and pane.warning_label.isVisible()


def test_the_thumbnails_show_whole_with_their_names_in_the_pane_as_it_opens(
        qtbot: Any, tmp_path: Path) -> None:
    """The pane opened at its least height, and the list's least cut a row of thumbnails
    in half: the bottom of each picture and every name under it were out of sight."""
    window = make_window(qtbot, tmp_path)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(20, 60))
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "2")], timeout=5000)
    _wait_thumbnails(qtbot, pane, 3)
    scroll, thumbnails = _pane_scroll(window), pane.thumbnails

    def whole() -> None:
        assert _in_view(scroll, thumbnails)  # the pane itself does not scroll it away
        for row in range(thumbnails.count()):
            assert thumbnails.viewport().rect().contains(
                thumbnails.visualItemRect(thumbnails.item(row)))

    qtbot.waitUntil(whole, timeout=3000)


def _button_places(pane: TeachPane) -> dict[str, QRect]:
    return {b.text(): QRect(b.mapTo(pane, QPoint(0, 0)), b.size())
            for b in pane.findChildren(QPushButton)}


@pytest.mark.parametrize("size", [(640, 480), (1000, 700)])
def test_the_panes_buttons_stay_put_when_a_warning_comes_and_goes(
        qtbot: Any, tmp_path: Path, size: tuple[int, int]) -> None:
    """A button must not slide away under the mouse because a warning appeared."""
    window = make_window(qtbot, tmp_path)
    window.resize(*size)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    qtbot.waitUntil(lambda: pane.warning_label.isVisible(), timeout=3000)
    qtbot.wait(50)  # the pane settles at its height
    with_warning = _button_places(pane)

    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(20, 60))
    qtbot.waitUntil(lambda: pane.warning_label.isHidden(), timeout=5000)
    qtbot.wait(50)  # the layout settles
    assert _button_places(pane) == with_warning

    # A long warning (one class left with one image) in the same room.
    _click_class(qtbot, pane, "dogs")
    pane.thumbnails.setFocus()
    qtbot.keyClick(pane.thumbnails, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(pane.thumbnails, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: pane.warning_label.isVisible(), timeout=5000)
    qtbot.wait(50)
    assert _button_places(pane) == with_warning


def _pane_scroll(window: MainWindow) -> QScrollArea:
    scroll = window.teach_project.dock.widget()
    assert isinstance(scroll, QScrollArea) and scroll.widget() is window.teach_pane
    return scroll


def _in_view(scroll: QScrollArea, widget: QWidget) -> bool:
    """Whether all of ``widget`` shows in the scroll area's viewport."""
    top_left = widget.mapTo(scroll.viewport(), QPoint(0, 0))
    return scroll.viewport().rect().contains(QRect(top_left, widget.size()))


def test_at_640_by_480_with_a_folder_and_the_teach_pane_the_picture_keeps_its_room(
        qtbot: Any, tmp_path: Path) -> None:
    """The pane under the picture and the filmstrip left the picture ~70 px of 480."""
    window = make_window(qtbot, tmp_path)
    folder = tmp_path / "photos"
    for i in range(6):
        solid_image(folder / f"IMG_{i:04d}_holiday.png", 20 * i, (64, 48))
    window.open_paths([folder])
    qtbot.waitUntil(lambda: window.filmstrip.isVisible(), timeout=5000)
    window.resize(640, 480)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (640, 480), timeout=3000)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(20, 60))
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "2")], timeout=5000)
    qtbot.waitUntil(lambda: window.view.height() >= 0.4 * 480, timeout=3000)
    assert window.filmstrip.isVisible() and window.teach_project.dock.isVisible()
    # The filmstrip's names still tell the images apart.
    labels = [window.filmstrip.item(r).text() for r in range(window.filmstrip.count())]
    assert len(set(labels)) == len(labels)
    # Every control of the pane is there to reach: Tab scrolls the pane to it.
    scroll = _pane_scroll(window)
    assert not _in_view(scroll, pane.capture_button)  # the pane scrolls: it is below
    pane.classes.setFocus()
    for _ in range(12):
        if QApplication.focusWidget() is pane.capture_button:
            break
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is pane.capture_button
    assert _in_view(scroll, pane.capture_button)

    # A large window: the pane takes its height back and shows whole, the picture most.
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.teach_project.dock.height() >= 230, timeout=3000)
    qtbot.waitUntil(lambda: not scroll.verticalScrollBar().isVisible(), timeout=3000)
    assert window.view.height() >= 0.45 * 900
    assert all(_in_view(scroll, b) for b in pane.findChildren(QPushButton))


def test_a_window_made_small_and_large_again_gives_the_pane_all_of_its_height_back(
        qtbot: Any, tmp_path: Path) -> None:
    """The window's layout shrank the pane before it heard of the resize, and the height
    it took back was that smaller one: the pane scrolled in the large window again."""
    window = make_window(qtbot, tmp_path)
    window.resize(1200, 780)
    qtbot.waitUntil(lambda: window.height() == 780, timeout=3000)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(20, 60))
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "2")], timeout=5000)
    scroll, dock = _pane_scroll(window), window.teach_project.dock
    qtbot.waitUntil(lambda: _in_view(scroll, pane.capture_button), timeout=3000)
    before = dock.height()

    window.resize(640, 480)
    qtbot.waitUntil(lambda: dock.height() < before, timeout=3000)
    window.resize(1200, 780)

    qtbot.waitUntil(lambda: dock.height() == before, timeout=3000)
    assert not scroll.verticalScrollBar().isVisible()
    assert all(_in_view(scroll, b) for b in pane.findChildren(QPushButton))


def test_on_a_640_by_480_screen_the_name_of_a_class_being_typed_is_in_view(
        qtbot: Any, tmp_path: Path) -> None:
    """Add class, reached with Tab at the bottom of the scrolled pane, opened the new name
    for typing at the top of the class list, out of view: the user typed blind. (The
    window is 454 high: a 640 × 480 screen's, less its title bar.)"""
    window = make_window(qtbot, tmp_path)
    window.resize(640, 454)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (640, 454), timeout=3000)
    pane = _new_project(qtbot, window, tmp_path / "proj")
    _drop(pane.classes.viewport(), [_class_folder(tmp_path / "data")], QPoint(20, 60))
    qtbot.waitUntil(lambda: _rows(pane) == [("cats", "3"), ("dogs", "2")], timeout=5000)
    scroll = _pane_scroll(window)
    pane.classes.setFocus()
    qtbot.keyClick(pane.classes, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is pane.add_class_button
    qtbot.waitUntil(lambda: _in_view(scroll, pane.add_class_button), timeout=3000)
    assert scroll.verticalScrollBar().value() > 0  # the pane scrolled down to the button

    qtbot.keyClick(pane.add_class_button, Qt.Key.Key_Space)

    editor = QApplication.focusWidget()
    assert editor is not pane.add_class_button and pane.classes.isAncestorOf(editor)
    qtbot.waitUntil(lambda: _in_view(scroll, editor), timeout=3000)


def test_opened_in_a_640_by_480_window_the_pane_leaves_the_picture_its_room(
        qtbot: Any, tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path)
    window.resize(640, 480)
    qtbot.waitUntil(lambda: (window.width(), window.height()) == (640, 480), timeout=3000)
    _new_project(qtbot, window, tmp_path / "proj")
    folder = tmp_path / "photos"
    for i in range(3):
        solid_image(folder / f"{i}.png", 40 * i, (64, 48))
    window.open_paths([folder])  # the filmstrip comes after the pane
    qtbot.waitUntil(lambda: window.filmstrip.isVisible(), timeout=5000)
    qtbot.waitUntil(lambda: window.view.height() >= 0.4 * 480, timeout=3000)
