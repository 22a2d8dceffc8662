"""A long job's progress bar, with its count, and the Cancel button beside it: the one row
that the window's long jobs (a folder run, scoring a map, a slow method's map) show while
they run."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget


class JobProgress(QWidget):
    cancel_requested = Signal()

    def __init__(self, unit: str, cancel_tip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
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
        self.bar.setRange(0, 0 if total is None else max(total, 1))
        self.bar.setValue(done)
        self._part = None  # said of the step that has just ended
        self._show_format()
        self.setVisible(True)

    def show_part(self, text: str) -> None:
        """How far the step under way is, after the count: "3/12 images · map 40 %" while
        an image's slow map runs. The next count drops it."""
        if not self._stopping:  # it stops within the step: its part no longer matters
            self._part = text
            self._show_format()

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
        self._show_format()

    def _show_format(self) -> None:
        text = self._format if self._part is None else f"{self._format} · {self._part}"
        self.bar.setFormat(f"stopping… {text}" if self._stopping else text)

    @property
    def count(self) -> tuple[int, int]:
        """What the bar shows: (done, total)."""
        return self.bar.value(), self.bar.maximum()
