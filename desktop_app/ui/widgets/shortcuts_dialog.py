"""The Help menu's dialogs. Shortcuts: the keyboard shortcuts, read from the window's
actions so the list can never disagree with what the keys do; About: name and version."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Keys handled by widgets rather than actions.
EXTRA_SHORTCUTS = (
    ("Previous / next image (image view, filmstrip)", "Left / Right"),
    ("Zoom", "Ctrl+Wheel"),
    ("Pan", "Drag the image"),
)

# Esc is two actions' key (never both enabled): which one a press reaches.
ESC_RULE = ("Esc cancels the slow map or the scoring in progress first, then a folder run "
            "(keeping what it has done); with none of them running it stops the camera or "
            "video. In a dialog, Esc closes the dialog.")


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    rows = []
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()]
        if keys:
            rows.append((action.text().replace("&", "").rstrip("…").rstrip("."), " or ".join(keys)))
    rows.extend(EXTRA_SHORTCUTS)
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, rows: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        # Focused first, so the keys scroll it (half of it is below the fold); Tab leaves
        # it for Close in one press instead of stepping through its cells.
        self.table.setTabKeyNavigation(False)
        for row, (name, keys) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(name))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.esc_rule = QLabel(ESC_RULE)
        self.esc_rule.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.esc_rule)
        layout.addWidget(buttons)
        self.resize(460, 520)


def show_shortcuts(parent: QWidget, actions: Iterable[QAction]) -> None:
    dialog = ShortcutsDialog(shortcut_rows(actions), parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()


def show_about(parent: QWidget, app_name: str) -> None:
    from desktop_app import __version__

    QMessageBox.about(parent, f"About {app_name}",
                      f"{app_name} version {__version__}\n\nWhat a ResNet sees, as top-k "
                      "ImageNet classes and Grad-CAM maps.")
