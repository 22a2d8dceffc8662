"""Model and overlay controls: model, device, CAM layer; colormap, opacity, overlay on/off."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QWidget,
)

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.cam_choice import METHOD_TITLES, live_capable
from desktop_app.ui.widgets.eliding_combo import ElidingComboBox

CUSTOM_MODEL = "Custom checkpoint…"
DEVICE_LABELS = {"auto": "Auto", "cpu": "CPU", "mps": "Apple MPS"}


def device_label(device: str) -> str:
    if device.startswith("cuda"):
        return device.upper()
    return DEVICE_LABELS.get(device, device)


class ModelControls(QGroupBox):
    model_chosen = Signal(str)
    custom_requested = Signal()
    device_chosen = Signal(str)
    cam_layer_chosen = Signal(str)
    cam_method_chosen = Signal(str)

    def __init__(self, models: Sequence[str], cam_method: str,
                 parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.model_combo = ElidingComboBox()
        for model in models:
            # The name is the item's data: its text may carry a mark (see mark_downloaded).
            self.model_combo.addItem(model, model)
        self._official = tuple(models)
        self.model_combo.insertSeparator(self.model_combo.count())
        self.model_combo.addItem(CUSTOM_MODEL)
        self.device_combo = ElidingComboBox()
        self.layer_combo = ElidingComboBox()
        self.layer_combo.setToolTip("The layer whose activations the map explains")
        # Greyed until a model names its layers: with no model loaded (no weights on disk)
        # it was a blank list that opened on nothing.
        self.layer_combo.setEnabled(False)
        self.method_combo = ElidingComboBox()
        for method, title in METHOD_TITLES.items():
            self.method_combo.addItem(title, method)
        self.method_combo.setToolTip("How the map is computed; the slow ones (marked) run "
                                     "on stills and frozen frames only")
        self.set_cam_method(cam_method)
        self.set_devices(("auto", "cpu"), "auto")
        layout = QFormLayout(self)
        layout.addRow("Model:", self.model_combo)
        layout.addRow("Device:", self.device_combo)
        # Short labels in a narrow panel: "CAM method:" took the room "Score-CAM (stills)"
        # needed in a 640-pixel window (the values and tooltips say they are the map's).
        layout.addRow("Layer:", self.layer_combo)
        layout.addRow("Method:", self.method_combo)
        self.model_combo.activated.connect(self._on_model_activated)
        self.device_combo.activated.connect(self._on_device_activated)
        self.layer_combo.activated.connect(self._on_layer_activated)
        self.method_combo.activated.connect(self._on_method_activated)

    def show_model(self, name: str) -> None:
        """Select ``name``; a custom checkpoint's name is listed as an extra entry."""
        index = self.model_combo.findData(name)
        if index < 0:
            self.model_combo.insertItem(self.model_combo.count() - 1, name, name)
            index = self.model_combo.findData(name)
        self.model_combo.setCurrentIndex(index)

    def current_model(self) -> str:
        return str(self.model_combo.currentData() or self.model_combo.currentText())

    def mark_downloaded(self, downloaded: frozenset[str] | None) -> None:
        """Tell apart the official models whose weights are on disk ("resnet50 ✓") from
        those that choosing would download first; ``None`` (not known) leaves no marks."""
        for model in self._official:
            index = self.model_combo.findData(model)
            if downloaded is None:
                text, tip = model, ""
            elif model in downloaded:
                text, tip = f"{model} ✓", "Weights on this computer"
            else:
                text, tip = (f"{model} (not downloaded)",
                             "Choosing it downloads its weights first")
            self.model_combo.setItemText(index, text)
            self.model_combo.setItemData(index, tip, Qt.ItemDataRole.ToolTipRole)

    def set_devices(self, devices: Sequence[str], current: str) -> None:
        self.device_combo.clear()
        for device in devices:
            self.device_combo.addItem(device_label(device), device)
        index = self.device_combo.findData(current)
        if index < 0:
            self.device_combo.addItem(device_label(current), current)
            index = self.device_combo.count() - 1
        self.device_combo.setCurrentIndex(index)

    def current_device(self) -> str:
        return str(self.device_combo.currentData() or "auto")

    def set_cam_layers(self, layers: Sequence[str], current: str | None) -> None:
        self.layer_combo.clear()
        self.layer_combo.addItems(list(layers))
        self.layer_combo.setEnabled(bool(layers))
        if current in layers:
            self.layer_combo.setCurrentText(current)
        elif "layer4" in layers:
            self.layer_combo.setCurrentText("layer4")
        self.mark_live_methods(self.current_cam_layer())

    def set_cam_layer(self, layer: str) -> None:
        """Select ``layer`` (one of the listed ones), as the user would."""
        self.layer_combo.setCurrentText(layer)
        self.mark_live_methods(layer)

    def current_cam_layer(self) -> str | None:
        return self.layer_combo.currentText() or None

    def set_cam_method(self, method: str) -> None:
        index = self.method_combo.findData(method)
        self.method_combo.setCurrentIndex(max(index, 0))

    def current_cam_method(self) -> str:
        return str(self.method_combo.currentData())

    def mark_live_methods(self, layer: str | None) -> None:
        """Mark the methods too slow for live frames at ``layer`` ("Score-CAM (stills)")."""
        for index, (method, title) in enumerate(METHOD_TITLES.items()):
            live = live_capable(method, layer)
            self.method_combo.setItemText(index, title if live else f"{title} (stills)")
            self.method_combo.setItemData(
                index, "" if live else "Too slow for live frames: runs on stills and frozen "
                "frames", Qt.ItemDataRole.ToolTipRole)

    @Slot(int)
    def _on_model_activated(self, index: int) -> None:
        model = self.model_combo.itemData(index)
        if self.model_combo.itemText(index) == CUSTOM_MODEL:
            emit(self.custom_requested)
        elif model:
            emit(self.model_chosen, str(model))

    @Slot(int)
    def _on_device_activated(self, index: int) -> None:
        emit(self.device_chosen, str(self.device_combo.itemData(index)))

    @Slot(int)
    def _on_layer_activated(self, index: int) -> None:
        self.mark_live_methods(self.layer_combo.itemText(index))
        emit(self.cam_layer_chosen, self.layer_combo.itemText(index))

    @Slot(int)
    def _on_method_activated(self, index: int) -> None:
        emit(self.cam_method_chosen, str(self.method_combo.itemData(index)))


