"""Weights dialogs: download progress with cancel, and what to do when weights are missing."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QProgressDialog, QPushButton, QWidget

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.requests import DownloadProgress


def _megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


class DownloadDialog(QProgressDialog):
    """Shown when the worker reports download progress; Cancel asks the worker to stop."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Downloading weights")
        self.setCancelButtonText("Cancel")
        self.setMinimumDuration(0)
        self.setAutoClose(False)
        self.setAutoReset(False)
        self.setWindowModality(Qt.WindowModality.WindowModal)
        self.setRange(0, 0)

    def update_progress(self, progress: DownloadProgress) -> None:
        if progress.total:
            self.setRange(0, 1000)
            self.setValue(min(1000, round(1000 * progress.done / progress.total)))
            amount = f"{_megabytes(progress.done)} of {_megabytes(progress.total)}"
        else:
            self.setRange(0, 0)
            amount = _megabytes(progress.done)
        self.setLabelText(f"Downloading the {progress.model} weights… {amount}")


class WeightsProblemDialog(QMessageBox):
    """Explains why a model could not be loaded and offers to pick a weights file."""

    choose_file = Signal()

    def __init__(self, message: str, offline: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Weights unavailable" if offline else "Model not loaded")
        self.setText("The model's weights could not be loaded." if not offline else
                     "The model's weights are not on this computer and cannot be downloaded.")
        hint = "\n\nChoose weights file… opens a .pth, .pt or .safetensors file now."
        self.setInformativeText(message + hint)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_button: QPushButton = self.addButton(
            "Choose weights file…", QMessageBox.ButtonRole.ActionRole)
        self.addButton(QMessageBox.StandardButton.Close)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.buttonClicked.connect(self._on_button_clicked)

    @Slot(object)
    def _on_button_clicked(self, button: object) -> None:
        if button is self.choose_button:
            emit(self.choose_file)
