"""A log of one-line messages for the user: bad files, camera faults, worker errors."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

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
        if level == "error":
            # A palette colour, so it stays readable on dark themes.
            item.setForeground(self.palette().brightText())
        self.addItem(item)
        while self.count() > MAX_MESSAGES:
            self.takeItem(0)
        self.scrollToBottom()

    def texts(self) -> list[str]:
        return [self.item(i).text().split("  ", 1)[1] for i in range(self.count())]
