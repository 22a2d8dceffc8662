"""The Teach pane's controller: opens a teaching project and applies what the user does in
the pane to it (classes, dropped files, captured frames, removed samples).

Copying files, saving frames as PNG and making thumbnails run in the background pool;
only :class:`TeachProject`'s manifest changes happen here, on the GUI thread, so the
project needs no lock. Training is not done here: ``train_requested`` hands whoever trains
the project's dataset (read off the GUI thread) and the path its model goes to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QMainWindow,
    QMessageBox,
    QScrollArea,
)

from desktop_app.core.dataset import Dataset, Skipped
from desktop_app.core.errors import LensError, one_line
from desktop_app.core.image_io import IMAGE_EXTENSIONS
from desktop_app.core.teach_project import (
    MANIFEST,
    Copied,
    TeachProject,
    has_class_folders,
    read_class_folder,
)
from desktop_app.ui.controllers.background import Background
from desktop_app.ui.controllers.image_list import Entry, thumbnail
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings
from desktop_app.ui.widgets.teach_pane import TeachPane

if TYPE_CHECKING:
    from desktop_app.capture import Frame

log = logging.getLogger(__name__)

CAPTURE_INTERVAL_MS = 250  # 4 frames a second: different enough to be worth keeping
DOCK_HEIGHT = 230  # one row of thumbnails: the picture and the predictions keep their room
# The least a short window leaves the pane: its top row and a little of its lists; the
# rest scrolls.
DOCK_FLOOR = 120
NO_LIVE = "Start the camera (Ctrl+K) or open a video to capture frames from it"


def _import_class_folders(project: TeachProject, folders: Sequence[Path],
                          ) -> tuple[list[tuple[str, Copied]], list[Skipped]]:
    """Runs in the background pool: copies each class sub-folder's images in."""
    classes: list[tuple[str, Copied]] = []
    skipped: list[Skipped] = []
    for folder in folders:
        found = read_class_folder(folder)
        skipped += found.skipped
        classes += [(name, project.copy_in(files)) for name, files in found.classes]
    return classes, skipped


def _amount(n: int, noun: str) -> str:
    """"1 image", "3 images"; ``noun`` is the singular (these take an "s" or "es")."""
    if n == 1:
        return f"1 {noun}"
    return f"{n} {noun}{'es' if noun.endswith('s') else 's'}"


def _attach_to_class(project: TeachProject, name: str, samples: Sequence[str]) -> None:
    project.attach(project.ensure_class(name), samples)


def _delete(project: TeachProject, samples: Sequence[str]) -> None:
    """Copies that no class came to name (it was removed, or its name refused)."""
    for rel in samples:
        (project.root / rel).unlink(missing_ok=True)


