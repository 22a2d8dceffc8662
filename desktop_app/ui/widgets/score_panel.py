"""How faithful the map on screen is: the *Score this map* button, its progress and cancel,
the three scores, and the deletion/insertion curves as a small plot."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import QPointF, QRect, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QWidget,
)

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.job_progress import JobProgress

# What each score means, for the labels: which way is better.
METRIC_LABELS = {
    "deletion": "Deletion (lower is better):",
    "insertion": "Insertion (higher is better):",
    "road": "ROAD (higher is better):",
}
CURVE_COLOURS = {"deletion": QColor(220, 60, 60), "insertion": QColor(40, 120, 220)}
_SWATCH = 14  # the length of the line before each curve's name, in its colour


class CurvePlot(QWidget):
    """The class's probability as the most salient pixels are removed (deletion) or put
    back (insertion), over the fraction of pixels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(105)
        self.curves: dict[str, np.ndarray] = {}

    def set_curves(self, curves: Mapping[str, np.ndarray]) -> None:
        self.curves = {k: np.asarray(v, dtype=np.float64) for k, v in curves.items()
                       if k in CURVE_COLOURS and len(v) > 1}
        self.setVisible(bool(self.curves))
        self.update()

    def layout_rects(self) -> tuple[QRect, dict[str, QRect]]:
        """The plot's frame, and each curve's name in a row above it, right-aligned: every
        corner of the frame has a curve's end (insertion ends top right, deletion starts top
        left), so a name inside it would sit on a curve."""
        metrics = self.fontMetrics()
        top = metrics.height() + 4
        area = self.rect().adjusted(metrics.horizontalAdvance("1.0") + 6, top, -4,
                                    -metrics.height() - 2)
        names: dict[str, QRect] = {}
        right = area.right()
        for name in reversed(self.curves):
            width = _SWATCH + 4 + metrics.horizontalAdvance(name)
            names[name] = QRect(right - width, 2, width, metrics.height())
            right -= width + 12
        return area, dict(reversed(names.items()))

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().windowText().color()
        metrics = self.fontMetrics()
        area, names = self.layout_rects()
        painter.setPen(QPen(text, 1))
        painter.drawRect(area)
        painter.drawText(0, area.top() + metrics.ascent(), "1")
        painter.drawText(0, area.bottom(), "0")
        painter.drawText(area.left(), self.height() - 2, "0 → 1: fraction of pixels")
        for name, curve in self.curves.items():
            points = QPolygonF([
                QPointF(area.left() + area.width() * i / (len(curve) - 1),
                        area.bottom() - area.height() * float(np.clip(p, 0, 1)))
                for i, p in enumerate(curve)])
            painter.setPen(QPen(CURVE_COLOURS[name], 2))
            painter.drawPolyline(points)
            box = names[name]
            middle = box.center().y()
            painter.drawLine(box.left(), middle, box.left() + _SWATCH, middle)
            painter.setPen(QPen(text, 1))
            painter.drawText(box.adjusted(_SWATCH + 4, 0, 0, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        painter.end()


class ScorePanel(QGroupBox):
    score_requested = Signal()
    cancel_requested = Signal()
    started = Signal()  # a scoring began: the panel should be in view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Faithfulness", parent)
        self.score_button = QPushButton("Score this map")
        self.score_button.setToolTip("Deletion, insertion and ROAD of the map on screen "
                                     "(about a hundred forward passes)")
        # Its unit: the perturbed images the scores are computed from.
        self.job = JobProgress("images", "Stop scoring the map (Esc)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.values = {name: QLabel("—") for name in METRIC_LABELS}
        self.plot = CurvePlot()
        layout = QFormLayout(self)
        layout.addRow(self.score_button)
        layout.addRow(self.job)
        layout.addRow(self.note)
        for name, label in METRIC_LABELS.items():
            self.values[name].setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse)
            layout.addRow(label, self.values[name])
        layout.addRow(self.plot)
        self.score_button.clicked.connect(self.score_requested)
        self.job.cancel_requested.connect(self.cancel_requested)
        self.show_scores(None, None)

    def show_running(self, done: int, total: int | None) -> None:
        """Scoring: ``done`` of ``total`` perturbed images (None: not known yet)."""
        if self.job.isHidden():
            emit(self.started)
        self.score_button.setEnabled(False)
        self.job.show_count(done, total)

    def show_scores(self, scores: Mapping[str, float] | None, note: str | None,
                    curves: Mapping[str, np.ndarray] | None = None) -> None:
        """Idle again: ``scores`` (None: none for the map shown) and a one-line ``note``."""
        self.score_button.setEnabled(True)
        self.job.finish()
        for name, label in self.values.items():
            value = (scores or {}).get(name)
            label.setText("—" if value is None else f"{value:.3f}")
        if note is not None:
            self.note.setText(note)
        self.plot.set_curves(curves or {})

    def texts(self) -> dict[str, str]:
        return {name: label.text() for name, label in self.values.items()}
