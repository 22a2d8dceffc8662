"""A combo box that ends its text in "…" when the box is too narrow for it, with the whole
text in its tooltip; a plain QComboBox cuts the text off mid-letter under its arrow."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QStyle,
    QStyleOptionComboBox,
    QStylePainter,
    QToolTip,
    QWidget,
)


class ElidingComboBox(QComboBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Sized by a fixed length, not the longest entry: the side panel stays narrow.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(10)

    def text_room(self) -> int:
        """Pixels the current text is drawn in (the box less its arrow and frame)."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        if not option.currentIcon.isNull():
            field.setLeft(field.left() + option.iconSize.width() + 4)
        return field.width()

    def shown_text(self) -> str:
        """The current text as painted: whole, or cut short with "…"."""
        return self.fontMetrics().elidedText(self.currentText(), Qt.TextElideMode.ElideRight,
                                             self.text_room())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.shown_text() != self.currentText():
            assert isinstance(event, QHelpEvent)
            tip = self.currentText() + (f"\n{self.toolTip()}" if self.toolTip() else "")
            QToolTip.showText(event.globalPos(), tip, self)
            return True
        return super().event(event)
