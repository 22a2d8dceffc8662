"""A horizontal strip of thumbnails for the opened files; arrow keys step through it."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem, QWidget

from desktop_app.ui.qt_compat import emit

THUMB_SIZE = 88


class Filmstrip(QListWidget):
    current_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(THUMB_SIZE + 48)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setGridSize(QSize(THUMB_SIZE + 24, THUMB_SIZE + 30))
        self.setAcceptDrops(False)
        self.currentRowChanged.connect(self._on_current_row_changed)
        self._placeholder = _placeholder_icon()

    def set_entries(self, names: list[str], tooltips: list[str]) -> None:
        self.blockSignals(True)
        try:
            self.clear()
            for name, tip in zip(names, tooltips, strict=True):
                item = QListWidgetItem(self._placeholder, name)
                item.setToolTip(tip)
                self.addItem(item)
        finally:
            self.blockSignals(False)
        self.setVisible(len(names) > 1)

    def set_thumbnail(self, row: int, image: QImage) -> None:
        item = self.item(row)
        if item is not None and not image.isNull():
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def mark_failed(self, row: int, message: str) -> None:
        item = self.item(row)
        if item is not None:
            item.setToolTip(message)
            item.setForeground(self.palette().placeholderText())

    def select_row(self, row: int) -> None:
        """Select without re-announcing the change (the caller already knows)."""
        self.blockSignals(True)
        try:
            self.setCurrentRow(row)
            item = self.item(row)
            if item is not None:
                self.scrollToItem(item)
        finally:
            self.blockSignals(False)

    @Slot(int)
    def _on_current_row_changed(self, row: int) -> None:
        if row >= 0:
            emit(self.current_changed, row)


def _placeholder_icon() -> QIcon:
    pixmap = QPixmap(THUMB_SIZE, THUMB_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    return QIcon(pixmap)
