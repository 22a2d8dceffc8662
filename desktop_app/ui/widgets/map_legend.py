"""The legend drawn over the map: the colour scale over the map's 0–1 range, and which
class, method and layer the map shows.

It sits in a corner of the view where it hides none of the picture if one has room for it
(a picture narrower or shorter than the view leaves a margin), else, smaller, in a corner
that has room for that, else narrowed to the margin beside the picture (its lines
shortened, its colour bar too); a picture that leaves no such room has it over the corner
where it hides least (the top-left where the picture fills the view), small in a small
view.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

PADDING = 6
GAP = 8  # from the view's edges
CAPTION = "map, normalised to 0–1"
# Over the picture, the full legend only where it hides this share of the view at most; a
# 640x480 window's view is ~380x330 px, which the full legend's ~160x75 px would crowd.
FULL_OVER_PICTURE_SHARE = 0.06


@dataclass(frozen=True)
class _Layout:
    """One way to draw the legend: its text lines, colour bar and font size."""

    caption: bool  # the "map, normalised to 0–1" line under the bar
    bar_width: int
    bar_height: int
    point_scale: float  # of the view's font
    max_text: int | None = None  # px: the lines lose their ends to "…" past it


FULL = _Layout(caption=True, bar_width=120, bar_height=10, point_scale=1.0)
COMPACT = _Layout(caption=False, bar_width=72, bar_height=8, point_scale=0.85, max_text=130)
# Narrowed into a margin, the compact legend's bar keeps this much at least: shorter, the
# scale no longer reads as one (and its lines would be an ellipsis each).
MIN_BAR_WIDTH = 32


class MapLegend(QWidget):
    """A small translucent box in a corner of the view (its parent)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._bar = QImage()
        self._lines: tuple[str, str] = ("", "")
        self._layout = FULL
        self._room = QRect()
        self._picture = QRect()
        self.move(QPoint(GAP, GAP))
        self.hide()

    def set_legend(self, lut: np.ndarray, title: str, detail: str) -> None:
        """``lut``: the (256, 3) uint8 colour table; ``title``: the class; ``detail``:
        method and layer."""
        row = np.ascontiguousarray(lut[None])
        # Copied: the QImage must not outlive the array it would otherwise point into.
        self._bar = QImage(row.data, 256, 1, 256 * 3, QImage.Format.Format_RGB888).copy()
        self._lines = (title, detail)
        self._place()
        self.show()
        self.raise_()
        self.update()

    def place(self, room: QRect, picture: QRect) -> None:
        """The view's area for the picture (``room``) and where the picture lies in it, both
        in the view's coordinates."""
        self._room, self._picture = QRect(room), QRect(picture)
        self._place()

    @property
    def lines(self) -> tuple[str, str]:
        return self._lines

    @property
    def compact(self) -> bool:
        """The small legend (also narrowed to a margin): no caption, a smaller font."""
        return not self._layout.caption

    def _place(self) -> None:
        room, picture = self._room, self._picture
        # Each layout in each corner that holds it, with how much of the picture it hides.
        options: list[tuple[int, _Layout, QRect]] = []
        for layout in (FULL, COMPACT, *self._narrowed(room, picture)):
            size = self._size(layout)
            for corner in _corners(room, size) or [room.topLeft() + QPoint(GAP, GAP)]:
                box = QRect(corner, size)
                options.append((_area(box.intersected(picture)), layout, box))
        free = [(layout, box) for hidden, layout, box in options if hidden == 0]
        if free:  # full before compact before narrowed, in reading order
            self._use(*free[0])
            return
        # Over the picture: in the corner where it hides least (the first, on a tie), small
        # unless the view is big enough for the full one to hide little of it.
        full = self._size(FULL)
        share = _area(QRect(QPoint(), full)) / max(_area(room), 1)
        layout = FULL if share <= FULL_OVER_PICTURE_SHARE else COMPACT
        _hidden, _layout, box = min((o for o in options if o[1] is layout),
                                    key=lambda o: o[0])
        self._use(layout, box)

    def _narrowed(self, room: QRect, picture: QRect) -> Iterator[_Layout]:
        """The compact layout as wide as each margin left or right of the picture allows
        (the legend's gap from the view's edge included), where the compact one is too wide
        for it and the margin holds its colour bar at least."""
        zero = QFontMetrics(self._font(COMPACT)).horizontalAdvance("0")
        compact_width = self._size(COMPACT).width()
        for margin in (picture.left() - room.left(), room.right() - picture.right()):
            width = margin - GAP
            bar_width = min(COMPACT.bar_width, width - 2 * zero - 4 * PADDING)
            if width < compact_width and bar_width >= MIN_BAR_WIDTH:
                yield replace(COMPACT, bar_width=bar_width, max_text=width - 2 * PADDING)

    def _use(self, layout: _Layout, geometry: QRect) -> None:
        if layout != self._layout:
            self._layout = layout
            self.update()
        self.setGeometry(geometry)

    def _font(self, layout: _Layout) -> QFont:
        font = QFont(self.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * layout.point_scale)
        else:  # a font sized in pixels (a style sheet's)
            font.setPixelSize(max(1, round(font.pixelSize() * layout.point_scale)))
        return font

    def _size(self, layout: _Layout) -> QSize:
        metrics = QFontMetrics(self._font(layout))
        zero = metrics.horizontalAdvance("0")
        texts = [*self._lines, CAPTION] if layout.caption else list(self._lines)
        text_width = max(metrics.horizontalAdvance(t) for t in texts)
        if layout.max_text is not None:
            text_width = min(text_width, layout.max_text)
        width = max(layout.bar_width + 2 * zero + 4 * PADDING, text_width + 2 * PADDING)
        lines = len(texts)
        return QSize(width, lines * metrics.height() + layout.bar_height + 3 * PADDING)

    def paintEvent(self, _event: QPaintEvent) -> None:
        layout = self._layout
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(self.rect(), 4, 4)
        painter.setFont(self._font(layout))
        metrics = painter.fontMetrics()
        line = metrics.height()
        text_width = self.width() - 2 * PADDING
        painter.setPen(QColor("white"))
        y = PADDING
        for text in self._lines:
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, text_width)
            painter.drawText(QRect(PADDING, y, text_width, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
            y += line
        zero = metrics.horizontalAdvance("0")
        bar = QRect(2 * PADDING + zero, y + PADDING // 2, layout.bar_width, layout.bar_height)
        painter.drawImage(bar, self._bar)
        labels_y = bar.top() - (line - layout.bar_height) // 2
        painter.drawText(QRect(PADDING, labels_y, zero, line), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRect(bar.right() + PADDING, labels_y, zero + 2, line),
                         Qt.AlignmentFlag.AlignLeft, "1")
        if layout.caption:
            painter.drawText(QRect(PADDING, bar.bottom() + 2, text_width, line),
                             Qt.AlignmentFlag.AlignLeft, CAPTION)
        painter.end()


def _corners(room: QRect, size: QSize) -> list[QPoint]:
    """Where a box of ``size`` may go in ``room``, in the order a reader looks: top-left,
    top-right, bottom-left, bottom-right; none where it does not fit at all."""
    if room.width() < size.width() + 2 * GAP or room.height() < size.height() + 2 * GAP:
        return []
    left, top = room.left() + GAP, room.top() + GAP
    right = room.right() + 1 - GAP - size.width()
    bottom = room.bottom() + 1 - GAP - size.height()
    return [QPoint(left, top), QPoint(right, top), QPoint(left, bottom), QPoint(right, bottom)]


def _area(rect: QRect) -> int:
    return max(rect.width(), 0) * max(rect.height(), 0) if rect.isValid() else 0
