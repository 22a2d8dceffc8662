"""A horizontal strip of thumbnails for the opened files; arrow keys step through it."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QSize, Qt, Signal, Slot
from PySide6.QtGui import QFontMetrics, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QWidget,
)

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.theme import error_text_colour

THUMB_SIZE = 88
# In a short window: the strip gives the picture 40 px of its height back.
COMPACT_THUMB_SIZE = 48
_TEXT_MARGIN = 8  # the item view's own padding around an icon-mode label
_ELLIPSIS = "…"
_FAILED_ROLE = Qt.ItemDataRole.UserRole + 1


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _distinctive_starts(names: Sequence[str]) -> list[int]:
    """For each name, where it starts to differ from the most similar other name (the
    longest common prefix is always with a neighbour in sorted order)."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    starts = [0] * len(names)
    for pos, i in enumerate(order):
        for other in (pos - 1, pos + 1):
            if 0 <= other < len(order):
                starts[i] = max(starts[i], _common_prefix(names[i], names[order[other]]))
    return starts


def distinct_labels(names: Sequence[str], metrics: QFontMetrics, width: int) -> list[str]:
    """Labels that fit ``width`` pixels and keep different names apart.

    Qt elides every long label in the middle, so "IMG_0001_holiday.jpg" and
    "IMG_0002_holiday.jpg" both become "IMG_…oliday.jpg". A name that does not fit is cut
    where it starts to differ from its most similar neighbour instead ("…0001_holi…")."""
    labels = []
    for name, start in zip(names, _distinctive_starts(names), strict=True):
        plain = metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width)
        if plain == name or start <= 3 or start >= len(name):  # fits, or differs early
            labels.append(plain)
            continue
        labels.append(_from_difference(name, start, metrics, width))
    return labels


def _from_difference(name: str, start: int, metrics: QFontMetrics, width: int) -> str:
    """A few characters of context before the difference, then as much as fits (the middle
    of the rest goes, the extension stays); less context where the cut would take the
    difference itself (a narrow cell), and no extension where even that does not fit."""
    for context in (3, 2, 1, 0):
        text = _ELLIPSIS + name[start - context:]
        label = metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, width)
        if label.startswith(text[:context + 2]):  # the first different character kept
            return label
    return metrics.elidedText(_ELLIPSIS + name[start:], Qt.TextElideMode.ElideRight, width)


class Filmstrip(QListWidget):
    current_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setAcceptDrops(False)
        self.currentRowChanged.connect(self._on_current_row_changed)
        self._placeholder = _placeholder_icon()
        self._names: list[str] = []
        self.compact = False
        self._size_cells()

    def set_compact(self, compact: bool) -> None:
        """Smaller thumbnails (a short window), or the full size."""
        if compact != self.compact:
            self.compact = compact
            self._size_cells()
            item = self.currentItem()
            if item is not None:
                self.scrollToItem(item)

    def _size_cells(self) -> None:
        size = COMPACT_THUMB_SIZE if self.compact else THUMB_SIZE
        self.setIconSize(QSize(size, size))
        # A small thumbnail keeps a wider cell than itself: room for about a dozen letters.
        self._cell_width = size + (40 if self.compact else 24)
        self.setGridSize(self._cell_size())
        self.setFixedHeight(size + 48)
        for row in range(self.count()):
            self.item(row).setSizeHint(self._cell_size())
        self._relabel()

    def _cell_size(self) -> QSize:
        """Each item as big as its grid cell: otherwise the view gives every item the size
        of one (uniform sizes: the current item's label or thumbnail, whichever is wider)
        and elides the other labels again, narrower than the cells they were fitted to
        ("broken.png" read "bro…png" beside a current "good.png")."""
        size = self.iconSize().height()
        return QSize(self._cell_width, size + 30)

    def set_entries(self, names: list[str], tooltips: list[str]) -> None:
        self.blockSignals(True)
        try:
            self.clear()
            self._names = []
        finally:
            self.blockSignals(False)
        self.add_entries(names, tooltips)

    def add_entries(self, names: list[str], tooltips: list[str]) -> None:
        """Append items; every label is recomputed, since a new name may share a start
        with an old one."""
        self.blockSignals(True)
        try:
            for name, tip in zip(names, tooltips, strict=True):
                item = QListWidgetItem(self._placeholder, name)
                item.setToolTip(tip)
                item.setSizeHint(self._cell_size())
                self.addItem(item)
            self._names += names
            self._relabel()
        finally:
            self.blockSignals(False)
        self.setVisible(self.count() > 1)

    def _relabel(self) -> None:
        labels = distinct_labels(self._names, QFontMetrics(self.font()),
                                 self._cell_width - _TEXT_MARGIN)
        for row, label in enumerate(labels):
            self.item(row).setText(label)

    def set_thumbnail(self, row: int, image: QImage) -> None:
        item = self.item(row)
        if item is not None and not image.isNull():
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def set_tooltip(self, row: int, text: str) -> None:
        item = self.item(row)
        if item is not None:
            item.setToolTip(text)

    def mark_failed(self, row: int, message: str) -> None:
        """A file that cannot be read: a warning sign for its thumbnail, the reason in the
        tooltip, and its label in the error colour."""
        item = self.item(row)
        if item is not None:
            item.setToolTip(message)
            item.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
            item.setData(_FAILED_ROLE, True)
            item.setForeground(error_text_colour(self.palette()))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            # A theme switch: a colour chosen for the old background may not read now.
            for row in range(self.count()):
                item = self.item(row)
                if item.data(_FAILED_ROLE):
                    item.setForeground(error_text_colour(self.palette()))

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
