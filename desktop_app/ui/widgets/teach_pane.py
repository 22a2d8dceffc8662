"""The Teach pane: the classes of a teaching project, the selected class's samples as
thumbnails, and the buttons to add, capture and train.

A view only: it shows what its controller tells it and reports what the user does as
signals. Files dropped on a class, Delete on the thumbnails and the capture key held down
are turned into signals here, so that the controller never sees a Qt event.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QDropEvent, QIcon, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.teach_project import sample_label
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.filmstrip import THUMB_SIZE

CAPTURE_KEY = Qt.Key.Key_C
# A held key repeats as release + press pairs; where the system does not mark them as
# repeats (XTest, some X servers), a release only counts when no press follows this soon.
RELEASE_GRACE_MS = 80
_NAME_ROLE = Qt.ItemDataRole.UserRole  # a class row's name as saved (the text may be edited)
_PATH_ROLE = Qt.ItemDataRole.UserRole + 1
_DELETE_KEYS = frozenset({Qt.Key.Key_Delete, Qt.Key.Key_Backspace})
NO_PROJECT = "No teaching project open"
NO_PROJECT_HINT = ("Create a teaching project (New project…) or open one to collect examples "
                   "of your own classes.")
WARNING_LINES = 2  # the room kept for warnings, shown or not: nothing moves when they come
# The room kept for the samples' hint, whichever it is: in a short window the pane scrolls at
# its own height, which would change with the hint's lines and move every button below.
HINT_LINES = 3
_ITEM_SIZE = QSize(THUMB_SIZE + 16, THUMB_SIZE + 28)  # a thumbnail with its name under it


def _local_paths(event: QDropEvent | QEvent) -> list[Path]:
    mime = event.mimeData()  # type: ignore[attr-defined]
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if isinstance(url, QUrl)
            and url.isLocalFile()]


class TeachPane(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    add_class_requested = Signal()
    rename_requested = Signal(str, str)  # old name, new name as typed
    remove_class_requested = Signal(str)
    class_selected = Signal(str)  # "" when none
    add_images_requested = Signal()
    add_folder_requested = Signal()
    remove_samples_requested = Signal(list)  # [Path] of the selected thumbnails
    files_dropped = Signal(str, list)  # class dropped on ("" for none), [Path]
    capture_pressed = Signal()
    capture_released = Signal()
    train_requested = Signal()
    name_editing = Signal(QWidget)  # a class's name opened for typing: its editor, to show

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._capturing = False
        self._key_released = QTimer(self, singleShot=True, interval=RELEASE_GRACE_MS)
        self._key_released.timeout.connect(self._release_capture)
        self.setAcceptDrops(True)

        self.project_label = QLabel(NO_PROJECT)
        # One line, cut short when long: a taller row would move every button below it.
        self.project_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                         QSizePolicy.Policy.Preferred)
        self.new_button = QPushButton("New project…")
        self.open_button = QPushButton("Open project…")

        self.classes = QTreeWidget()
        self.classes.setHeaderLabels(["Class", "Images"])
        self.classes.setRootIsDecorated(False)
        self.classes.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                     | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.classes.setColumnWidth(0, 150)
        self.classes.setMinimumWidth(160)
        self.add_class_button = QPushButton("Add class")
        self.rename_button = QPushButton("Rename")
        self.remove_class_button = QPushButton("Remove")

        self.samples_label = QLabel("")
        self.samples_label.setWordWrap(True)
        self.samples_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.samples_label.setFixedHeight(
            HINT_LINES * self.samples_label.fontMetrics().lineSpacing() + 2)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListView.ViewMode.IconMode)
        self.thumbnails.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.thumbnails.setMovement(QListView.Movement.Static)
        self.thumbnails.setResizeMode(QListView.ResizeMode.Adjust)
        self.thumbnails.setUniformItemSizes(True)
        # One whole row, names included: the pane's height is its layout's least, and the
        # list's own least cut the thumbnails in half and hid their names.
        self.thumbnails.setMinimumHeight(_ITEM_SIZE.height()
                                         + 2 * self.thumbnails.frameWidth() + 2)
        self.thumbnails.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.thumbnails.setToolTip("Drop images or folders here to add them to the class; "
                                   "Delete removes the selected images")
        self.add_images_button = QPushButton("Add images…")
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.setToolTip(
            "A folder with one sub-folder per class adds those classes; a folder of images "
            "adds its images to the selected class")
        self.capture_button = QPushButton("Hold to capture (C)")
        self.capture_button.setToolTip(
            "Hold this button (or the C key) to save frames of the running camera or video "
            "into the selected class, a few per second")
        # On the warnings' line, not beside the buttons: there, a 640-pixel window had no
        # room left for the counter.
        self.capture_label = QLabel("")
        self.capture_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.capture_label.setMinimumWidth(1)  # a long class name is cut, never widens
        self.train_button = QPushButton("Train…")
        self.warning_label = QLabel("")
        self.warning_label.setWordWrap(True)
        self.warning_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.warning_label.setFixedHeight(
            WARNING_LINES * self.warning_label.fontMetrics().lineSpacing() + 2)
        self.warning_label.setSizePolicy(QSizePolicy.Policy.Ignored,
                                         QSizePolicy.Policy.Fixed)
        policy = self.warning_label.sizePolicy()
        policy.setRetainSizeWhenHidden(True)
        self.warning_label.setSizePolicy(policy)

        for view in (self.classes, self.thumbnails):
            view.viewport().setAcceptDrops(True)
            view.viewport().installEventFilter(self)
            view.installEventFilter(self)
        self._build_layout()
        for button in self.findChildren(QPushButton):  # C works wherever the focus is here
            button.installEventFilter(self)
        self._connect()
        self.show_project(None, [], None)

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.project_label, 1)
        top.addWidget(self.new_button)
        top.addWidget(self.open_button)
        top.addWidget(self.train_button)

        left = QVBoxLayout()
        left.addWidget(self.classes, 1)
        class_buttons = QHBoxLayout()
        for button in (self.add_class_button, self.rename_button, self.remove_class_button):
            class_buttons.addWidget(button)
        left.addLayout(class_buttons)

        right = QVBoxLayout()
        right.addWidget(self.samples_label)
        right.addWidget(self.thumbnails, 1)
        sample_buttons = QHBoxLayout()
        sample_buttons.addWidget(self.add_images_button)
        sample_buttons.addWidget(self.add_folder_button)
        sample_buttons.addWidget(self.capture_button)
        sample_buttons.addStretch(1)
        right.addLayout(sample_buttons)

        middle = QHBoxLayout()
        middle.addLayout(left)
        middle.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addLayout(middle, 1)
        status = QHBoxLayout()
        status.addWidget(self.capture_label)
        status.addWidget(self.warning_label, 1)
        layout.addLayout(status)

    def heightForWidth(self, width: int) -> int:
        # What the scroll area around the pane (a short window) makes room for: the height
        # the pane needs, not the taller one it would like (then it scrolled with room left).
        return self.layout().minimumHeightForWidth(width)

    def _connect(self) -> None:
        self.new_button.clicked.connect(self.new_requested)
        self.open_button.clicked.connect(self.open_requested)
        self.add_class_button.clicked.connect(self.add_class_requested)
        self.rename_button.clicked.connect(self._on_rename_clicked)
        self.remove_class_button.clicked.connect(self._on_remove_clicked)
        self.add_images_button.clicked.connect(self.add_images_requested)
        self.add_folder_button.clicked.connect(self.add_folder_requested)
        self.capture_button.pressed.connect(self._press_capture)
        self.capture_button.released.connect(self._release_capture)
        self.train_button.clicked.connect(self.train_requested)
        self.classes.currentItemChanged.connect(self._on_current_class_changed)
        self.classes.itemChanged.connect(self._on_class_edited)

    # -- what the controller shows ---------------------------------------------------------
    def show_project(self, name: str | None, classes: Sequence[tuple[str, int]],
                     selected: str | None) -> None:
        """The project's classes with their image counts, ``selected`` made current."""
        has_project = name is not None
        self.project_label.setText(f"Project: {name}" if has_project else NO_PROJECT)
        self.project_label.setToolTip(self.project_label.text())
        self.classes.blockSignals(True)
        try:
            self.classes.clear()
            for class_name, count in classes:
                item = QTreeWidgetItem([class_name, str(count)])
                item.setData(0, _NAME_ROLE, class_name)
                item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
                self.classes.addTopLevelItem(item)
                if class_name == selected:
                    self.classes.setCurrentItem(item)
        finally:
            self.classes.blockSignals(False)
        has_class = selected is not None
        self.classes.setEnabled(has_project)
        self._show_hint()
        self.thumbnails.setEnabled(has_class)
        self.add_class_button.setEnabled(has_project)
        self.add_folder_button.setEnabled(has_project)
        for button in (self.rename_button, self.remove_class_button, self.add_images_button,
                       self.capture_button):
            button.setEnabled(has_class)

    def _show_hint(self) -> None:
        """What the samples area takes, for the class selected now."""
        selected = self.current_class
        if selected is not None:
            hint = (f"{selected}: drop images or folders here · hold C or the capture button "
                    "to save frames of the camera or video · Delete removes the selected")
        elif self.classes.isEnabled():  # a project is open
            hint = ("Add a class, or drop a folder here that holds one sub-folder of images "
                    "per class.")
        else:
            hint = NO_PROJECT_HINT
        self.samples_label.setText(hint)

    def set_count(self, name: str, count: int) -> None:
        for row in range(self.classes.topLevelItemCount()):
            item = self.classes.topLevelItem(row)
            if item.data(0, _NAME_ROLE) == name:
                self.classes.blockSignals(True)
                item.setText(1, str(count))
                self.classes.blockSignals(False)

    def edit_class(self, name: str) -> None:
        """Open the name of class ``name`` for typing (a new class is named at once)."""
        item = self._item_of(name)
        if item is not None:
            self.classes.setCurrentItem(item)
            self.classes.setFocus()
            self.classes.editItem(item, 0)
            editor = self.classes.indexWidget(self.classes.indexFromItem(item, 0))
            emit(self.name_editing, editor or self.classes)

    def set_samples(self, paths: Sequence[Path]) -> None:
        """Placeholders for the samples; thumbnails arrive later, by row."""
        self.thumbnails.clear()
        self.add_samples(paths)

    def add_samples(self, paths: Sequence[Path]) -> int:
        """Append samples; returns the first new row."""
        first = self.thumbnails.count()
        for path in paths:
            item = QListWidgetItem(sample_label(path))
            item.setData(_PATH_ROLE, path)
            item.setToolTip(str(path))
            item.setSizeHint(_ITEM_SIZE)
            self.thumbnails.addItem(item)
        return first

    def set_thumbnail(self, row: int, image: QImage) -> None:
        item = self.thumbnails.item(row)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def sample_paths(self) -> list[Path]:
        return [self.thumbnails.item(row).data(_PATH_ROLE)
                for row in range(self.thumbnails.count())]

    def set_warnings(self, warnings: Sequence[str], trainable: bool) -> None:
        text = " ".join(f"⚠ {w}" for w in warnings)
        self.warning_label.setText(text)
        self.warning_label.setToolTip(text)  # the whole text, should two lines cut it
        self.warning_label.setVisible(bool(warnings))
        self.train_button.setEnabled(trainable)

    def set_capture_count(self, text: str) -> None:
        self.capture_label.setText(text)

    @property
    def current_class(self) -> str | None:
        item = self.classes.currentItem()
        return item.data(0, _NAME_ROLE) if item is not None else None

    # -- what the user does ----------------------------------------------------------------
    def _item_of(self, name: str) -> QTreeWidgetItem | None:
        for row in range(self.classes.topLevelItemCount()):
            item = self.classes.topLevelItem(row)
            if item.data(0, _NAME_ROLE) == name:
                return item
        return None

    @Slot()
    def _on_rename_clicked(self) -> None:
        name = self.current_class
        if name is not None:
            self.edit_class(name)

    @Slot()
    def _on_remove_clicked(self) -> None:
        name = self.current_class
        if name is not None:
            emit(self.remove_class_requested, name)

    @Slot(QTreeWidgetItem, QTreeWidgetItem)
    def _on_current_class_changed(self, current: QTreeWidgetItem | None,
                                  _previous: QTreeWidgetItem | None) -> None:
        self._show_hint()
        emit(self.class_selected, current.data(0, _NAME_ROLE) if current is not None else "")

    @Slot(QTreeWidgetItem, int)
    def _on_class_edited(self, item: QTreeWidgetItem, column: int) -> None:
        old = item.data(0, _NAME_ROLE)
        if column == 0 and item.text(0) != old:
            emit(self.rename_requested, old, item.text(0))

    def _press_capture(self) -> None:
        if not self._capturing and self.capture_button.isEnabled():
            self._capturing = True
            emit(self.capture_pressed)

    def _release_capture(self) -> None:
        self._key_released.stop()
        if self._capturing:
            self._capturing = False
            emit(self.capture_released)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return self._on_drag(watched, event)  # type: ignore[arg-type]
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return self._on_key(watched, event)  # type: ignore[arg-type]
        if kind == QEvent.Type.FocusOut:
            # The key's release goes to wherever the focus went: stop now, not never.
            self._release_capture()
        return False

    def _on_key(self, watched: QObject, event: QKeyEvent) -> bool:
        key = event.key()
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                      Qt.KeyboardModifier.KeypadModifier)
        if key == CAPTURE_KEY and plain:
            if not event.isAutoRepeat():  # holding a key repeats it; only the first counts
                if event.type() == QEvent.Type.KeyPress:
                    self._key_released.stop()
                    self._press_capture()
                else:
                    self._key_released.start()
            return True
        if (watched is self.thumbnails and key in _DELETE_KEYS and plain
                and event.type() == QEvent.Type.KeyPress):
            paths = [item.data(_PATH_ROLE) for item in self.thumbnails.selectedItems()]
            if paths:
                emit(self.remove_samples_requested, paths)
            return True
        return False

    def _on_drag(self, watched: QObject, event: QDropEvent) -> bool:
        paths = _local_paths(event)
        if not paths:
            return False
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()
        if event.type() == QEvent.Type.Drop:
            emit(self.files_dropped, self._class_at(watched, event), paths)
        return True

    def _class_at(self, watched: QObject, event: QDropEvent) -> str:
        """The class a drop lands on: the row under the cursor in the class list, the shown
        class on the thumbnails, none elsewhere."""
        if watched is self.classes.viewport():
            item = self.classes.itemAt(event.position().toPoint())
            return item.data(0, _NAME_ROLE) if item is not None else ""
        if watched is self.thumbnails.viewport():
            return self.current_class or ""
        return ""

    def dragEnterEvent(self, event: QEvent) -> None:  # type: ignore[override]
        self._on_drag(self, event)  # type: ignore[arg-type]

    def dragMoveEvent(self, event: QEvent) -> None:  # type: ignore[override]
        self._on_drag(self, event)  # type: ignore[arg-type]

    def dropEvent(self, event: QEvent) -> None:  # type: ignore[override]
        self._on_drag(self, event)  # type: ignore[arg-type]
