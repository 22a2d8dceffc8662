"""The Compare window: a grid of maps, methods (rows, cheapest first) × classes (columns),
each cell with its scores and its rank within the class; a click opens it in the main
view."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.qt_compat import emit

THUMB = 150


class CompareDialog(QDialog):
    cell_clicked = Signal(str, int)  # method, class index
    cancel_requested = Signal()
    export_png_requested = Signal()
    export_csv_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare explanations")
        self.status = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.png_button = QPushButton("Export grid as PNG…")
        self.csv_button = QPushButton("Export scores as CSV…")
        self.grid_widget = QWidget()
        self._grid = QGridLayout(self.grid_widget)
        self._grid.setSpacing(4)
        # Packed at the top left: rows and columns keep the cells' size, however large
        # the window.
        self._grid.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.cells: dict[tuple[str, int], QToolButton] = {}
        scroll = QScrollArea()
        scroll.setWidget(self.grid_widget)
        scroll.setWidgetResizable(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.png_button.clicked.connect(self.export_png_requested)
        self.csv_button.clicked.connect(self.export_csv_requested)
        self.resize(980, 720)

    def set_grid(self, methods: Sequence[tuple[str, str]],
                 classes: Sequence[tuple[int, str]]) -> None:
        """Empty cells for ``methods`` ((name, title) rows) × ``classes`` ((index, label))."""
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cells.clear()
        for column, (index, label) in enumerate(classes, start=1):
            header = QLabel(f"<b>{label}</b><br>class {index}")
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            header.setMaximumWidth(THUMB + 16)
            header.setWordWrap(True)
            self._grid.addWidget(header, 0, column)
        for row, (method, title) in enumerate(methods, start=1):
            self._grid.addWidget(QLabel(f"<b>{title}</b>"), row, 0)
            for column, (index, _label) in enumerate(classes, start=1):
                cell = QToolButton()
                cell.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
                cell.setIconSize(QSize(THUMB, THUMB))
                cell.setFixedSize(THUMB + 16, THUMB + 2 * cell.fontMetrics().height() + 16)
                cell.setText("waiting…")
                cell.setEnabled(False)
                cell.clicked.connect(lambda _c=False, m=method, i=index:
                                     emit(self.cell_clicked, m, i))
                self._grid.addWidget(cell, row, column)
                self.cells[method, index] = cell

    def set_cell(self, method: str, index: int, image: QImage | None, text: str) -> None:
        cell = self.cells[method, index]
        if image is not None:
            cell.setIcon(QIcon(QPixmap.fromImage(image)))
            cell.setEnabled(True)
        cell.setText(text)

    def set_running(self, done: int, total: int, text: str, running: bool) -> None:
        self.status.setText(text)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.cancel_button.setEnabled(running)

    def grid_image(self) -> QImage:
        return self.grid_widget.grab().toImage()
