"""A long job's progress bar, with its count, and the Cancel button beside it: the one row
that the window's long jobs (a folder run, scoring a map, a slow method's map) show while
they run."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QStyle,
    QStyleOptionProgressBar,
    QStylePainter,
    QWidget,
)

# Fill resolution within one step: fine enough for a bar a screen wide.
_PARTS = 1000


class StepBar(QProgressBar):
    """A progress bar whose fill also goes ``within`` (0–1) into the step under way, while
    its value (and so its "%v/%m" text) stays the count of whole steps done. A folder run's
    Score-CAM image takes minutes: the bar stood still that long, its text moving on."""

    def __init__(self) -> None:
        super().__init__()
        self._within = 0.0

    @property
    def within(self) -> float:
        return self._within

    def set_within(self, within: float) -> None:
        if within != self._within:
            self._within = within
            self.update()

    def _option(self) -> QStyleOptionProgressBar:
        option = QStyleOptionProgressBar()
        self.initStyleOption(option)
        steps = self.maximum() - self.minimum()
        if steps > 0 and self.value() >= self.minimum():
            done = self.value() - self.minimum()
            option.minimum, option.maximum = 0, steps * _PARTS
            # Short of the next step's end: only the count fills the bar's end.
            option.progress = min(round((done + self._within) * _PARTS),
                                  (done + 1) * _PARTS - 1, steps * _PARTS)
        return option

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QStylePainter(self)
        painter.drawControl(QStyle.ControlElement.CE_ProgressBar, self._option())


class JobProgress(QWidget):
    cancel_requested = Signal()

    def __init__(self, unit: str, cancel_tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = StepBar()
        self.bar.setTextVisible(True)
        # Qt fills in %v and %m: "12/512 channels".
        self._format = f"%v/%m {unit}"
        self.bar.setFormat(self._format)
        self._part: str | None = None  # how far the step under way is
        self._stopping = False
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(cancel_tip)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.setVisible(False)

    def show_count(self, done: int, total: int | None) -> None:
        """Running: ``done`` of ``total`` steps (None: not known yet, a busy bar)."""
        maximum = 0 if total is None else max(total, 1)
        bar = self.bar
        within = 0.0
        if maximum == bar.maximum() and done >= bar.value():
            # The same job on: the fill never goes back, though a step's part may have
            # been reported before the steps ahead of it ended (a folder run writes behind).
            within = max(0.0, bar.value() + bar.within - done)
        bar.setRange(0, maximum)
        bar.setValue(done)
        bar.set_within(min(within, 1.0))
        self._part = None  # said of the step that has just ended
        self._show_format()
        self.setVisible(True)

    def show_part(self, text: str, within: float | None = None) -> None:
        """How far the step under way is, after the count: "3/12 images · map 40 %" while
        an image's slow map runs, the bar filled ``within`` (0–1) into that step. The next
        count drops the text."""
        if not self._stopping:  # it stops within the step: its part no longer matters
            self._part = text
            self._show_format()
            if within is not None:
                self.bar.set_within(max(self.bar.within, min(within, 1.0)))

    def show_stopping(self) -> None:
        """Cancelled, but the job ends only after the step under way: the count goes on."""
        self.cancel_button.setEnabled(False)
        self._stopping, self._part = True, None
        self._show_format()

    def finish(self) -> None:
        """Done or cancelled: hidden, and ready for the next job."""
        self.setVisible(False)
        self.cancel_button.setEnabled(True)
        self._stopping, self._part = False, None
        self.bar.set_within(0.0)
        self._show_format()

    def _show_format(self) -> None:
        text = self._format if self._part is None else f"{self._format} · {self._part}"
        self.bar.setFormat(f"stopping… {text}" if self._stopping else text)

    @property
    def count(self) -> tuple[int, int]:
        """What the bar shows: (done, total)."""
        return self.bar.value(), self.bar.maximum()