class OverlayControls(QGroupBox):
    colormap_changed = Signal(str)
    opacity_changed = Signal(float)
    overlay_toggled = Signal(bool)

    def __init__(self, colormaps: Sequence[str], colormap: str, opacity: float,
                 parent: QWidget | None = None) -> None:
        super().__init__("Overlay", parent)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(colormaps))
        if colormap in colormaps:
            self.colormap_combo.setCurrentText(colormap)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.opacity_slider.setValue(round(opacity * 100))
        self.opacity_slider.setToolTip("Opacity of the Grad-CAM colours")
        self.opacity_label = QLabel()
        self.opacity_label.setMinimumWidth(
            self.opacity_label.fontMetrics().horizontalAdvance("100 %"))
        self.show_box = QCheckBox("Show overlay (O)")
        self.show_box.setChecked(True)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_label)
        layout = QFormLayout(self)
        layout.addRow("Colormap:", self.colormap_combo)
        layout.addRow("Opacity:", opacity_row)
        layout.addRow(self.show_box)
        self._on_opacity_moved(self.opacity_slider.value())
        self.colormap_combo.currentTextChanged.connect(self.colormap_changed)
        self.opacity_slider.valueChanged.connect(self._on_opacity_moved)
        self.show_box.toggled.connect(self.overlay_toggled)

    @property
    def colormap(self) -> str:
        return self.colormap_combo.currentText()

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_overlay_shown(self, shown: bool) -> None:
        self.show_box.blockSignals(True)
        self.show_box.setChecked(shown)
        self.show_box.blockSignals(False)

    @Slot(int)
    def _on_opacity_moved(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")
        emit(self.opacity_changed, value / 100.0)