class TeachProjectController(QObject):
    message = Signal(str, str)  # text, level
    project_changed = Signal()  # opened, closed, or its classes or samples changed
    # The pane's Train… with the project read (files hashed) off the GUI thread:
    # (Dataset, model_path), for whoever trains.
    train_requested = Signal(object, object)

    def __init__(self, window: QMainWindow, settings: Settings, background: Background,
                 latest_frame: Callable[[], Frame | None], dock_room: Callable[[], int],
                 ) -> None:
        """``dock_room``: how tall the pane may be with the picture keeping its share of
        the window's height."""
        super().__init__(window)
        self._window = window
        self._dock_room = dock_room
        self._squeezed_from: int | None = None  # the pane's height before the window shrank
        # The pane's height as last chosen (dragged, or fitted) with the window at the height
        # it has: the window's layout shrinks the pane before fit_dock hears of the resize,
        # so the height seen then is not the one to take back.
        self._chosen_height: int | None = None
        self._window_height = window.height()
        self._settings = settings
        self._background = background
        self._latest_frame = latest_frame
        self.project: TeachProject | None = None
        self._class: str | None = None
        self._thumb_jobs: list[int] = []
        self._capture_class: str | None = None
        self._captured = 0
        self._last_frame_index = -1
        self._capture_timer = QTimer(self, interval=CAPTURE_INTERVAL_MS)
        self._capture_timer.timeout.connect(self._capture_one)

        self.pane = TeachPane()
        # In a short window the pane scrolls instead of taking the picture's height.
        scroll = QScrollArea()
        scroll.setWidget(self.pane)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab scrolls to the focused control
        self.dock = QDockWidget("Teach", window)
        self.dock.setObjectName("teach_dock")
        self.dock.setWidget(scroll)
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        self.dock.visibilityChanged.connect(self._on_visibility_changed)
        self.dock.installEventFilter(self)
        p = self.pane
        p.new_requested.connect(self.ask_new)
        p.open_requested.connect(self.ask_open)
        p.add_class_requested.connect(self.add_class)
        p.rename_requested.connect(self.rename_class)
        p.remove_class_requested.connect(self.ask_remove_class)
        p.class_selected.connect(self.select_class)
        p.add_images_requested.connect(self.ask_add_images)
        p.add_folder_requested.connect(self.ask_add_folder)
        p.remove_samples_requested.connect(self.remove_samples)
        p.files_dropped.connect(self.add_paths)
        p.capture_pressed.connect(self.start_capture)
        p.capture_released.connect(self.stop_capture)
        p.train_requested.connect(self.prepare_training)
        # In a short window the pane is scrolled to the button that opened the name, the
        # list's top row out of view: the name was typed blind.
        p.name_editing.connect(lambda editor: scroll.ensureWidgetVisible(editor))
        self._refresh()  # no project yet: nothing to add to or train

    # -- showing and opening ---------------------------------------------------------------
    @Slot()
    def show_pane(self) -> None:
        """Show the pane, reopening the last project if none is open."""
        self._show_dock()
        self._reopen_last()
        self._focus_pane()

    def restore_pane(self) -> None:
        """At a relaunch, after the window's state put the pane back as it was at close:
        if it was open, the last project in it again. A project folder since moved or
        deleted leaves the pane empty, without a word: the user may have meant to."""
        if not self.dock.isHidden():
            self._reopen_last()

    def _reopen_last(self) -> None:
        last = self._settings.teach_project
        if self.project is None and last and (Path(last) / MANIFEST).is_file():
            self.open_project(last)

    def _show_dock(self) -> None:
        if not self.dock.isVisible():
            self.dock.show()
            self._fit_dock(self._unscrolled_height())
        self.dock.raise_()

    @Slot()
    def fit_dock(self) -> None:
        """The window's height or the picture's neighbours changed: the pane gives way to
        keep the picture its share, and takes its height back when there is room again."""
        self._window_height = self._window.height()
        if self.dock.isVisible() and not self.dock.isFloating():
            self._fit_dock(self._squeezed_from or self._chosen_height or self.dock.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.dock and event.type() == QEvent.Type.Resize
                and self._squeezed_from is None
                and self._window.height() == self._window_height):
            self._chosen_height = self.dock.height()  # not a shrinking window's doing
        return False

    def _unscrolled_height(self) -> int:
        """At least DOCK_HEIGHT, and all of the pane at the window's width (a bottom dock
        spans it) with the dock's title: no scrolling where the window has room."""
        dock, scroll = self.dock.minimumSizeHint(), self.dock.widget().minimumSizeHint()
        title = dock.height() - scroll.height()
        return max(DOCK_HEIGHT, self.pane.heightForWidth(self._window.width()) + title)

    def _fit_dock(self, wanted: int) -> None:
        self._window_height = self._window.height()
        height = min(wanted, max(DOCK_FLOOR, self._dock_room()))
        self._squeezed_from = wanted if height < wanted else None
        self._window.resizeDocks([self.dock], [height], Qt.Orientation.Vertical)

    @Slot()
    def toggle_pane(self) -> None:
        if self.dock.isVisible():
            self.dock.hide()
        else:
            self.show_pane()

    @Slot()
    def ask_new(self) -> None:
        dialog = QFileDialog(self._window, "New teaching project: name a new folder for it",
                             str(Path(self._settings.last_dir or Path.home()) / "my-classes"))
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setLabelText(QFileDialog.DialogLabel.Accept, "Create")
        # Not "replace the file?": an existing file or folder is refused with its reason.
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite)
        if dialog.exec() and dialog.selectedFiles() and self.new_project(
                dialog.selectedFiles()[0]):
            self._focus_pane()

    @Slot()
    def ask_open(self) -> None:
        path = QFileDialog.getExistingDirectory(
            self._window, "Open teaching project (its folder)", self._settings.last_dir)
        if path and self.open_project(path):
            self._focus_pane()

    def _focus_pane(self) -> None:
        """The keyboard on the class list: after a project was made or opened it went back
        to the picture, many Tabs away from *Add class*."""
        self.pane.classes.setFocus()

    def new_project(self, path: str | Path) -> bool:
        return self._use(lambda: TeachProject.create(path))

    def open_project(self, path: str | Path) -> bool:
        return self._use(lambda: TeachProject.open(path))

    def _use(self, make: Callable[[], TeachProject]) -> bool:
        try:
            project = make()
        except LensError as exc:
            emit(self.message, one_line(exc), "error")
            return False
        self.stop_capture()
        self.project = project
        self._settings.teach_project = str(project.root)
        self._settings.last_dir = str(project.root.parent)
        self._show_dock()
        self._class = project.classes[0] if project.classes else None
        self._refresh()
        emit(self.project_changed)
        emit(self.message, f"Teaching project {project.name}: "
                           f"{_amount(len(project.classes), 'class')}, "
                           f"{_amount(sum(project.counts().values()), 'image')}", "info")
        return True

    # -- classes ---------------------------------------------------------------------------
    @Slot()
    def add_class(self) -> None:
        """A new class with a name that is free ("Class 3"), open for typing its own."""
        project = self.project
        if project is None:
            return
        taken = {c.casefold() for c in project.classes}
        number = len(project.classes) + 1
        while f"class {number}" in taken:
            number += 1
        if self._apply(lambda: project.add_class(f"Class {number}")):
            self._class = project.classes[-1]
            self._refresh()
            self.pane.edit_class(self._class)

    @Slot(str, str)
    def rename_class(self, old: str, new: str) -> None:
        project = self.project
        if project is None:
            return
        renamed: list[str] = []
        changed = self._apply(lambda: renamed.append(project.rename_class(old, new)))
        if changed and self._class == old:
            self._class = renamed[0]
        # Either way the list shows the saved name (the typed one, trimmed, or the old one).
        QTimer.singleShot(0, self._refresh)  # not from inside the list's own edit signal

    @Slot(str)
    def ask_remove_class(self, name: str) -> None:
        project = self.project
        if project is None:
            return
        count = project.counts().get(name, 0)
        if count and QMessageBox.question(
                self._window, "Remove class",
                f"Remove the class {name!r} and its {_amount(count, 'image')} from the project?",
        ) != QMessageBox.StandardButton.Yes:
            return
        self.remove_class(name)

    def remove_class(self, name: str) -> None:
        project = self.project
        if project is None or not self._apply(lambda: project.remove_class(name)):
            return
        if self._capture_class == name:
            self.stop_capture()
        if self._class == name:
            self._class = project.classes[0] if project.classes else None
        self._refresh()

    @Slot(str)
    def select_class(self, name: str) -> None:
        if name != self._class:
            self.stop_capture()
            self._class = name or None
            self.pane.set_capture_count("")
            self._show_samples()
            self._update_buttons()

    # -- samples ---------------------------------------------------------------------------
    @Slot()
    def ask_add_images(self) -> None:
        if self._class is None:
            return
        patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
        paths, _ = QFileDialog.getOpenFileNames(
            self._window, f"Add images to {self._class}", self._settings.last_dir,
            f"Images ({patterns});;All files (*)")
        if paths:
            self.add_paths(self._class, [Path(p) for p in paths])

    @Slot()
    def ask_add_folder(self) -> None:
        if self.project is None:
            return
        folder = QFileDialog.getExistingDirectory(
            self._window, "Add a folder (one sub-folder per class, or images for the "
                          "selected class)", self._settings.last_dir)
        if folder:
            self.add_paths(self._class or "", [Path(folder)])

    @Slot(str, list)
    def add_paths(self, target: str, paths: list[Path]) -> None:
        """Files and folders dropped on (or chosen for) class ``target`` ("" for none). A
        folder that holds sub-folders adds one class per sub-folder instead."""
        project = self.project
        if project is None:
            emit(self.message, "Create or open a teaching project first (Teach menu)", "error")
            return
        class_folders = [p for p in paths if has_class_folders(p)]
        loose = [p for p in paths if p not in class_folders]
        if class_folders:
            self._background.run(_import_class_folders, project, class_folders,
                                 callback=self._class_folders_done(project))
        if not loose:
            return
        if not target:
            emit(self.message, "Drop images onto a class (or drop a folder with one "
                               "sub-folder per class)", "error")
            return
        self._background.run(project.copy_in, loose,
                             callback=self._copied(project, target))

    def _copied(self, project: TeachProject, target: str) -> Callable[[Any, str | None], None]:
        def done(copied: Copied | None, error: str | None) -> None:
            if error is not None or copied is None:
                emit(self.message, f"Adding images failed: {error}", "error")
                return
            if project is self.project and self._apply(
                    lambda: project.attach(target, copied.samples)):
                self._after_adding(target, copied.samples)
            else:
                _delete(project, copied.samples)
            self._report(len(copied.samples), copied.skipped, target)
        return done

    def _class_folders_done(self, project: TeachProject) -> Callable[[Any, str | None], None]:
        def done(result: tuple[list[tuple[str, Copied]], list[Skipped]] | None,
                 error: str | None) -> None:
            if error is not None or result is None:
                emit(self.message, f"Adding the folder failed: {error}", "error")
                return
            classes, skipped = result
            if project is not self.project:  # another project was opened meanwhile
                for _name, copied in classes:
                    _delete(project, copied.samples)
                return
            added = 0
            for name, copied in classes:
                if self._apply(partial(_attach_to_class, project, name, copied.samples)):
                    added += len(copied.samples)
                else:  # a sub-folder whose name cannot be a class: its copies go again
                    _delete(project, copied.samples)
                skipped += copied.skipped
            if self._class is None and project.classes:
                self._class = project.classes[0]
            self._refresh()
            self._report(added, skipped, _amount(len(classes), "class"))
        return done

    def _report(self, added: int, skipped: Sequence[Skipped], into: str) -> None:
        for item in skipped:
            emit(self.message, f"{item.path}: {item.reason}, not added", "error")
        if added:
            emit(self.message, f"Added {_amount(added, 'image')} to {into}", "info")

    @Slot(list)
    def remove_samples(self, paths: list[Path]) -> None:
        project, name = self.project, self._class
        if project is None or name is None:
            return
        if self._apply(lambda: project.remove_samples(name, paths)):
            row = min(self.pane.thumbnails.currentRow(), project.counts()[name] - 1)
            self._show_samples()
            self.pane.thumbnails.setCurrentRow(max(row, 0))
            self._update_counts()

    # -- capture ---------------------------------------------------------------------------
    @Slot()
    def start_capture(self) -> None:
        if self.project is None or self._class is None or self._capture_timer.isActive():
            return
        if self._latest_frame() is None:
            emit(self.message, NO_LIVE, "error")
            self.pane.set_capture_count(NO_LIVE)
            return
        self._capture_class = self._class
        self._captured = 0
        self._capture_one()
        self._capture_timer.start()

    @Slot()
    def stop_capture(self) -> None:
        self._capture_timer.stop()
        if self._capture_class is not None and self._captured:
            text = f"Captured {_amount(self._captured, 'frame')} into {self._capture_class}"
            self.pane.set_capture_count(text)
            emit(self.message, text, "info")
        self._capture_class = None

    @property
    def capturing(self) -> bool:
        return self._capture_timer.isActive()

    @Slot()
    def _capture_one(self) -> None:
        project, name = self.project, self._capture_class
        frame = self._latest_frame()
        if project is None or name is None or frame is None:
            self.stop_capture()
            return
        if frame.index == self._last_frame_index:
            return  # frozen, or the source is slower than 4/s: nothing new to keep
        self._last_frame_index = frame.index
        self._captured += 1
        self.pane.set_capture_count(f"Capturing into {name}: {self._captured}")
        self._background.run(project.write_frame, frame.pixels, name, self._captured,
                             callback=self._frame_saved(project, name))

    def _frame_saved(self, project: TeachProject, name: str,
                     ) -> Callable[[Any, str | None], None]:
        def done(rel: str | None, error: str | None) -> None:
            if error is not None or rel is None:
                self.stop_capture()
                emit(self.message, f"Saving a captured frame failed: {error}", "error")
                return
            if project is not self.project or not self._apply(
                    lambda: project.attach(name, [rel])):
                _delete(project, [rel])  # its class (or project) went meanwhile
                return
            self._after_adding(name, [rel])
        return done

    # -- training ----------------------------------------------------------------------------
    @Slot()
    def prepare_training(self) -> None:
        """Read the project's dataset in the background (every file is hashed), then emit
        ``train_requested``; files that cannot be read are named in *Messages*."""
        project = self.project
        if project is None:
            return
        self.stop_capture()
        self.pane.train_button.setEnabled(False)  # one reading at a time
        self.pane.set_capture_count(f"Reading {_amount(sum(project.counts().values()), 'image')}…")
        self._background.run(project.dataset, callback=self._dataset_read(project))

    def _dataset_read(self, project: TeachProject) -> Callable[[Any, str | None], None]:
        def done(dataset: Dataset | None, error: str | None) -> None:
            self.pane.set_capture_count("")
            self._update_buttons()
            if error is not None or dataset is None:
                emit(self.message, f"Reading the project failed: {error}", "error")
                return
            if project is not self.project:
                return
            for item in dataset.skipped:
                emit(self.message, f"{item.path}: {item.reason}, left out", "error")
            emit(self.train_requested, dataset, project.model_path)
        return done

    # -- showing ---------------------------------------------------------------------------
    def _apply(self, change: Callable[[], object]) -> bool:
        """Run a change of the project; a refusal (a taken name, a full disk) is a message."""
        try:
            change()
        except (LensError, OSError) as exc:
            emit(self.message, one_line(exc), "error")
            return False
        emit(self.project_changed)
        return True

    def _after_adding(self, name: str, rels: Sequence[str]) -> None:
        project = self.project
        assert project is not None
        if name == self._class:
            first = self.pane.add_samples([project.root / rel for rel in rels])
            self._load_thumbnails(first)
        self._update_counts()

    def _refresh(self) -> None:
        project = self.project
        if project is None:
            self.pane.show_project(None, [], None)
        else:
            self.pane.show_project(project.name, list(project.counts().items()), self._class)
        self.pane.set_capture_count("")
        self._show_samples()
        self._update_buttons()

    def _show_samples(self) -> None:
        for job in self._thumb_jobs:
            self._background.cancel(job)
        self._thumb_jobs = []
        project, name = self.project, self._class
        paths = project.samples(name) if project is not None and name is not None else ()
        self.pane.set_samples(paths)
        self._load_thumbnails(0)

    def _load_thumbnails(self, first: int) -> None:
        paths = self.pane.sample_paths()
        for row in range(first, len(paths)):
            self._thumb_jobs.append(self._background.run(
                thumbnail, Entry(paths[row].name, paths[row]),
                callback=self._thumbnail_done(row, paths[row])))

    def _thumbnail_done(self, row: int, path: Path) -> Callable[[Any, str | None], None]:
        def done(image: QImage | None, error: str | None) -> None:
            paths = self.pane.sample_paths()
            if row < len(paths) and paths[row] == path:  # still the same sample there
                if image is not None:
                    self.pane.set_thumbnail(row, image)
                else:
                    self.pane.thumbnails.item(row).setToolTip(f"{path}\n{error}")
        return done

    def _update_counts(self) -> None:
        project = self.project
        if project is not None:
            for name, count in project.counts().items():
                self.pane.set_count(name, count)
        self._update_buttons()

    def _update_buttons(self) -> None:
        project = self.project
        warnings = project.warnings() if project is not None else []
        self.pane.set_warnings(warnings, trainable=project is not None and not warnings)

    @Slot(bool)
    def _on_visibility_changed(self, visible: bool) -> None:
        if not visible:
            self.stop_capture()
