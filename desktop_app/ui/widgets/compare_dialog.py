"""The Compare window: a grid of maps, methods (rows, cheapest first) × columns (the top-k
classes, or the layers for one class), each cell with its scores and its rank within its
column; a click opens it in the main view."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.compare import Columns
from desktop_app.ui.widgets.screen_fit import resize_within_screen

THUMB = 150


class CompareDialog(QDialog):
    cell_clicked = Signal(str, object)  # method, column key (class index or layer)
    columns_chosen = Signal(object)  # Columns
    cancel_requested = Signal()
    export_png_requested = Signal()
    export_csv_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare explanations")
        self.by_classes = QRadioButton("Top-k &classes")
        self.by_classes.setToolTip("Each column a class of the top-k, at the layer on screen")
        self.by_layers = QRadioButton("&Layers")
        self.by_layers.setToolTip("Each column a layer, for the class on screen (the pinned "
                                  "one, else the top one)")
        self._by = QButtonGroup(self)
        for button in (self.by_classes, self.by_layers):
            self._by.addButton(button)
            button.toggled.connect(self._on_columns_toggled)
        self.by_classes.setChecked(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
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
        self.cells: dict[tuple[str, int | str], QToolButton] = {}
        self.headers: list[QLabel] = []  # the corner, then one per column
        scroll = QScrollArea()
        scroll.setWidget(self.grid_widget)
        scroll.setWidgetResizable(True)
        columns = QHBoxLayout()
        columns.addWidget(QLabel("Columns:"))
        columns.addWidget(self.by_classes)
        columns.addWidget(self.by_layers)
        columns.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.csv_button)
        layout = QVBoxLayout(self)
        layout.addLayout(columns)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.png_button.clicked.connect(self.export_png_requested)
        self.csv_button.clicked.connect(self.export_csv_requested)
        resize_within_screen(self, 980, 720)

    @property
    def columns(self) -> Columns:
        return Columns.LAYERS if self.by_layers.isChecked() else Columns.CLASSES

    def set_columns(self, by: Columns) -> None:
        """Show ``by`` as chosen, without asking for it again."""
        for button in (self.by_classes, self.by_layers):
            button.blockSignals(True)
        (self.by_layers if by is Columns.LAYERS else self.by_classes).setChecked(True)
        for button in (self.by_classes, self.by_layers):
            button.blockSignals(False)

    def _on_columns_toggled(self, checked: bool) -> None:
        if checked:
            emit(self.columns_chosen, self.columns)

    def set_grid(self, methods: Sequence[tuple[str, str]],
                 columns: Sequence[tuple[int | str, str]], corner: str) -> None:
        """Empty cells for ``methods`` ((name, title) rows) × ``columns`` ((key, header)),
        with ``corner`` above the row titles (what all columns share: the exported PNG says
        it too)."""
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cells.clear()
        self.headers = [QLabel(corner)]
        self.headers[0].setWordWrap(True)
        self.headers[0].setMaximumWidth(THUMB)
        self._grid.addWidget(self.headers[0], 0, 0)
        for column, (_key, text) in enumerate(columns, start=1):
            header = QLabel(text)
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            header.setMaximumWidth(THUMB + 16)
            header.setWordWrap(True)
            self._grid.addWidget(header, 0, column)
            self.headers.append(header)
        for row, (method, title) in enumerate(methods, start=1):
            self._grid.addWidget(QLabel(f"<b>{title}</b>"), row, 0)
            for column, (key, _text) in enumerate(columns, start=1):
                cell = QToolButton()
                cell.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
                cell.setIconSize(QSize(THUMB, THUMB))
                cell.setFixedSize(THUMB + 16, THUMB + 2 * cell.fontMetrics().height() + 16)
                cell.setText("waiting…")
                cell.setEnabled(False)
                cell.clicked.connect(lambda _c=False, m=method, k=key:
                                     emit(self.cell_clicked, m, k))
                self._grid.addWidget(cell, row, column)
                self.cells[method, key] = cell

    def set_cell(self, method: str, key: int | str, image: QImage | None, text: str) -> None:
        cell = self.cells[method, key]
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
