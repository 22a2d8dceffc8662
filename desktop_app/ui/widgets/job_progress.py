"""A long job's progress bar, with its count, and the Cancel button beside it: the one row
that the window's slow jobs (scoring a map, a slow method's map) show while they run."""

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
        self.bar.setFormat(f"%v/%m {unit}")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(f"{cancel_tip} (Esc)")
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

    @property
    def count(self) -> tuple[int, int]:
        """What the bar shows: (done, total)."""
        return self.bar.value(), self.bar.maximum()
