"""A log of one-line messages for the user: bad files, camera faults, worker errors."""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from desktop_app.ui.widgets.theme import error_text_colour

MAX_MESSAGES = 500


class MessagesPanel(QListWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messages")
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.setToolTip("Messages (select and Ctrl+C to copy)")

    def add(self, text: str, level: str = "info") -> None:
        line = " ".join(text.split())
        item = QListWidgetItem(f"{time.strftime('%H:%M:%S')}  {line}")
        item.setData(Qt.ItemDataRole.UserRole, level)
        item.setToolTip(line)
        self.addItem(item)
        self._colour(item)
        while self.count() > MAX_MESSAGES:
            self.takeItem(0)
        self.scrollToBottom()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            # A theme switch: error colours chosen for the old background may not read now.
            for row in range(self.count()):
                self._colour(self.item(row))

    def event(self, event: QEvent) -> bool:
        # Ctrl+C is also the window's "Copy predictions": with message lines selected here,
        # the key is claimed before the shortcut sees it, and copies those lines.
        if (event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent)
                and event.matches(QKeySequence.StandardKey.Copy) and self.selectedItems()):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy) and self.selectedItems():
            self.copy_selected()
            event.accept()
            return
        super().keyPressEvent(event)

    def copy_selected(self) -> None:
        """The selected lines, in the order shown, as they read in the panel."""
        rows = sorted(self.row(item) for item in self.selectedItems())
        QGuiApplication.clipboard().setText(
            "\n".join(self.item(row).text() for row in rows) + "\n")

    def _colour(self, item: QListWidgetItem) -> None:
        if item.data(Qt.ItemDataRole.UserRole) == "error":
            item.setForeground(error_text_colour(self.palette()))

    def texts(self) -> list[str]:
        return [self.item(i).text().split("  ", 1)[1] for i in range(self.count())]
