"""The window's panes and how they are laid out: the picture and filmstrip on the left,
the controls (scrolling in a small window) and the messages on the right."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from desktop_app.core.colormaps import COLORMAPS
from desktop_app.inference.catalog import MODEL_NAMES
from desktop_app.ui.settings import Settings
from desktop_app.ui.widgets.camera_panel import CameraPanel
from desktop_app.ui.widgets.controls_panel import ModelControls, OverlayControls
from desktop_app.ui.widgets.filmstrip import Filmstrip
from desktop_app.ui.widgets.image_view import ImageView
from desktop_app.ui.widgets.messages_panel import MessagesPanel
from desktop_app.ui.widgets.predictions_panel import PredictionsPanel
from desktop_app.ui.widgets.score_panel import ScorePanel

SIDE_MAX_WIDTH = 440


@dataclass
class Panes:
    view: ImageView
    filmstrip: Filmstrip
    predictions: PredictionsPanel
    model_controls: ModelControls
    overlay_controls: OverlayControls
    camera_panel: CameraPanel
    score_panel: ScorePanel
    messages: MessagesPanel
    side_scroll: QScrollArea  # the controls, scrolling in a small window
    splitter: QSplitter  # the window's central widget


def build_panes(settings: Settings) -> Panes:
    s = settings
    view = ImageView()
    filmstrip = Filmstrip()
    filmstrip.setVisible(False)
    predictions = PredictionsPanel(s.topk)
    model_controls = ModelControls(MODEL_NAMES, s.cam_method)
    overlay_controls = OverlayControls(COLORMAPS, s.colormap, s.opacity)
    camera_panel = CameraPanel(s.mirror)
    score_panel = ScorePanel()
    messages = MessagesPanel()

    left = QWidget()
    left_layout = QVBoxLayout(left)
    left_layout.setContentsMargins(0, 0, 0, 0)
    left_layout.setSpacing(0)
    left_layout.addWidget(view, 1)
    left_layout.addWidget(filmstrip)

    controls = QWidget()
    controls_layout = QVBoxLayout(controls)
    controls_layout.setContentsMargins(6, 6, 6, 0)
    controls_layout.addWidget(model_controls)
    controls_layout.addWidget(overlay_controls)
    controls_layout.addWidget(predictions, 1)
    controls_layout.addWidget(score_panel)
    controls_layout.addWidget(camera_panel)
    # In a small window the controls scroll instead of setting the window's height.
    scroll = QScrollArea()
    scroll.setWidget(controls)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    # Not a Tab stop of its own (it would show no focus); it scrolls to the focused control.
    scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    log_pane = QWidget()
    log_layout = QVBoxLayout(log_pane)
    log_layout.setContentsMargins(6, 0, 6, 6)
    log_layout.addWidget(QLabel("Messages"))
    log_layout.addWidget(messages)
    side = QSplitter(Qt.Orientation.Vertical)
    side.addWidget(scroll)
    side.addWidget(log_pane)
    side.setStretchFactor(0, 4)
    side.setStretchFactor(1, 1)
    # Wide enough for every control (plus a vertical scroll bar), never so wide that the
    # picture loses its place: at 640 px the image keeps well over half.
    side.setMinimumWidth(controls.minimumSizeHint().width()
                         + scroll.verticalScrollBar().sizeHint().width())
    side.setMaximumWidth(SIDE_MAX_WIDTH)

    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(side)
    # Both give and take as the window is resized, in proportion to their widths (the side
    # panel within its bounds).
    splitter.setStretchFactor(0, 1)
    splitter.setStretchFactor(1, 1)
    splitter.setCollapsible(0, False)
    splitter.setSizes([860, 330])
    return Panes(view, filmstrip, predictions, model_controls, overlay_controls, camera_panel,
                 score_panel, messages, scroll, splitter)
