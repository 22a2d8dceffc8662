"""The top-k list: label, percentage and a bar per class; a click picks the class whose
Grad-CAM map is shown."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.results import Prediction
from desktop_app.ui.qt_compat import emit

PROBABILITY_ROLE = Qt.ItemDataRole.UserRole + 1
CLASS_ROLE = Qt.ItemDataRole.UserRole + 2
MAX_TOPK = 10


class _BarDelegate(QStyledItemDelegate):
    """Label on the left, percentage on the right, a bar behind them; palette colours only,
    so it reads on light and dark themes alike."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        palette: QPalette = option.palette
        rect: QRect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(option.rect, palette.highlight())
        probability = float(index.data(PROBABILITY_ROLE) or 0.0)
        # The bar fills the row behind the text: Highlight on the base colour, or a lighter
        # veil on a selected row.
        bar = QColor(palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Highlight))
        bar.setAlpha(60 if selected else 85)
        painter.fillRect(QRect(rect.left(), rect.top(), round(rect.width() * probability),
                               rect.height()), bar)
        painter.setPen(palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        text_rect = rect.adjusted(6, 0, -6, 0)
        percent = f"{probability * 100:.1f} %"
        metrics = option.fontMetrics
        label = metrics.elidedText(str(index.data(Qt.ItemDataRole.DisplayRole)),
                                   Qt.TextElideMode.ElideRight,
                                   text_rect.width() - metrics.horizontalAdvance(percent) - 8)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         label)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         percent)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, option.fontMetrics.height() + 12)


class PredictionsPanel(QWidget):
    class_selected = Signal(int)  # class index
    topk_changed = Signal(int)

    def __init__(self, topk: int = 5, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.topk_spin = QSpinBox(minimum=1, maximum=MAX_TOPK, value=topk)
        self.topk_spin.setToolTip("How many classes to list (1–10)")
        self.topk_spin.setAccessibleName("Top-k")
        self.list = QListWidget()
        self.list.setObjectName("predictions")
        self.list.setItemDelegate(_BarDelegate(self.list))
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.list.setToolTip("Click a class to see its Grad-CAM map")
        self.header = QLabel("No prediction yet")
        self.header.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(QLabel("Top-k:"))
        top.addWidget(self.topk_spin)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.header)
        layout.addWidget(self.list, 1)

        self.topk_spin.valueChanged.connect(self.topk_changed)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self._updating = False

    @property
    def topk(self) -> int:
        return self.topk_spin.value()

    def set_prediction(self, prediction: Prediction | None, selected_class: int | None,
                       title: str) -> None:
        """Show ``prediction`` of ``title``, highlighting ``selected_class`` if listed."""
        self._updating = True
        try:
            self.list.clear()
            if prediction is None:
                self.header.setText("No prediction yet")
                return
            self.header.setText(f"{title} — {prediction.model}")
            for score in prediction.topk:
                item = QListWidgetItem(score.label)
                item.setData(PROBABILITY_ROLE, score.probability)
                item.setData(CLASS_ROLE, score.index)
                item.setToolTip(f"{score.label} (class {score.index}): "
                                f"{score.probability * 100:.2f} %")
                self.list.addItem(item)
                if score.index == selected_class:
                    self.list.setCurrentItem(item)
        finally:
            self._updating = False

    def set_message(self, text: str) -> None:
        self.list.clear()
        self.header.setText(text)

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_item_changed(self, current: QListWidgetItem | None,
                                 _previous: QListWidgetItem | None) -> None:
        if current is not None and not self._updating:
            emit(self.class_selected, int(current.data(CLASS_ROLE)))
