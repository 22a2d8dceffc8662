"""Fusion style with a light or dark palette.

Widgets take every colour from the palette (no hard-coded black text), so the same code
reads well on both. "system" follows the platform's colour scheme where Qt can tell.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QApplication,
    QProxyStyle,
    QStyle,
    QStyleFactory,
    QStyleOption,
    QWidget,
)

_Role = QPalette.ColorRole
_Group = QPalette.ColorGroup
_BOXES = (QStyle.PrimitiveElement.PE_IndicatorCheckBox,
          QStyle.PrimitiveElement.PE_IndicatorRadioButton)


def system_prefers_dark() -> bool:
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    palette = QPalette()
    colours = {
        _Role.Window: "#2b2d30",
        _Role.WindowText: "#e6e6e6",
        _Role.Base: "#1e1f22",
        _Role.AlternateBase: "#2b2d30",
        _Role.ToolTipBase: "#3c3f41",
        _Role.ToolTipText: "#e6e6e6",
        _Role.PlaceholderText: "#8c8c8c",
        _Role.Text: "#e6e6e6",
        _Role.Button: "#3c3f41",
        _Role.ButtonText: "#e6e6e6",
        _Role.BrightText: "#ff6b6b",
        _Role.Light: "#4a4d50",
        _Role.Midlight: "#404346",
        _Role.Mid: "#2f3134",
        _Role.Dark: "#1a1b1d",
        _Role.Shadow: "#000000",
        _Role.Highlight: "#3d7bd9",
        _Role.HighlightedText: "#ffffff",
        _Role.Link: "#6ea8fe",
        _Role.LinkVisited: "#b392f0",
    }
    for role, colour in colours.items():
        palette.setColor(role, QColor(colour))
    for role in (_Role.WindowText, _Role.Text, _Role.ButtonText, _Role.HighlightedText):
        palette.setColor(_Group.Disabled, role, QColor("#7a7a7a"))
    palette.setColor(_Group.Disabled, _Role.Highlight, QColor("#4a4d50"))
    return palette


def error_text_colour(palette: QPalette) -> QColor:
    """A red that reads on the palette's Base and AlternateBase (contrast above 4.5:1):
    BrightText is meant for dark buttons and is white in the light palettes."""
    dark = palette.color(_Role.Base).lightness() < 128
    return QColor("#ff8a80" if dark else "#b3261e")


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio, from 1 (the same) to 21 (black on white)."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def bar_colour(palette: QPalette, selected: bool) -> QColor:
    """A probability bar's colour, at least 3:1 against what it is drawn on (WCAG for
    graphics): Highlight on Base, HighlightedText on a selected row, else the text colour."""
    if selected:
        candidates, background = (_Role.HighlightedText, _Role.Text), _Role.Highlight
    else:
        candidates, background = (_Role.Highlight, _Role.Text), _Role.Base
    behind = palette.color(background)
    return next((palette.color(role) for role in candidates
                 if contrast_ratio(palette.color(role), behind) >= 3.0),
                palette.color(candidates[-1]))


class LensStyle(QProxyStyle):
    """Fusion, with check and radio boxes outlined at 3:1 or more on their fill (WCAG's
    contrast for the parts of a control). Fusion draws their edge a shade darker than the
    window: on the dark palette that is the Base they are filled with (1.2:1), an unchecked
    box all but invisible; on the light one 1.9:1."""

    def drawPrimitive(self, element: QStyle.PrimitiveElement, option: QStyleOption,
                      painter: QPainter, widget: QWidget | None = None) -> None:
        super().drawPrimitive(element, option, painter, widget)
        if element not in _BOXES:
            return
        state = option.state
        if state & QStyle.StateFlag.State_HasFocus and (
                state & QStyle.StateFlag.State_KeyboardFocusChange):
            return  # Fusion's focus outline, in the highlight colour, shows already
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(option.palette.color(_Role.PlaceholderText)))
        rect = option.rect
        if element == QStyle.PrimitiveElement.PE_IndicatorCheckBox:
            # Fusion's own box: half a pixel in, one pixel smaller.
            painter.drawRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5))
        else:  # Fusion's own circle
            radius = (rect.width() + (rect.width() + 1) % 2) / 2.0 - 1
            painter.drawEllipse(QPointF(rect.center()) + QPointF(1, 1), radius, radius)
        painter.restore()


def apply_theme(app: QApplication, theme: str = "system") -> bool:
    """Set Fusion and the palette for ``theme``; returns True when the result is dark."""
    fusion = QStyleFactory.create("Fusion")
    if fusion is not None:
        app.setStyle(LensStyle(fusion))
    dark = theme == "dark" or (theme == "system" and system_prefers_dark())
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    return dark

