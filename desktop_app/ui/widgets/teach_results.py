"""What a taught model learned: per-class accuracy with the confusion matrix, the warnings in
plain words, the most confident mistakes and a per-class gallery of validation images, each
with its Grad-CAM overlay (drawn by the worker; here they only become pixmaps)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.evaluation import Evaluation
from desktop_app.inference.taught_gallery import TILE_SIDE, MapTile
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.qt_image import rgb_to_qimage

_TILES_PER_ROW = 6
_CAPTION_LINES = 3


def percent(value: float) -> str:
    return "–" if value != value else f"{value:.0%}"  # NaN: a class without validation images


class ConfusionTable(QTableWidget):
    """Rows: true class; columns: predicted class, then the class's accuracy and images.
    The diagonal (right answers) is tinted green, the rest red by how often it happens."""

    def show_evaluation(self, evaluation: Evaluation) -> None:
        classes = evaluation.classes
        k = len(classes)
        self.clear()
        self.setRowCount(k)
        self.setColumnCount(k + 2)
        self.setHorizontalHeaderLabels([*classes, "Accuracy", "Validated"])
        self.setVerticalHeaderLabels(list(classes))
        for row, name in enumerate(classes):
            total = max(evaluation.val_counts[name], 1)
            for column, count in enumerate(evaluation.confusion_matrix[row]):
                item = _cell(str(count))
                if count:
                    hue = QColor(60, 170, 80) if row == column else QColor(210, 60, 50)
                    hue.setAlpha(int(40 + 160 * count / total))
                    item.setBackground(hue)
                self.setItem(row, column, item)
            self.setItem(row, k, _cell(percent(evaluation.per_class_accuracy[name])))
            self.setItem(row, k + 1, _cell(
                f"{evaluation.val_counts[name]} of {evaluation.counts[name]}"))
        self.resizeColumnsToContents()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        height = self.horizontalHeader().height() + sum(
            self.rowHeight(r) for r in range(k)) + 2 * self.frameWidth()
        self.setFixedHeight(height + 2)
        self.setToolTip("Validation images: rows are the true class, columns the class the "
                        "model chose. Validated: the class's validation images, of all its "
                        "images.")


def _cell(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    return item


def tile_widget(tile: MapTile, caption: str) -> QWidget:
    """One overlay with its caption beneath; the file's path as the tooltip."""
    box = QWidget()
    box.setObjectName("map-tile")
    layout = QVBoxLayout(box)
    layout.setContentsMargins(2, 2, 2, 2)
    picture = QLabel()
    picture.setPixmap(QPixmap.fromImage(rgb_to_qimage(tile.overlay_rgb)))
    picture.setFixedSize(TILE_SIDE, TILE_SIDE)
    picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
    text = QLabel(caption)
    text.setWordWrap(True)
    # A fixed size: a grid squeezes word-wrapped labels over the picture above them.
    text.setFixedSize(TILE_SIDE, _CAPTION_LINES * text.fontMetrics().lineSpacing() + 4)
    text.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
    layout.addWidget(picture)
    layout.addWidget(text)
    box.setToolTip(str(tile.path))
    return box


def _tiles_grid(tiles: Sequence[tuple[MapTile, str]]) -> QWidget:
    holder = QWidget()
    grid = QGridLayout(holder)
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    for i, (tile, caption) in enumerate(tiles):
        grid.addWidget(tile_widget(tile, caption), i // _TILES_PER_ROW, i % _TILES_PER_ROW)
    return holder


def gallery_caption(tile: MapTile) -> str:
    if tile.predicted == tile.true:
        return f"✓ {tile.confidence:.0%}"
    return f"✗ taken for {tile.predicted} ({tile.confidence:.0%})"


class TeachResults(QWidget):
    """The results of one training, top to bottom, and the button that uses the model."""

    use_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.use_button = QPushButton("Use this model")
        self.use_button.setToolTip("Switch the window to the new model: live recognition "
                                   "and every CAM method use it")
        self.use_button.clicked.connect(lambda: emit(self.use_requested))
        self.table = ConfusionTable()
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.mistakes_title = QLabel()
        self._sections = QVBoxLayout()
        self._sections.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(_heading("Validation images by class"))
        layout.addWidget(self.table)
        layout.addWidget(self.warnings)
        layout.addLayout(self._sections)
        layout.addStretch(1)

    def show_results(self, summary: str, evaluation: Evaluation, mistakes: Sequence[MapTile],
                     gallery: dict[str, tuple[MapTile, ...]]) -> None:
        self.summary.setText(summary)
        self.use_button.setEnabled(True)
        self.use_button.setText("Use this model")
        self.table.show_evaluation(evaluation)
        self.warnings.setText("".join(f"⚠ {w}<br>" for w in evaluation.warnings))
        self.warnings.setVisible(bool(evaluation.warnings))
        while self._sections.count():
            item = self._sections.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        if mistakes:
            self._sections.addWidget(_heading(
                "Most confident mistakes (the map of the class the model chose)"))
            self._sections.addWidget(_tiles_grid(
                [(m, f"{m.path.name}: {m.true}, taken for {m.predicted} ({m.confidence:.0%})")
                 for m in mistakes]))
        self._sections.addWidget(_heading(
            "Validation images with the map of their class: is it on the object or on "
            "the background?"))
        for name, tiles in gallery.items():
            self._sections.addWidget(QLabel(f"<b>{name}</b>"))
            self._sections.addWidget(_tiles_grid([(t, gallery_caption(t)) for t in tiles]))

    def mark_used(self) -> None:
        self.use_button.setEnabled(False)
        self.use_button.setText("Model in use")


def _heading(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    label.setWordWrap(True)
    return label
