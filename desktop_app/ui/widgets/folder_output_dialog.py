"""Where *Classify all and write* puts its files, and which overlays it draws: the
command line's ``--out``/``--cam-dir``, ``--cam-classes``, ``--full-size`` and
``--resume`` as a dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.atomic import check_writable
from desktop_app.core.errors import one_line
from desktop_app.core.map_outputs import OVERLAY_MAX_SIDE
from desktop_app.ui.state.requests import RESULTS_FILE, FolderOutput
from desktop_app.ui.widgets.theme import error_text_colour

CAM_CLASSES = {"top1": "The top class", "topk": "Every listed class (top-k)"}


class FolderOutputDialog(QDialog):
    def __init__(self, parent: QWidget | None, folder: str, colormap: str,
                 opacity: float) -> None:
        super().__init__(parent)
        self.setWindowTitle("Classify all and write overlays")
        self._colormap, self._opacity = colormap, opacity
        self.folder_edit = QLineEdit(folder)
        self.folder_edit.setMinimumWidth(360)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        self.classes_box = QComboBox()
        for value, text in CAM_CLASSES.items():
            self.classes_box.addItem(text, value)
        self.full_size_box = QCheckBox(
            f"Full size (otherwise at most {OVERLAY_MAX_SIDE} px, ~0.15 MB per 3-MP photo)")
        self.resume_box = QCheckBox("Skip images already written to this folder")
        self.resume_box.setChecked(True)
        self.error_label = QLabel("")
        self.error_label.setObjectName("error")
        self.error_label.setVisible(False)
        self.error_label.setWordWrap(True)  # a long path widened the dialog off the screen
        # In the error red: in the text colour it read as one more line of the description
        # above it, and OK seemed to do nothing.
        palette = self.error_label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, error_text_colour(palette))
        self.error_label.setPalette(palette)

        form = QFormLayout()
        form.addRow("Output folder:", row)
        form.addRow("Overlays for:", self.classes_box)
        form.addRow("", self.full_size_box)
        form.addRow("", self.resume_box)
        about = QLabel(
            f"Writes {RESULTS_FILE} (one JSON line per image, as resnet-lens predict --out "
            "writes) and a JPEG overlay of the current CAM method per class, in the "
            "current colormap and opacity.")
        about.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Classify and write")
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(about)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)

    def output(self) -> FolderOutput:
        return FolderOutput(
            folder=str(Path(self.folder_edit.text().strip()).expanduser()),
            cam_classes=str(self.classes_box.currentData()),
            full_size=self.full_size_box.isChecked(),
            resume=self.resume_box.isChecked(),
            colormap=self._colormap,
            alpha=self._opacity,
        )

    @Slot()
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder",
                                                  self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    @Slot()
    def _accept_if_valid(self) -> None:
        text = self.folder_edit.text().strip()
        problem = None
        if not text:
            problem = "Choose a folder to write to."
        else:
            try:  # made now, and refused now if it takes no files: not image by image later
                check_writable(Path(text).expanduser())
            except OSError as exc:
                problem = one_line(exc)
        if problem is not None:
            self.error_label.setText(problem)
            self.error_label.setVisible(True)
            return
        self.accept()
