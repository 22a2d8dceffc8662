"""Sizing a window so that all of it lies on the screen it opens on.

A size asked for without looking at the screen (1080 × 760 for results) runs past a
640 × 480 screen, where the window's buttons and scroll bars then cannot be reached.
"""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def available_area(widget: QWidget) -> QRect | None:
    """The part of ``widget``'s screen (the primary one before it is shown) that windows
    may use: without task bars and docks. None without a screen."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry() if screen is not None else None


def resize_within_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize the window ``widget`` to ``width`` × ``height``, less where its screen is
    smaller, and move it where needed so that its frame lies on the screen."""
    area = available_area(widget)
    if area is None:
        widget.resize(width, height)
        return
    # The frame (title bar, borders) is known once a window manager has framed the window.
    frame_w = widget.frameGeometry().width() - widget.width() if widget.isVisible() else 0
    frame_h = widget.frameGeometry().height() - widget.height() if widget.isVisible() else 0
    widget.resize(max(min(width, area.width() - frame_w), widget.minimumWidth()),
                  max(min(height, area.height() - frame_h), widget.minimumHeight()))
    if widget.isVisible():
        frame = widget.frameGeometry()
        left = max(area.left(), min(frame.left(), area.right() + 1 - frame.width()))
        top = max(area.top(), min(frame.top(), area.bottom() + 1 - frame.height()))
        widget.move(left, top)
