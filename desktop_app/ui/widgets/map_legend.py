"""The legend drawn over the map: the colour scale over the map's 0–1 range, and which
class, method and layer the map shows."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QWidget

BAR_WIDTH = 120
BAR_HEIGHT = 10
PADDING = 6


class MapLegend(QWidget):
    """A small translucent box at the top-left corner of the picture."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._bar = QImage()
        self._lines: tuple[str, str] = ("", "")
        self.move(QPoint(8, 8))
        self.hide()

    def set_legend(self, lut: np.ndarray, title: str, detail: str) -> None:
        """``lut``: the (256, 3) uint8 colour table; ``title``: the class; ``detail``:
        method and layer."""
        row = np.ascontiguousarray(np.repeat(lut[None], BAR_HEIGHT, axis=0))
        # Copied: the QImage must not outlive the array it would otherwise point into.
        self._bar = QImage(row.data, 256, BAR_HEIGHT, 256 * 3,
                           QImage.Format.Format_RGB888).copy()
        self._lines = (title, detail)
        metrics = self.fontMetrics()
        width = max(BAR_WIDTH + 2 * metrics.horizontalAdvance("0") + 4 * PADDING,
                    *(metrics.horizontalAdvance(t) + 2 * PADDING for t in self._lines))
        self.resize(QSize(width, 3 * metrics.height() + BAR_HEIGHT + 3 * PADDING))
        self.show()
        self.raise_()
        self.update()

    @property
    def lines(self) -> tuple[str, str]:
        return self._lines

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 160))
        painter.drawRoundedRect(self.rect(), 4, 4)
        metrics = self.fontMetrics()
        line = metrics.height()
        painter.setPen(QColor("white"))
        y = PADDING
        for text in self._lines:
            painter.drawText(QRect(PADDING, y, self.width() - 2 * PADDING, line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
            y += line
        zero = metrics.horizontalAdvance("0")
        bar = QRect(2 * PADDING + zero, y + PADDING // 2, BAR_WIDTH, BAR_HEIGHT)
        painter.drawImage(bar, self._bar)
        labels_y = bar.top() - (line - BAR_HEIGHT) // 2
        painter.drawText(QRect(PADDING, labels_y, zero, line), Qt.AlignmentFlag.AlignLeft, "0")
        painter.drawText(QRect(bar.right() + PADDING, labels_y, zero + 2, line),
                         Qt.AlignmentFlag.AlignLeft, "1")
        painter.drawText(QRect(PADDING, bar.bottom() + 2, self.width() - 2 * PADDING, line),
                         Qt.AlignmentFlag.AlignLeft, "map, normalised to 0–1")
        painter.end()
