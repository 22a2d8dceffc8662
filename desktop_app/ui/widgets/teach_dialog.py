"""The Teach window: a training's progress (stage, epoch, loss, validation accuracy) with
Cancel, then its results. Not modal: the main window stays usable while the model learns."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.screen_fit import resize_within_screen
from desktop_app.ui.widgets.teach_results import TeachResults

_STAGE_TITLES = {
    "features": "Computing features",
    "linear probe": "Fitting a linear probe",
    "fine-tune": "Fine-tuning layer4 and the head",
    "maps": "Saving the model and drawing Grad-CAM maps",
}


class TeachDialog(QDialog):
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Teach")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop training; the best model so far is kept and saved")
        self.close_button = QPushButton("Close")
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(500)
        self.results = TeachResults()
        # Hidden until there are results: while training, the log has the room.
        self._scroll = QScrollArea()
        self._scroll.setWidget(self.results)
        self._scroll.setWidgetResizable(True)
        self._scroll.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addStretch(0)  # keeps Close at the right once the bar is hidden
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addLayout(bar)
        layout.addWidget(self.log, 1)
        layout.addWidget(self._scroll, 4)
        layout.addStretch(0)  # with neither shown, the line and the buttons stay on top
        self.cancel_button.clicked.connect(lambda: emit(self.cancel_requested))
        self.close_button.clicked.connect(self.close)
        resize_within_screen(self, 760, 420)  # progress only; results make it larger

    def show_started(self, title: str, text: str) -> None:
        self.setWindowTitle(title)
        self.status.setText(text)
        self.status.setStyleSheet("")
        self.progress.setRange(0, 0)  # busy until the first count arrives
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.show()
        # The keyboard on Cancel, as at the first training: the window kept the focus
        # where the last one left it (Close), and Return closed it instead.
        self.cancel_button.setFocus()
        self.log.clear()
        self.log.show()
        self._scroll.hide()

    def show_stage(self, stage: str, done: int, total: int) -> None:
        self.status.setText(f"{_STAGE_TITLES.get(stage, stage)}… "
                            + (f"{done} of {total}" if stage != "maps" else ""))
        if stage == "maps":
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)

    def add_line(self, text: str) -> None:
        self.log.appendPlainText(text)

    def show_cancelling(self) -> None:
        self.cancel_button.setEnabled(False)
        self.status.setText("Stopping: the best model so far will be kept…")

    def show_saved(self, title: str, text: str) -> None:
        """Results read back from a saved training: no progress, no log, only the results."""
        self.setWindowTitle(title)
        self.status.setText(text)
        self.status.setStyleSheet("")
        self.log.clear()
        self.log.hide()
        self.show_done(text)

    def show_error(self, text: str) -> None:
        """The one-line message of a training that did not start or failed."""
        self.status.setText(text)
        self.status.setStyleSheet("color: #c0392b;")
        self.log.setVisible(bool(self.log.toPlainText()))  # an empty log says nothing
        self._finish()

    def show_done(self, text: str) -> None:
        self.status.setText(text)
        self._finish()
        self._scroll.show()
        resize_within_screen(self, max(self.width(), 1080), max(self.height(), 760))

    def _finish(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
