"""The top-k list: label, percentage and a bar per class; a click pins the class whose
Grad-CAM map is shown, a second click on it releases the pin."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QMouseEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.results import Prediction
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.widgets.job_progress import JobProgress
from desktop_app.ui.widgets.theme import bar_colour

PROBABILITY_ROLE = Qt.ItemDataRole.UserRole + 1
CLASS_ROLE = Qt.ItemDataRole.UserRole + 2
PINNED_ROLE = Qt.ItemDataRole.UserRole + 3
FOLLOW_TOP_KEY = "T"
COMPUTE_MAP_KEY = "F5"
MAX_TOPK = 10
BAR_HEIGHT = 4


class _BarDelegate(QStyledItemDelegate):
    """Label on the left, percentage on the right, a bar beneath them; palette colours
    only, so it reads on light and dark themes alike."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        palette: QPalette = option.palette
        rect: QRect = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(option.rect, palette.highlight())
        probability = float(index.data(PROBABILITY_ROLE) or 0.0)
        # A solid bar along the row's foot: a translucent one behind the text was too faint
        # on a dark theme, and one strong enough to see would drown the text.
        painter.fillRect(QRect(rect.left(), rect.bottom() - BAR_HEIGHT + 1,
                               round(rect.width() * probability), BAR_HEIGHT),
                         bar_colour(palette, selected))
        rect = rect.adjusted(0, 0, 0, -BAR_HEIGHT)
        painter.setPen(palette.color(
            QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        text_rect = rect.adjusted(6, 0, -6, 0)
        percent = f"{probability * 100:.1f} %"
        metrics = option.fontMetrics
        text = str(index.data(Qt.ItemDataRole.DisplayRole))
        if index.data(PINNED_ROLE):
            text = f"{text}  (pinned)"
        label = metrics.elidedText(text,
                                   Qt.TextElideMode.ElideRight,
                                   text_rect.width() - metrics.horizontalAdvance(percent) - 8)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         label)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         percent)
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, option.fontMetrics.height() + 10 + BAR_HEIGHT)


class PredictionsPanel(QWidget):
    class_selected = Signal(int)  # class index: the user moved to another row
    class_reclicked = Signal(int)  # class index: the user clicked the row already selected
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
        self.list.setToolTip("Click a class to pin its Grad-CAM map; click it again to "
                             "follow the top class")
        self.header = QLabel("No prediction yet")
        self.header.setWordWrap(True)
        # A slow method's map: one forward pass per channel.
        self.map_progress = JobProgress("channels", "Stop computing the map (Esc)")
        # In its place once it was cancelled: the way to have that map after all.
        self.compute_map_button = QPushButton()
        self.compute_map_button.setVisible(False)

        top = QHBoxLayout()
        top.addWidget(QLabel("Top-k:"))
        top.addWidget(self.topk_spin)
        top.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.header)
        layout.addWidget(self.map_progress)
        layout.addWidget(self.compute_map_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.list, 1)

        self.topk_spin.valueChanged.connect(self.topk_changed)
        self.list.currentItemChanged.connect(self._on_current_item_changed)
        self.list.itemClicked.connect(self._on_item_clicked)
        self.list.viewport().installEventFilter(self)
        self._updating = False
        self._title = ""
        self._header = ""  # the prediction's title, model and pin
        self._note: str | None = None  # a line about the prediction shown
        self._prediction: Prediction | None = None
        self._pressed_selected = False  # the last press landed on the row already selected

    @property
    def topk(self) -> int:
        return self.topk_spin.value()

    def set_class_count(self, count: int) -> None:
        """A model with fewer classes than MAX_TOPK cannot list more: the spin box (and
        with it the "]" key) stops there."""
        most = max(1, min(MAX_TOPK, count))
        self.topk_spin.setMaximum(most)
        self.topk_spin.setToolTip(f"How many classes to list (1–{most})")

    def set_prediction(self, prediction: Prediction | None, selected_class: int | None,
                       title: str, pinned: tuple[int, str] | None = None) -> None:
        """Show ``prediction`` of ``title``, highlighting ``selected_class`` if listed;
        ``pinned``: the (index, label) of the class the user pinned."""
        self._updating = True
        self._note = None
        try:
            self.list.clear()
            self._prediction, self._title = prediction, title
            if prediction is None:
                self.header.setText("No prediction yet")
                return
            for score in prediction.topk:
                item = QListWidgetItem(score.label)
                item.setData(PROBABILITY_ROLE, score.probability)
                item.setData(CLASS_ROLE, score.index)
                item.setToolTip(f"{score.label} (class {score.index}): "
                                f"{score.probability * 100:.2f} %")
                self.list.addItem(item)
        finally:
            self._updating = False
        self.show_choice(selected_class, pinned)

    def show_choice(self, selected_class: int | None, pinned: tuple[int, str] | None) -> None:
        """Highlight ``selected_class`` and mark the pin, in place: safe from the list's own
        signals, unlike rebuilding it."""
        prediction = self._prediction
        if prediction is None:
            return
        header = f"{self._title} — {prediction.model}"
        if pinned is not None:
            listed = any(s.index == pinned[0] for s in prediction.topk)
            where = "" if listed else f", not in this top {len(prediction.topk)}"
            header += (f"\nPinned: {pinned[1]}{where} (click it again or press "
                       f"{FOLLOW_TOP_KEY} to follow the top class)")
        self._header = header
        self._show_header()
        self._updating = True
        try:
            for row in range(self.list.count()):
                item = self.list.item(row)
                index = int(item.data(CLASS_ROLE))
                item.setData(PINNED_ROLE, pinned is not None and index == pinned[0])
                if index == selected_class:
                    self.list.setCurrentItem(item)
        finally:
            self._updating = False

    def set_note(self, text: str) -> None:
        """Say under the header what is being computed for the prediction shown (a slow
        method's map) or why it has no map; the next prediction or message replaces it."""
        self._note = text
        self._show_header()

    def offer_map(self, method_title: str | None) -> None:
        """A slow method's map was cancelled: a button that computes it after all (None:
        no longer on offer)."""
        if method_title is not None:
            self.compute_map_button.setText(
                f"Compute the {method_title} map ({COMPUTE_MAP_KEY})")
            self.compute_map_button.setToolTip(
                f"Compute the {method_title} map of this image after all: one forward pass "
                "per channel (Esc stops it again)")
        self.compute_map_button.setVisible(method_title is not None)

    def _show_header(self) -> None:
        self.header.setText(self._header if self._note is None
                            else f"{self._header}\n{self._note}")

    def set_message(self, text: str) -> None:
        self._prediction = None
        self._note = None
        self.list.clear()
        self.header.setText(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(event, QMouseEvent):
            # Seen before the list moves its selection to the pressed row.
            item = self.list.itemAt(event.position().toPoint())
            self._pressed_selected = item is not None and item is self.list.currentItem()
        return super().eventFilter(watched, event)

    @Slot(QListWidgetItem)
    def _on_item_clicked(self, item: QListWidgetItem) -> None:
        if self._pressed_selected:
            self._pressed_selected = False
            emit(self.class_reclicked, int(item.data(CLASS_ROLE)))

    @Slot(QListWidgetItem, QListWidgetItem)
    def _on_current_item_changed(self, current: QListWidgetItem | None,
                                 _previous: QListWidgetItem | None) -> None:
        if current is not None and not self._updating:
            emit(self.class_selected, int(current.data(CLASS_ROLE)))
