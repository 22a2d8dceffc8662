"""What a taught model learned: per-class accuracy with the confusion matrix, the warnings in
plain words, the most confident mistakes and a per-class gallery of validation images, each
with its Grad-CAM overlay (drawn by the worker; here they only become pixmaps). Under k-fold
cross-validation the captions are out-of-fold, as the table, while the maps are the saved
model's, which trained on most of those images: the gallery's header says so. Results read
back from a saved report have only the mistakes' maps (saved beside the model): the class
gallery's place says why it is empty."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.evaluation import HOLD_OUT, Evaluation
from desktop_app.inference.taught_files import maps_note
from desktop_app.inference.taught_gallery import TILE_SIDE, Gallery, MapTile
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.qt_image import rgb_to_qimage

_TILES_PER_ROW = 6
_CAPTION_LINES = 3


def percent(value: float) -> str:
    return "–" if value != value else f"{value:.0%}"  # NaN: a class without validation images


class ConfusionTable(QTableWidget):
    """Rows: true class; columns: predicted class, then the class's accuracy and images.
    The diagonal (right answers) is tinted green, the rest red by how often it happens."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Tab leaves the table (the arrows move among its cells): otherwise it stepped
        # through every cell, k × (k + 2) presses, before reaching the map tiles.
        self.setTabKeyNavigation(False)

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
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._fit_height()
        self.setToolTip("Validation images: rows are the true class, columns the class the "
                        "model chose. Validated: the class's validation images, of all its "
                        "images.")


    def _fit_height(self) -> None:
        """Every row shown, with room for the scroll bar of a table wider than the window."""
        rows = sum(self.rowHeight(r) for r in range(self.rowCount()))
        width = (self.verticalHeader().width() + 2 * self.frameWidth()
                 + sum(self.columnWidth(c) for c in range(self.columnCount())))
        bar = self.horizontalScrollBar().sizeHint().height() if width > self.width() else 0
        self.setFixedHeight(self.horizontalHeader().height() + rows + 2 * self.frameWidth()
                            + bar + 2)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()


def _cell(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    return item


def tile_widget(tile: MapTile, caption: str) -> QWidget:
    """One overlay with its caption beneath; the file's path and the caption as the tooltip."""
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
    box.setToolTip(f"{tile.path}\n{caption}")  # the whole caption, should 3 lines cut it
    return box


class TileFlow(QWidget):
    """Tiles in rows as wide as the window: as many to a row as fit, so that a narrow window
    scrolls down through them, never sideways past the *Use this model* button."""

    def __init__(self, tiles: Sequence[tuple[MapTile, str]]) -> None:
        super().__init__()
        # The width comes from the window, not from the tiles; the height from the rows.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.tiles = [tile_widget(tile, caption) for tile, caption in tiles]
        self._columns = 0
        self._place(_TILES_PER_ROW)

    @property
    def columns(self) -> int:
        return self._columns

    def _place(self, columns: int) -> None:
        columns = max(1, min(columns, len(self.tiles)))
        if columns == self._columns:
            return
        self._columns = columns
        for tile in self.tiles:
            self._grid.removeWidget(tile)
        for i, tile in enumerate(self.tiles):
            self._grid.addWidget(tile, i // columns, i % columns)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.tiles:
            spacing = max(self._grid.horizontalSpacing(), 0)
            step = self.tiles[0].sizeHint().width() + spacing
            self._place((event.size().width() + spacing) // step)


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
        # Above the summary when the results no longer describe the project's images.
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setStyleSheet("color: #b9770e;")
        self.notice.hide()
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
        layout.addWidget(self.notice)
        layout.addLayout(top)
        layout.addWidget(_heading("Validation images by class"))
        layout.addWidget(self.table)
        layout.addWidget(self.warnings)
        layout.addLayout(self._sections)
        layout.addStretch(1)

    def show_results(self, summary: str, evaluation: Evaluation, gallery: Gallery) -> None:
        self.summary.setText(summary)
        self.show_unused()
        self.table.show_evaluation(evaluation)
        self.warnings.setText("".join(f"⚠ {w}<br>" for w in evaluation.warnings))
        self.warnings.setVisible(bool(evaluation.warnings))
        while self._sections.count():
            item = self._sections.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        out_of_fold = gallery.validation != HOLD_OUT
        if gallery.from_report and not gallery.mistakes and evaluation.mistakes:
            listed = "; ".join(f"{Path(m.path).name}: {m.true}, taken for {m.predicted} "
                               f"({m.confidence:.0%})" for m in evaluation.mistakes)
            self._sections.addWidget(_heading(
                "Most confident mistakes",
                note=f"{listed}. Their maps are no longer beside the model."))
        if gallery.mistakes:
            self._sections.addWidget(_heading(
                f"Most confident mistakes in {gallery.validation} (the saved model's map of "
                "the class wrongly chosen)" if out_of_fold else
                "Most confident mistakes (the map of the class the model chose)"))
            self._sections.addWidget(TileFlow(
                [(m, f"{m.true}, taken for {m.predicted} ({m.confidence:.0%})")
                 for m in gallery.mistakes]))
        if gallery.from_report:
            self._sections.addWidget(_heading(
                "Images with the map of their class",
                note="These maps are drawn right after a training and are not saved with the "
                     "model: train again to see them, or open images to see the model's map "
                     "once you use it."))
        elif out_of_fold:
            shown = sum(map(len, gallery.by_class.values()))
            note = maps_note(gallery.trained_on, shown)
            self._sections.addWidget(_heading(
                "Images with the map of their class: is it on the object or on the "
                "background?", note=note))
        else:
            self._sections.addWidget(_heading(
                "Validation images with the map of their class: is it on the object or on "
                "the background?"))
        for name, tiles in gallery.by_class.items():
            self._sections.addWidget(QLabel(f"<b>{name}</b>"))
            self._sections.addWidget(TileFlow([(t, gallery_caption(t)) for t in tiles]))

    def set_notice(self, text: str) -> None:
        """A warning above the results ("" for none)."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_unused(self) -> None:
        self.use_button.setEnabled(True)
        self.use_button.setText("Use this model")

    def mark_used(self) -> None:
        self.use_button.setEnabled(False)
        self.use_button.setText("Model in use")


def _heading(text: str, note: str = "") -> QLabel:
    """A section's title in bold, with ``note`` beneath in plain words (also its tooltip)."""
    label = QLabel(f"<b>{text}</b>" + (f"<br>{escape(note, quote=False)}" if note else ""))
    label.setWordWrap(True)
    label.setToolTip(note)
    return label
