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
        self.setVisible(True)

    def show_stopping(self) -> None:
        """Cancelled, but the job ends only after the step under way: the count goes on."""
        self.cancel_button.setEnabled(False)
        self.bar.setFormat(f"stopping… {self._format}")

    def finish(self) -> None:
        """Done or cancelled: hidden, and ready for the next job."""
        self.setVisible(False)
        self.cancel_button.setEnabled(True)
        self.bar.setFormat(self._format)

    @property
    def count(self) -> tuple[int, int]:
        """What the bar shows: (done, total)."""
        return self.bar.value(), self.bar.maximum()
