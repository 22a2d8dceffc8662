"""The main window: lays out the panes and routes sources, requests and results.

Everything here runs on the GUI thread and stays light: decoding happens in the
background pool, the model in the worker, and the overlay is computed at display size.
Model choice, the opened images and exports each have their own controller module.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
)
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.image_io import IMAGE_EXTENSIONS, iter_image_files
from desktop_app.core.results import Prediction
from desktop_app.inference.catalog import DEFAULT_MODEL, MODEL_NAMES
from desktop_app.ui.actions import build_actions, install_navigation_key_guard
from desktop_app.ui.background import Background
from desktop_app.ui.camera_panel import CameraPanel
from desktop_app.ui.controls_panel import ModelControls, OverlayControls
from desktop_app.ui.export import BatchEntry, frame_name
from desktop_app.ui.export_controller import ExportController
from desktop_app.ui.filmstrip import Filmstrip
from desktop_app.ui.image_list import Entry, ImageList, Still, still_from_pixels
from desktop_app.ui.image_view import ImageView
from desktop_app.ui.live_source import VIDEO_EXTENSIONS, LiveSource, is_video_file
from desktop_app.ui.messages_panel import MessagesPanel
from desktop_app.ui.mime_sources import MimeContent, can_accept, read_mime
from desktop_app.ui.model_controller import NO_MODEL, ModelController
from desktop_app.ui.overlay_layer import DIM_UNSEEN, cam_rgba
from desktop_app.ui.predictions_panel import PredictionsPanel
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.qt_image import rgb_to_qimage, rgba_to_qimage
from desktop_app.ui.requests import (
    ModelInfo,
    ModelRequest,
    PredictRequest,
    PredictResult,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.settings import Settings
from desktop_app.ui.shortcuts_dialog import ShortcutsDialog, shortcut_rows
from desktop_app.ui.status_panel import StatusPanel
from desktop_app.ui.theme import apply_theme
from desktop_app.ui.worker import EngineFactory, WorkerClient

log = logging.getLogger(__name__)

APP_NAME = "ResNet Lens"
FPS_WINDOW = 30
# A CAM is a smooth upsampled grid: computed for at most this many pixels a side and
# stretched by Qt, it looks the same and costs a few ms even for a live source.
OVERLAY_MAX_SIDE = 400
SIDE_MAX_WIDTH = 440


def _list_cameras() -> list[tuple[int, str]]:
    from desktop_app.capture import list_cameras

    return [(info.index, info.name) for info in list_cameras()]


def _has_map(prediction: Prediction | None, index: int | None) -> bool:
    return (prediction is not None and prediction.cams is not None and index is not None
            and index in prediction.cams)


class MainWindow(QMainWindow):
    prediction_shown = Signal(object)  # the Prediction now on screen
    first_painted = Signal()

    def __init__(self, settings: Settings, engine_factory: EngineFactory, *,
                 model: str | None = None, device: str | None = None,
                 weights: str | None = None, labels: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.client = WorkerClient(engine_factory, self)
        self.background = Background(parent=self)

        if model is None and weights is None:  # nothing asked for: the last session's model
            model, weights = settings.model, settings.weights
            labels = labels or settings.labels
        if model is None and weights is None:
            model = DEFAULT_MODEL
        initial = ModelRequest(0, model, device or settings.device, weights, labels)

        self._still: Still | None = None
        self._still_request = 0
        self._prediction: Prediction | None = None
        self._selected_class: int | None = None
        # The class the user clicked: (index, label, model). It holds from image to image
        # and frame to frame until released; unpinned, the map follows the top class.
        self._pinned: tuple[int, str, str] | None = None
        self._overlay_key: tuple[Any, ...] | None = None
        self._live: LiveSource | None = None
        self._live_session = 0
        self._live_frame_index = -1
        self._frozen = False
        self._live_last: tuple[np.ndarray, PredictResult] | None = None
        self._live_shown: collections.deque[float] = collections.deque(maxlen=FPS_WINDOW)
        self._started = False
        self._closed = False
        self._painted = False
        # Set by app.run for the command line, which ends the process right after closing:
        # a worker still busy inside torch then (e.g. importing it) is left to that exit
        # instead of waited for.
        self.leave_busy_worker = False

        self._build_ui()
        self.actions_ = build_actions(self)
        self._key_guard = install_navigation_key_guard(self)
        self.models = ModelController(self, self.client, settings, self.model_controls,
                                      self.status, self.statusBar(), initial)
        self.images = ImageList(self.filmstrip, self.background, self)
        self.exports = ExportController(self, self.background, self.client, settings,
                                        self.status)
        self._fps_timer = QTimer(self, interval=500)
        self._connect()
        geometry = settings.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
        self.view.viewport().installEventFilter(self)

    # -- construction --------------------------------------------------------------------
    def _build_ui(self) -> None:
        from desktop_app.core.colormaps import COLORMAPS

        s = self.settings
        self.view = ImageView()
        self.filmstrip = Filmstrip()
        self.filmstrip.setVisible(False)
        self.predictions = PredictionsPanel(s.topk)
        self.model_controls = ModelControls(MODEL_NAMES)
        self.overlay_controls = OverlayControls(COLORMAPS, s.colormap, s.opacity)
        self.camera_panel = CameraPanel(s.mirror)
        self.messages = MessagesPanel()
        self.status = StatusPanel(self.statusBar())

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(0)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.filmstrip)

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(6, 6, 6, 0)
        controls_layout.addWidget(self.model_controls)
        controls_layout.addWidget(self.overlay_controls)
        controls_layout.addWidget(self.predictions, 1)
        controls_layout.addWidget(self.camera_panel)
        # In a small window the controls scroll instead of setting the window's height.
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        log_pane = QWidget()
        log_layout = QVBoxLayout(log_pane)
        log_layout.setContentsMargins(6, 0, 6, 6)
        log_layout.addWidget(QLabel("Messages"))
        log_layout.addWidget(self.messages)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(scroll)
        side.addWidget(log_pane)
        side.setStretchFactor(0, 4)
        side.setStretchFactor(1, 1)
        # Wide enough for every control (plus a vertical scroll bar), never so wide that
        # the picture loses its place: at 640 px the image keeps well over half.
        side.setMinimumWidth(controls.minimumSizeHint().width()
                             + scroll.verticalScrollBar().sizeHint().width())
        side.setMaximumWidth(SIDE_MAX_WIDTH)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(side)
        # Both give and take as the window is resized, in proportion to their widths (the
        # side panel within its bounds).
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setCollapsible(0, False)
        self.splitter.setSizes([860, 330])
        self.setCentralWidget(self.splitter)
        self.resize(1200, 780)

    def _connect(self) -> None:
        a = self.actions_
        worker = self.client.worker
        worker.prediction_ready.connect(self._on_prediction_ready)
        worker.failed.connect(self._on_worker_failed)
        worker.model_ready.connect(self._on_model_ready)
        self.models.reclassify.connect(self._send_still)
        self.models.failed.connect(self._on_model_failed)
        self.models.message.connect(self.add_message)
        self.images.still_ready.connect(self.show_still)
        self.images.still_failed.connect(self._on_still_failed)
        self.images.message.connect(self.add_message)
        self.images.entries_changed.connect(self.exports.forget_results)
        self.exports.message.connect(self.add_message)
        self.exports.run_state_changed.connect(self._update_actions)

        a.open_files.triggered.connect(self._on_open_files)
        a.open_folder.triggered.connect(self._on_open_folder)
        a.open_video.triggered.connect(self._on_open_video)
        a.paste.triggered.connect(self.paste)
        a.save_overlay.triggered.connect(self._on_save_overlay)
        a.save_map.triggered.connect(self._on_save_map)
        a.copy_predictions.triggered.connect(self.copy_predictions)
        a.classify_folder.triggered.connect(self.classify_all)
        a.export_results.triggered.connect(self._on_export_results)
        a.choose_weights.triggered.connect(self.models.choose_weights)
        a.quit.triggered.connect(self.close)
        a.toggle_overlay.toggled.connect(self.set_overlay_visible)
        a.zoom_in.triggered.connect(self.view.zoom_in)
        a.zoom_out.triggered.connect(self.view.zoom_out)
        a.fit.triggered.connect(self.view.fit)
        a.actual_size.triggered.connect(self.view.actual_size)
        a.next_image.triggered.connect(lambda: self.step(1))
        a.previous_image.triggered.connect(lambda: self.step(-1))
        a.more_classes.triggered.connect(lambda: self.predictions.topk_spin.stepBy(1))
        a.fewer_classes.triggered.connect(lambda: self.predictions.topk_spin.stepBy(-1))
        a.camera.triggered.connect(self._on_camera_action)
        a.freeze.toggled.connect(self.set_frozen)
        a.mirror.setChecked(self.settings.mirror)
        a.mirror.toggled.connect(self.camera_panel.mirror_box.setChecked)
        a.stop_live.triggered.connect(self.stop_live)
        a.refresh_cameras.triggered.connect(self.refresh_cameras)
        a.shortcuts.triggered.connect(self._on_show_shortcuts)
        a.about.triggered.connect(self._on_about)
        a.themes[self.settings.theme].setChecked(True)
        for theme, action in a.themes.items():
            action.triggered.connect(lambda _checked=False, t=theme: self.set_theme(t))

        self.view.render_size_changed.connect(self._on_render_size_changed)
        self.view.step_requested.connect(self.step)
        self.filmstrip.current_changed.connect(self.show_entry)
        self.predictions.class_selected.connect(self.select_class)
        self.predictions.class_reclicked.connect(self._on_class_reclicked)
        a.follow_top.triggered.connect(self.follow_top_class)
        self.predictions.topk_changed.connect(self._on_topk_changed)
        self.overlay_controls.colormap_changed.connect(self._on_colormap_changed)
        self.overlay_controls.opacity_changed.connect(self._on_opacity_changed)
        self.overlay_controls.overlay_toggled.connect(a.toggle_overlay.setChecked)
        self.camera_panel.start_requested.connect(self.start_camera)
        self.camera_panel.stop_requested.connect(self.stop_live)
        self.camera_panel.refresh_requested.connect(self.refresh_cameras)
        self.camera_panel.freeze_toggled.connect(a.freeze.setChecked)
        self.camera_panel.mirror_toggled.connect(self._on_mirror_toggled)
        self._fps_timer.timeout.connect(self._on_fps_tick)
        self._update_actions()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, camera: int | None = None) -> None:
        """Start the worker (it imports torch in its own thread), load the model, look for
        cameras, and start ``camera`` if given. Only the first call does anything."""
        if self._started or self._closed:
            return
        self._started = True
        self.client.start()
        self.models.load()
        self.refresh_cameras()
        if camera is not None:
            self.start_camera(camera)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            self.view.viewport().removeEventFilter(self)
            # After this paint is flushed to the screen.
            QTimer.singleShot(0, lambda: emit(self.first_painted))
        return super().eventFilter(watched, event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        event.accept()

    def shutdown(self) -> None:
        """Stop every thread this window started; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        started = time.perf_counter()
        self.hide()  # gone from the screen at once, whatever the threads below still do
        self._save_settings()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self._key_guard)
        self._fps_timer.stop()
        self.exports.cancel_run("window closed")
        self.models.close_dialogs()
        if self._live is not None:
            self._live.stop(timeout=1.0)
            self._live = None
        if self.leave_busy_worker:
            # Only a cancelled download gains from waiting (it deletes its partial file).
            self.client.stop(timeout_ms=300, wait_out=False)
        else:
            self.client.stop(timeout_ms=1500)
        self.background.shutdown(timeout=0.5)
        log.info("shut down in %.0f ms", (time.perf_counter() - started) * 1000)

    def _save_settings(self) -> None:
        s = self.settings
        s.geometry = self.saveGeometry()
        s.topk = self.predictions.topk
        s.opacity = self.overlay_controls.opacity
        s.colormap = self.overlay_controls.colormap
        s.mirror = self.camera_panel.mirror_box.isChecked()
        camera = self.camera_panel.current_camera()
        if camera is not None:
            s.camera = camera
        s.sync()

    # -- model -----------------------------------------------------------------------------
    @Slot(object)
    def _on_model_ready(self, info: ModelInfo) -> None:
        self.predictions.set_class_count(info.num_classes)
        self._update_actions()

    @Slot()
    def _on_model_failed(self) -> None:
        self.predictions.set_message(NO_MODEL)

    def load_weights(self, weights: str, labels: str | None = None) -> None:
        self.models.load_weights(weights, labels)

    # -- opening things --------------------------------------------------------------------
    @Slot()
    def _on_open_files(self) -> None:
        suffixes = " ".join(f"*{s}" for s in sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open images", self.settings.last_dir,
            f"Images and videos ({suffixes});;All files (*)")
        if paths:
            self.settings.last_dir = str(Path(paths[0]).parent)
            self.open_paths(paths)

    @Slot()
    def _on_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder", self.settings.last_dir)
        if folder:
            self.settings.last_dir = folder
            self.open_paths([folder])

    @Slot()
    def _on_open_video(self) -> None:
        suffixes = " ".join(f"*{s}" for s in sorted(VIDEO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(self, "Open a video", self.settings.last_dir,
                                              f"Videos ({suffixes});;All files (*)")
        if path:
            self.settings.last_dir = str(Path(path).parent)
            self.start_video(path)

    def open_paths(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.open_content(MimeContent(paths=[Path(p) for p in paths]))

    def open_content(self, content: MimeContent) -> None:
        """Files, folders, videos and image data, as from a drop or a paste; each thing
        that cannot be opened gets its own message and the rest still opens."""
        for message in content.messages:
            self.add_message(message, "error")
        videos = [p for p in content.paths if is_video_file(p) and p.is_file()]
        others = [p for p in content.paths if p not in videos]
        entries = [Entry(p.name, path=p) for p in iter_image_files(others)]
        for folder in (p for p in others if p.is_dir()):
            if not any(e.path is not None and folder in e.path.parents for e in entries):
                self.add_message(f"{folder}: no images found in this folder", "error")
        pasted = [Entry(name, data=data) for name, data in content.images]
        if entries or pasted:
            self.stop_live()
            if not entries and self.images.entries:
                # Image data alone (a paste, an image dragged from a browser) joins the
                # opened files instead of closing a whole folder.
                self.images.append(pasted)
                self.add_message(f"Added the {pasted[0].name} to the opened images")
            else:
                self.images.set_entries(entries + pasted)
            self._update_actions()
        if videos and (entries or pasted):
            # A video plays in place of the images: both cannot be shown at once.
            names = ", ".join(v.name for v in videos)
            self.add_message(f"{names} not opened: a video plays on its own, without images "
                             "(File > Open video…)", "error")
        elif videos:
            if len(videos) > 1:
                self.add_message(f"Only one video plays at a time: opening {videos[0].name}")
            self.start_video(videos[0])

    @Slot(int)
    def show_entry(self, row: int) -> None:
        self.stop_live()
        self.images.show(row)

    @Slot(int)
    def step(self, delta: int) -> None:
        self.stop_live()
        self.images.step(delta)

    @Slot(int, str)
    def _on_still_failed(self, _row: int, message: str) -> None:
        self._still = None
        self._set_prediction(None)
        self.view.set_image(None)
        self.predictions.set_message(message)

    @Slot(object)
    def show_still(self, still: Still) -> None:
        self._still = still
        self._set_prediction(None)
        self.view.set_image(still.qimage)
        self.setWindowTitle(f"{still.name} — {APP_NAME}")
        self._send_still()
        self._update_actions()

    @Slot()
    def _send_still(self) -> None:
        if self._still is None or self._live_running():
            return
        if self.models.state == "failed":
            self.predictions.set_message(NO_MODEL)
            return
        request = PredictRequest(
            id=next_request_id(), image=self._still.model_source, source=self._still.name,
            kind="still", topk=self.predictions.topk, cam_layer=self.models.cam_layer,
        )
        self._still_request = request.id
        if self._prediction is None:
            self.predictions.set_message(
                "Classifying…" if self.models.state == "ready" else "Waiting for the model…")
        self.client.submit("predict", request)

    # -- paste and drop --------------------------------------------------------------------
    @Slot()
    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not can_accept(mime):
            self.add_message("The clipboard holds no image, file or folder", "error")
            return
        self.open_content(read_mime(mime, "pasted"))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if can_accept(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if can_accept(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        content = read_mime(event.mimeData(), "dropped")
        event.acceptProposedAction()
        # Opened after the drop returns: the source program is waiting for us to finish.
        QTimer.singleShot(0, lambda: self.open_content(content))

    # -- live sources ----------------------------------------------------------------------
    def refresh_cameras(self) -> None:
        self.camera_panel.set_cameras(None, self.settings.camera)

        def done(cameras: list[tuple[int, str]] | None, error: str | None) -> None:
            if error is not None:
                self.add_message(f"Looking for cameras failed: {error}", "error")
            self.camera_panel.set_cameras(cameras or [], self.settings.camera)
            self._update_actions()

        self.background.run(_list_cameras, callback=done)

    @Slot(int)
    def start_camera(self, index: int) -> None:
        self.settings.camera = index
        mirror = self.camera_panel.mirror_box.isChecked()
        self.start_live_source(LiveSource.camera(index, mirror=mirror, parent=self))

    def start_video(self, path: str | os.PathLike[str], *, realtime: bool = True) -> None:
        """Play a video file like a camera (looping); ``realtime=False`` reads frames as
        fast as they decode."""
        self.start_live_source(LiveSource.video(path, loop=True, realtime=realtime, parent=self))

    def start_live_source(self, source: LiveSource) -> None:
        """Show ``source`` (a camera or video) live, replacing whatever was shown."""
        self.stop_live()
        self._live = source
        self._live_session = next_request_id()
        self._live_frame_index = -1
        self._frozen = False
        self._live_last = None
        self._live_shown.clear()
        self._still = None
        self._set_prediction(None)
        source.frame_ready.connect(self._on_live_frame)
        source.error.connect(self._on_live_error)
        source.finished.connect(self._on_live_finished)
        source.start()
        self.camera_panel.set_live(source.kind)
        self.setWindowTitle(f"{source.name} — {APP_NAME}")
        self.statusBar().showMessage(f"Starting {source.name}…", 3000)
        self._fps_timer.start()
        self._update_actions()

    @Slot()
    def stop_live(self) -> None:
        if self._live is None:
            return
        live, self._live = self._live, None
        live.frame_ready.disconnect(self._on_live_frame)
        live.stop(timeout=1.0)
        live.deleteLater()
        self.client.discard("predict")
        self._frozen = False
        self._fps_timer.stop()
        self.status.set_fps(None)
        self.camera_panel.set_live(None)
        self.actions_.freeze.setChecked(False)
        self._update_actions()

    def _live_running(self) -> bool:
        return self._live is not None and not self._frozen

    @Slot()
    def _on_live_frame(self) -> None:
        live = self._live
        if live is None:
            return
        frame = live.take()
        # The newest frame may already have been taken (it can land just before its own
        # notification is re-armed): each frame is sent once.
        if frame is None or self._frozen or frame.index <= self._live_frame_index:
            return
        self._live_frame_index = frame.index
        state = self.models.state
        if state != "ready" or not self.view.overlay_visible:
            # Nothing to wait for (or no overlay to keep in step): show the frame as is.
            self.view.set_image(rgb_to_qimage(frame.pixels))
        if state in ("loading", "ready"):
            # Into the latest-only mailbox: a busy worker finds only the newest frame.
            self.client.submit("predict", PredictRequest(
                id=next_request_id(), image=frame.pixels,
                source=frame_name(live.media_name, frame.index), kind="live",
                topk=self.predictions.topk, cam_layer=self.models.cam_layer,
                session=self._live_session,
            ))

    @Slot(str)
    def _on_live_error(self, message: str) -> None:
        self.add_message(message, "error")
        self.stop_live()

    @Slot()
    def _on_live_finished(self) -> None:
        if self._live is not None:
            self.add_message(f"{self._live.name} ended")
        self.stop_live()

    @Slot(bool)
    def set_frozen(self, frozen: bool) -> None:
        if self._live is None:
            self.actions_.freeze.setChecked(False)
            return
        if frozen == self._frozen:
            return
        self._frozen = frozen
        self.camera_panel.set_frozen(frozen)
        self.actions_.freeze.setChecked(frozen)
        if frozen:
            self.client.discard("predict")
            # The frozen frame becomes a still: k, layer and exports work on it.
            if self._live_last is not None:
                pixels, result = self._live_last
                name = result.request.source
                self._still = still_from_pixels(pixels, name, title=f"{name} (frozen)")
                self._still_request = result.request.id
            self.statusBar().showMessage("Frozen (Space to resume)")
        else:
            self._still = None
            self.statusBar().showMessage("Live", 2000)
        self._update_actions()

    @Slot(bool)
    def _on_mirror_toggled(self, mirror: bool) -> None:
        self.settings.mirror = mirror
        self.actions_.mirror.setChecked(mirror)
        if self._live is not None and self._live.kind == "camera":
            self._live.set_mirror(mirror)

    @Slot()
    def _on_camera_action(self) -> None:
        if self._live is not None and self._live.kind == "camera":
            self.stop_live()
            return
        camera = self.camera_panel.current_camera()
        if camera is None:
            self.add_message("No camera found: connect one, then Camera > Look for cameras "
                             "again", "error")
            self.actions_.camera.setChecked(False)
            return
        self.start_camera(camera)

    @Slot()
    def _on_fps_tick(self) -> None:
        shown = list(self._live_shown)
        fps = 0.0
        if len(shown) >= 2 and time.monotonic() - shown[-1] < 2.0:
            fps = (len(shown) - 1) / max(shown[-1] - shown[0], 1e-6)
        capture = self._live.capture_fps() if self._live is not None else None
        self.status.set_fps(fps, capture)

    # -- results ---------------------------------------------------------------------------
    @Slot(object)
    def _on_prediction_ready(self, result: PredictResult) -> None:
        if self._closed:
            return  # queued before the worker stopped
        request = result.request
        if request.kind == "batch":
            # Engine notes (e.g. "CUDA ran out of memory; switched to the CPU") concern the
            # rest of the run too: shown once, like those of the image on screen.
            for note in result.prediction.notes:
                self._log_once(note)
            self.exports.handle_result(result)
        elif request.kind == "live":
            if self._live is None or self._frozen or request.session != self._live_session:
                return  # from a source that has stopped, or frozen meanwhile
            # Named after its frame ("clip.avi#frame-123"), not the array it was made from:
            # the name goes into the clipboard text and the save names.
            result = dataclasses.replace(result, prediction=dataclasses.replace(
                result.prediction, source=request.source))
            self._live_last = (request.image, result)
            self._live_shown.append(time.monotonic())
            if self.view.overlay_visible:
                self.view.set_image(rgb_to_qimage(request.image))
            self._set_prediction(result.prediction)
        elif request.id == self._still_request and self._still is not None:
            # Named as the still is ("pasted image"), not as the bytes the model decoded.
            self._set_prediction(dataclasses.replace(result.prediction,
                                                     source=self._still.decoded.name))
        # else: stale, the user has moved on

    @Slot(object)
    def _on_worker_failed(self, failure: WorkerFailure) -> None:
        if self._closed:
            return  # e.g. a load that the close itself cancelled: no dialog after closing
        if failure.kind == "model":
            self.models.handle_failure(failure)
        elif failure.kind == "batch":
            self.exports.handle_failure(failure)
        elif failure.error == "NoModelError":
            return  # the model's own failure was reported already
        elif failure.kind == "live":
            if getattr(failure.request, "session", None) == self._live_session:
                self.statusBar().showMessage(failure.message, 5000)
                self._log_once(failure.message)
        elif failure.request_id == self._still_request:
            self.predictions.set_message(failure.message)
            self.add_message(failure.message, "error")

    def _log_once(self, message: str) -> None:
        """A failing live source fails on every frame; one message is enough."""
        texts = self.messages.texts()
        if not texts or texts[-1] != message:
            self.add_message(message, "error")

    def _set_prediction(self, prediction: Prediction | None) -> None:
        self._prediction = prediction
        self._overlay_key = None
        if prediction is None:
            self._selected_class = None
            self.predictions.set_prediction(None, None, "")
            self.view.clear_overlay()
            self.status.set_latency(None)
            self._update_actions()
            return
        listed = [s.index for s in prediction.topk]
        if self._pinned is not None and self._pinned[2] != prediction.model:
            self._pinned = None  # a class index of another model names another class
        pinned = self._pinned[0] if self._pinned is not None else None
        self._selected_class = pinned if pinned in listed else (listed[0] if listed else None)
        title = self._still.name if self._still is not None else (
            self._live.name if self._live is not None else prediction.source or "image")
        self.predictions.set_prediction(prediction, self._selected_class, title,
                                        self._pin_shown())
        self._render_overlay()
        self.status.set_latency(prediction.timings)
        # Which forward ran: eager at first, the fused one once a background compile is done.
        self.status.device_label.setText(f"Device: {prediction.device}, {prediction.backend}")
        for note in prediction.notes:
            self._log_once(note)
        self._update_actions()
        emit(self.prediction_shown, prediction)

    @Slot(int)
    def select_class(self, index: int) -> None:
        """Pin class ``index`` (one of the listed classes): its Grad-CAM map is shown for
        this and the following predictions while it is listed."""
        prediction = self._prediction
        if prediction is None:
            return
        label = next((s.label for s in prediction.topk if s.index == index), str(index))
        self._pinned = (index, label, prediction.model)
        self._show_class(index)

    @Slot()
    def follow_top_class(self) -> None:
        """Release the pin: the map shows each prediction's top class again."""
        self._pinned = None
        if self._prediction is not None and self._prediction.topk:
            self._show_class(self._prediction.topk[0].index)

    @Slot(int)
    def _on_class_reclicked(self, index: int) -> None:
        if self._pinned is not None and self._pinned[0] == index:
            self.follow_top_class()
        else:
            self.select_class(index)  # a click on the top class, selected unpinned: pin it

    def _pin_shown(self) -> tuple[int, str] | None:
        return self._pinned[:2] if self._pinned is not None else None

    def _show_class(self, index: int) -> None:
        self._selected_class = index
        self.predictions.show_choice(index, self._pin_shown())
        self._render_overlay()
        self._update_actions()

    # -- overlay ---------------------------------------------------------------------------
    def _render_overlay(self) -> None:
        prediction, index = self._prediction, self._selected_class
        if not _has_map(prediction, index):
            self.view.clear_overlay()
            self._overlay_key = None
            return
        assert prediction is not None and prediction.cams is not None and index is not None
        size = self.view.render_size()
        if size.isEmpty():
            return
        scale = min(1.0, OVERLAY_MAX_SIDE / max(size.width(), size.height()))
        width, height = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
        colormap = self.overlay_controls.colormap
        opacity = self.overlay_controls.opacity
        key = (id(prediction), index, width, height, colormap, opacity)
        if key == self._overlay_key:
            return
        from desktop_app.core.colormaps import lut

        cam = prediction.cams.at_size(index, width, height)
        self.view.set_overlay(rgba_to_qimage(cam_rgba(cam, lut(colormap), opacity, DIM_UNSEEN)))
        self._overlay_key = key

    @Slot(int, int)
    def _on_render_size_changed(self, _width: int, _height: int) -> None:
        self._render_overlay()

    @Slot(str)
    def _on_colormap_changed(self, name: str) -> None:
        self.settings.colormap = name
        self._render_overlay()

    @Slot(float)
    def _on_opacity_changed(self, opacity: float) -> None:
        self.settings.opacity = opacity
        self._render_overlay()

    @Slot(bool)
    def set_overlay_visible(self, visible: bool) -> None:
        self.view.set_overlay_visible(visible)
        self.overlay_controls.set_overlay_shown(visible)
        self.actions_.toggle_overlay.setChecked(visible)

    @Slot(int)
    def _on_topk_changed(self, k: int) -> None:
        self.settings.topk = k
        self._send_still()

    # -- export ----------------------------------------------------------------------------
    def _shown_map(self) -> tuple[Prediction, int, np.ndarray] | None:
        """The prediction on screen, its selected class and the pixels it was made from."""
        pixels = (self._still.decoded.array if self._still is not None
                  else self._live_last[0] if self._live_last is not None else None)
        if pixels is None or not _has_map(self._prediction, self._selected_class):
            self.add_message("Nothing to save yet: open an image and wait for its prediction",
                             "error")
            return None
        assert self._prediction is not None and self._selected_class is not None
        return self._prediction, self._selected_class, pixels

    @Slot()
    def _on_save_overlay(self) -> None:
        shown = self._shown_map()
        if shown is not None:
            prediction, index, pixels = shown
            self.exports.ask_save_overlay(prediction, index, pixels,
                                          self.overlay_controls.colormap,
                                          self.overlay_controls.opacity)

    def save_overlay(self, path: str | os.PathLike[str]) -> None:
        """Write the selected class's overlay at the image's full size (in the background)."""
        shown = self._shown_map()
        if shown is not None:
            prediction, index, pixels = shown
            self.exports.save_overlay(path, prediction, index, pixels,
                                      self.overlay_controls.colormap,
                                      self.overlay_controls.opacity)

    @Slot()
    def _on_save_map(self) -> None:
        shown = self._shown_map()
        if shown is not None:
            self.exports.ask_save_map(shown[0], shown[1])

    def save_map(self, path: str | os.PathLike[str]) -> None:
        """Write the selected class's map (float32, NaN where unseen) as .npy."""
        shown = self._shown_map()
        if shown is not None:
            self.exports.save_map(path, shown[0], shown[1])

    @Slot()
    def copy_predictions(self) -> None:
        if self._prediction is None:
            self.add_message("No predictions to copy yet", "error")
            return
        self.exports.copy_predictions(self._prediction)
        self.statusBar().showMessage("Predictions copied to the clipboard", 3000)

    @Slot()
    def classify_all(self) -> None:
        """Classify every opened file (a folder run), with progress and cancel."""
        paths = self.images.paths()
        if not paths:
            self.add_message("Open a folder or several images first (Ctrl+Shift+O)", "error")
            return
        self.exports.classify_all(paths, self.predictions.topk)

    @Slot()
    def _on_export_results(self) -> None:
        if not self.exports.results:
            self.add_message("No results to export: classify the images first (Ctrl+R)",
                             "error")
            return
        self.exports.ask_export_results()

    def export_results(self, path: str | os.PathLike[str]) -> None:
        self.exports.export_results(path)

    @property
    def folder_results(self) -> list[BatchEntry]:
        return self.exports.results

    # -- misc ------------------------------------------------------------------------------
    @Slot(str, str)
    def add_message(self, text: str, level: str = "info") -> None:
        self.messages.add(text, level)
        self.statusBar().showMessage(text, 8000)
        (log.warning if level == "error" else log.info)("%s", text)

    def set_theme(self, theme: str) -> None:
        self.settings.theme = theme
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.actions_.themes[theme].setChecked(True)

    @Slot()
    def _on_show_shortcuts(self) -> None:
        dialog = ShortcutsDialog(shortcut_rows(self.actions_.all()), self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    @Slot()
    def _on_about(self) -> None:
        from desktop_app import __version__

        QMessageBox.about(self, f"About {APP_NAME}",
                          f"{APP_NAME} version {__version__}\n\nWhat a ResNet sees, as top-k "
                          "ImageNet classes and Grad-CAM maps.")

    @Slot()
    def _update_actions(self) -> None:
        a = self.actions_
        live = self._live is not None
        has_map = _has_map(self._prediction, self._selected_class)
        a.save_overlay.setEnabled(has_map and (self._still is not None or live))
        a.save_map.setEnabled(has_map)
        a.copy_predictions.setEnabled(self._prediction is not None)
        running = self.exports.running
        a.classify_folder.setEnabled(not running and bool(self.images.paths()))
        a.export_results.setEnabled(bool(self.exports.results) and not running)
        a.freeze.setEnabled(live)
        a.stop_live.setEnabled(live)
        a.camera.setChecked(self._live is not None and self._live.kind == "camera")
        a.mirror.setEnabled(self._live is None or self._live.kind == "camera")
        several = len(self.images.entries) > 1
        a.next_image.setEnabled(several)
        a.previous_image.setEnabled(several)

    # -- state, for tests and the benchmark ------------------------------------------------
    @property
    def prediction(self) -> Prediction | None:
        return self._prediction

    @property
    def selected_class(self) -> int | None:
        return self._selected_class

    @property
    def model_info(self) -> ModelInfo | None:
        return self.models.info

    @property
    def live_source(self) -> LiveSource | None:
        return self._live
