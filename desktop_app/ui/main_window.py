"""The main window: lays out the panes and wires them to the controllers.

What is on screen lives in a Qt-free :class:`ScreenState`; the model, opening things,
stills, live sources, the prediction's display and exports each have a controller in
``ui/controllers``; the worker hands every reply to the one who asked. Everything here runs
on the GUI thread and stays light.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, Signal, Slot
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import QApplication, QMainWindow, QStyle, QWidget

from desktop_app.core.results import Prediction
from desktop_app.inference.catalog import DEFAULT_MODEL
from desktop_app.ui.controllers.actions import build_actions, install_navigation_key_guard
from desktop_app.ui.controllers.background import Background
from desktop_app.ui.controllers.compare_controller import CompareController
from desktop_app.ui.controllers.export_controller import ExportController
from desktop_app.ui.controllers.image_list import ImageList
from desktop_app.ui.controllers.live_controller import LiveController
from desktop_app.ui.controllers.live_source import LiveSource
from desktop_app.ui.controllers.mime_sources import can_accept, read_mime
from desktop_app.ui.controllers.model_controller import NO_MODEL, ModelController
from desktop_app.ui.controllers.open_controller import OpenController
from desktop_app.ui.controllers.overlay_painter import OverlayPainter
from desktop_app.ui.controllers.prediction_presenter import PredictionPresenter
from desktop_app.ui.controllers.score_controller import ScoreController
from desktop_app.ui.controllers.still_controller import StillController
from desktop_app.ui.controllers.teach_controller import TeachController
from desktop_app.ui.controllers.teach_project_controller import TeachProjectController
from desktop_app.ui.controllers.worker import EngineFactory, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings
from desktop_app.ui.state.export import BatchEntry
from desktop_app.ui.state.requests import FolderOutput, ModelInfo, ModelRequest
from desktop_app.ui.state.screen import ScreenState
from desktop_app.ui.widgets.panes import build_panes
from desktop_app.ui.widgets.screen_fit import resize_within_screen
from desktop_app.ui.widgets.shortcuts_dialog import show_about, show_shortcuts
from desktop_app.ui.widgets.status_panel import StatusPanel
from desktop_app.ui.widgets.theme import apply_theme

log = logging.getLogger(__name__)

APP_NAME = "ResNet Lens"
# Under this window height the filmstrip's thumbnails shrink.
COMPACT_BELOW = 600
# The share of the window's height the picture keeps when the Teach pane is open (the pane
# scrolls for the rest), down to the pane's least height.
PICTURE_SHARE = 0.45


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
        self.shown = ScreenState()

        if model is None and weights is None:  # nothing asked for: the last session's model
            model, weights = settings.model, settings.weights
            labels = labels or settings.labels
        if model is None and weights is None:
            model = DEFAULT_MODEL
        initial = ModelRequest(0, model, device or settings.device, weights, labels)

        self._started = False
        self._closed = False
        self._painted = False
        # Set by app.run for the command line, which ends the process right after closing:
        # a worker still busy inside torch then (e.g. importing it) is left to that exit
        # instead of waited for.
        self.leave_busy_worker = False

        panes = build_panes(settings)
        self.view, self.filmstrip = panes.view, panes.filmstrip
        self.predictions, self.messages = panes.predictions, panes.messages
        self.model_controls, self.overlay_controls = panes.model_controls, panes.overlay_controls
        self.camera_panel, self.splitter = panes.camera_panel, panes.splitter
        self.score_panel = panes.score_panel
        self._side_scroll = panes.side_scroll
        self.score_panel.started.connect(
            lambda: panes.side_scroll.ensureWidgetVisible(self.score_panel))
        self.setCentralWidget(self.splitter)
        resize_within_screen(self, 1200, 780)  # a 1366 × 768 laptop's screen is lower
        self.status = StatusPanel(self.statusBar())
        self.actions_ = build_actions(self)
        self._key_guard = install_navigation_key_guard(self)
        self.overlay = OverlayPainter(self.view, self.overlay_controls, self.shown)
        self.models = ModelController(self, self.client, settings, self.model_controls,
                                      self.status, self.statusBar(), initial)
        self.images = ImageList(self.filmstrip, self.background, self)
        self.exports = ExportController(self, self.shown, self.background, self.client,
                                        settings, self.overlay_controls, self.status,
                                        self.statusBar())
        self.live = LiveController(self, self.shown, self.client, self.models, settings,
                                   self.view, self.camera_panel, self.status, self.statusBar(),
                                   self.actions_, self.background,
                                   lambda: self.predictions.topk)
        self.opener = OpenController(self, settings, self.images, self.live)
        self.presenter = PredictionPresenter(self, self.shown, self.predictions, self.view,
                                             self.overlay, self.status)
        self.stills = StillController(self, self.shown, self.client, self.models,
                                      self.presenter, self.view, self.predictions)
        self.scores = ScoreController(self, self.shown, self.client, self.score_panel)
        self.compare = CompareController(self, self.shown, self.client, self.models,
                                         self.overlay_controls)
        self.teach = TeachController(self, self.client, self.models, settings, self.background)
        self.teach_project = TeachProjectController(self, settings, self.background,
                                                    self.live.latest_frame, self._dock_room)
        self.teach_pane = self.teach_project.pane
        self._connect()
        geometry = settings.geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
            # Saved on a larger screen, it came back as it was (Qt changes it only where the
            # window would be off-screen): the side panel and the Teach pane's buttons lay
            # past a smaller screen's edge.
            resize_within_screen(self, self.width(), self.height())
        state = settings.window_state
        if state is not None and self.restoreState(state):
            self.teach_project.restore_pane()
        self.view.viewport().installEventFilter(self)
        self.filmstrip.installEventFilter(self)  # shown or hidden: the picture's room changes

    def _connect(self) -> None:
        a = self.actions_
        for controller in (self.models, self.images, self.exports, self.live, self.opener,
                           self.stills, self.scores, self.compare, self.teach,
                           self.teach_project):
            controller.message.connect(self.add_message)
        for notes in (self.exports.note, self.live.note, self.presenter.note):
            notes.connect(self._log_once)
        for changed in (self.exports.run_state_changed, self.live.changed,
                        self.opener.changed, self.presenter.changed):
            changed.connect(self._update_actions)
        self.models.reclassify.connect(self.stills.classify)
        self.models.method_changed.connect(self.live.explain_method)
        self.live.reclassify_still.connect(self.stills.classify)
        # After the model controller's own slot: the layer is updated when the live one asks.
        self.model_controls.cam_layer_chosen.connect(lambda _layer: self.live.explain_method())
        self.models.failed.connect(lambda: self.predictions.set_message(NO_MODEL))
        self.models.ready.connect(self._on_model_ready)
        self.images.still_ready.connect(self.stills.show)
        self.images.still_failed.connect(self.stills.failed)
        self.images.entries_changed.connect(self.exports.forget_results)
        self.exports.folder_item.connect(self.images.show_result)
        self.stills.title.connect(self._set_title)
        self.live.prediction.connect(self.presenter.show)
        self.live.started.connect(self._on_live_started)
        self.presenter.shown.connect(self.prediction_shown)
        self.presenter.changed.connect(self.scores.map_changed)
        self.live.changed.connect(self.scores.map_changed)  # frozen or stopped: no new map

        a.open_files.triggered.connect(self.opener.ask_files)
        a.open_folder.triggered.connect(self.opener.ask_folder)
        a.open_video.triggered.connect(self.opener.ask_video)
        a.paste.triggered.connect(self.opener.paste)
        a.save_overlay.triggered.connect(self.exports.ask_save_overlay)
        a.save_map.triggered.connect(self.exports.ask_save_map)
        a.copy_predictions.triggered.connect(self.exports.copy_predictions)
        self.client.long_job_submitted.connect(self.stills.cancel_map)
        a.classify_folder.triggered.connect(lambda: self.classify_all())
        a.classify_and_write.triggered.connect(
            lambda: self.exports.ask_classify_and_write(self.images.paths(),
                                                        **self._folder_run_options()))
        a.export_results.triggered.connect(self.exports.ask_export_results)
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
        a.follow_top.triggered.connect(self.presenter.follow_top_class)
        a.score_map.triggered.connect(self.scores.score)
        a.compare.triggered.connect(self.compare.start)
        a.cancel_job.triggered.connect(self.cancel_jobs)
        for running in (self.stills.running_changed, self.scores.running_changed):
            running.connect(self._update_actions)
        self.stills.running_changed.connect(self._show_map_progress)
        a.compute_map.triggered.connect(self.stills.compute_map)
        self.stills.offer_changed.connect(self._update_actions)
        self.stills.offer_changed.connect(self._show_map_progress)
        self.live.changed.connect(self.stills.source_changed)  # started, resumed, stopped
        a.train_from_folder.triggered.connect(self.teach.ask_train_from_folder)
        a.training_results.triggered.connect(self.teach.show_dialog)
        self.teach.finished.connect(self._update_actions)
        self.teach.results_changed.connect(self._update_actions)
        self.teach.running_changed.connect(self._update_actions)
        self.teach_project.project_changed.connect(
            lambda: self.teach.set_project(self.teach_project.project))
        self.compare.open_cell.connect(self._open_compare_cell)
        a.camera.triggered.connect(self.live.toggle_camera)
        a.freeze.toggled.connect(self.live.set_frozen)
        a.mirror.setChecked(self.settings.mirror)
        a.mirror.toggled.connect(self.camera_panel.mirror_box.setChecked)
        a.stop_live.triggered.connect(self.live.stop)
        a.refresh_cameras.triggered.connect(self.live.refresh_cameras)
        a.teach.triggered.connect(self.teach_project.toggle_pane)
        a.new_teach_project.triggered.connect(self.teach_project.ask_new)
        a.open_teach_project.triggered.connect(self.teach_project.ask_open)
        self.teach_project.train_requested.connect(self.teach.ask_train)
        a.shortcuts.triggered.connect(lambda: show_shortcuts(self, a.all()))
        a.about.triggered.connect(lambda: show_about(self, APP_NAME))
        a.themes[self.settings.theme].setChecked(True)
        for theme, action in a.themes.items():
            action.triggered.connect(lambda _checked=False, t=theme: self.set_theme(t))

        self.view.render_size_changed.connect(self.overlay.render)
        self.view.step_requested.connect(self.step)
        self.filmstrip.current_changed.connect(self.show_entry)
        self.predictions.class_selected.connect(self.presenter.select_class)
        self.predictions.class_reclicked.connect(self.presenter.reclick)
        self.predictions.topk_changed.connect(self._on_topk_changed)
        self.overlay_controls.colormap_changed.connect(self._on_colormap_changed)
        self.overlay_controls.opacity_changed.connect(self._on_opacity_changed)
        self.overlay_controls.overlay_toggled.connect(a.toggle_overlay.setChecked)
        self.camera_panel.start_requested.connect(self.live.start_camera)
        self.camera_panel.stop_requested.connect(self.live.stop)
        self.camera_panel.refresh_requested.connect(self.live.refresh_cameras)
        self.camera_panel.freeze_toggled.connect(a.freeze.setChecked)
        self.camera_panel.mirror_toggled.connect(self.live.set_mirror)
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
        self.live.refresh_cameras()
        if camera is not None:
            self.live.start_camera(camera)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.filmstrip and event.type() in (QEvent.Type.Show,
                                                          QEvent.Type.Hide):
            self.teach_project.fit_dock()
        if not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            self.view.viewport().removeEventFilter(self)
            # After this paint is flushed to the screen.
            QTimer.singleShot(0, lambda: emit(self.first_painted))
        return super().eventFilter(watched, event)

    # -- a short window: the picture stays the main thing -----------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().height() != event.oldSize().height():
            self.filmstrip.set_compact(self.height() < COMPACT_BELOW)
            self.teach_project.fit_dock()

    def _dock_room(self) -> int:
        """How tall the pane under the picture may be with the picture keeping its share of
        the window's height."""
        taken = self.menuBar().height() + self.statusBar().height()
        if self.filmstrip.isVisibleTo(self):
            taken += self.filmstrip.height()
        separator = self.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent,
                                             None, self)
        return self.height() - taken - separator - round(PICTURE_SHARE * self.height())

    # -- keyboard focus ----------------------------------------------------------------------
    def focusNextPrevChild(self, forward: bool) -> bool:
        """Tab and Shift+Tab: the control they land on in the side panel is scrolled into
        view. The panel's scroll area does that only for a Tab from a control within it;
        from the filmstrip (or Shift+Tab from the messages) the focus went out of sight."""
        moved = super().focusNextPrevChild(forward)
        focused = QApplication.focusWidget()
        if moved and focused is not None and self._side_scroll.isAncestorOf(focused):
            self._side_scroll.ensureWidgetVisible(focused)
        return moved

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
        self.exports.cancel_run("window closed")
        self.compare.cancel()
        self.teach_project.stop_capture()
        self.teach.close()
        self.models.close_dialogs()
        self.live.stop()
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
        s.window_state = self.saveState()
        s.topk = self.predictions.topk
        s.opacity = self.overlay_controls.opacity
        s.colormap = self.overlay_controls.colormap
        s.mirror = self.camera_panel.mirror_box.isChecked()
        camera = self.camera_panel.current_camera()
        if camera is not None:
            s.camera = camera
        s.sync()

    @Slot(object)
    def _on_model_ready(self, info: ModelInfo) -> None:
        self.predictions.set_class_count(info.num_classes)
        self._update_actions()

    @Slot()
    def cancel_jobs(self) -> None:
        """Esc: cancel the slow map and the scoring the user is waiting for; with neither
        running, the folder run (results so far kept, as its Cancel does). The map or the
        scoring goes first: it is what the picture and the predictions wait for, seconds
        from done, while a run goes on in the status bar; a second Esc stops the run."""
        if self.stills.running or self.scores.running:
            self.stills.cancel_map()
            self.scores.cancel()
        else:
            self.exports.cancel_run()

    @Slot(int)
    def show_entry(self, row: int) -> None:
        self.live.stop()
        self.images.show(row)

    @Slot(int)
    def step(self, delta: int) -> None:
        self.live.stop()
        self.images.step(delta)

    # -- drop ------------------------------------------------------------------------------
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
        QTimer.singleShot(0, lambda: self.opener.open_content(content))

    @Slot(str)
    def _on_live_started(self, name: str) -> None:
        self.presenter.show(None)
        self._set_title(name)

    @Slot(str)
    def _set_title(self, name: str) -> None:
        self.setWindowTitle(f"{name} — {APP_NAME}")

    # -- overlay settings ------------------------------------------------------------------
    @Slot(str)
    def _on_colormap_changed(self, name: str) -> None:
        self.settings.colormap = name
        self.overlay.render()

    @Slot(float)
    def _on_opacity_changed(self, opacity: float) -> None:
        self.settings.opacity = opacity
        self.overlay.render()

    @Slot(bool)
    def set_overlay_visible(self, visible: bool) -> None:
        self.view.set_overlay_visible(visible)
        self.overlay.legend.setVisible(visible and self.shown.has_map)
        self.overlay_controls.set_overlay_shown(visible)
        self.actions_.toggle_overlay.setChecked(visible)

    @Slot(str, int, str)
    def _open_compare_cell(self, method: str, index: int, layer: str) -> None:
        """Show a Compare cell here: its method and layer in the pickers, its class pinned."""
        self.models.choose_cam(method, layer)
        self.presenter.select_class(index)

    @Slot(int)
    def _on_topk_changed(self, k: int) -> None:
        self.settings.topk = k
        self.stills.classify()

    # -- messages, theme, help -------------------------------------------------------------
    @Slot(str, str)
    def add_message(self, text: str, level: str = "info") -> None:
        self.messages.add(text, level)
        self.statusBar().showMessage(text, 8000)
        (log.warning if level == "error" else log.info)("%s", text)

    @Slot(str)
    def _log_once(self, message: str) -> None:
        """A failing live source fails on every frame; one message is enough."""
        texts = self.messages.texts()
        if not texts or texts[-1] != message:
            self.add_message(message, "error")

    def set_theme(self, theme: str) -> None:
        self.settings.theme = theme
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, theme)
        self.actions_.themes[theme].setChecked(True)

    @Slot()
    def _show_map_progress(self) -> None:
        """A slow map began: its count and Cancel in view, also where the controls scroll
        (a small window), as a scoring's are; cancelled: the button that asks again."""
        if self.stills.running:
            self._side_scroll.ensureWidgetVisible(self.predictions.map_progress)
        elif self.stills.map_offered:
            self._side_scroll.ensureWidgetVisible(self.predictions.compute_map_button)

    @Slot()
    def _update_actions(self) -> None:
        a, shown = self.actions_, self.shown
        live = self.live.source
        a.save_overlay.setEnabled(shown.has_map and shown.shown_pixels() is not None)
        a.save_map.setEnabled(shown.has_map)
        a.score_map.setEnabled(shown.has_map)
        a.compare.setEnabled(shown.prediction is not None)
        # While a training runs, its progress and Cancel: nothing else brings its window
        # back once closed (Esc closes it).
        a.training_results.setEnabled(self.teach.has_results or self.teach.running)
        a.copy_predictions.setEnabled(shown.prediction is not None)
        running = shown.folder_running
        a.classify_folder.setEnabled(not running and bool(self.images.paths()))
        a.classify_and_write.setEnabled(a.classify_folder.isEnabled())
        a.export_results.setEnabled(bool(shown.folder_results) and not running)
        a.freeze.setEnabled(live is not None)
        # Both are Esc. The jobs with a progress bar and a Cancel go first (the map or
        # scoring the user waits for, then a folder run), the camera only once none runs:
        # one rule, and Esc stays the key of every Cancel. A camera beside a run is a view
        # the user watches, with its own Stop, and the next Esc reaches it.
        a.cancel_job.setEnabled(self.stills.running or self.scores.running
                                or self.exports.cancellable)
        a.compute_map.setEnabled(self.stills.map_offered)
        a.stop_live.setEnabled(live is not None and not a.cancel_job.isEnabled())
        a.camera.setChecked(self.live.camera_running)
        a.mirror.setEnabled(live is None or self.live.camera_running)
        several = len(self.images.entries) > 1
        a.next_image.setEnabled(several)
        a.previous_image.setEnabled(several)

    # -- the window's API, for app.run, tests and the benchmarks ----------------------------
    def open_paths(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.opener.open_paths(paths)

    def paste(self) -> None:
        self.opener.paste()

    def load_weights(self, weights: str, labels: str | None = None) -> None:
        self.models.load_weights(weights, labels)

    def start_camera(self, index: int) -> None:
        self.live.start_camera(index)

    def start_video(self, path: str | os.PathLike[str], *, realtime: bool = True) -> None:
        """Play a video file like a camera (looping); ``realtime=False`` reads frames as
        fast as they decode."""
        self.live.start_video(path, realtime=realtime)

    def start_live_source(self, source: LiveSource) -> None:
        self.live.start(source)

    def stop_live(self) -> None:
        self.live.stop()

    def save_overlay(self, path: str | os.PathLike[str]) -> None:
        self.exports.save_overlay(path)

    def save_map(self, path: str | os.PathLike[str]) -> None:
        self.exports.save_map(path)

    @Slot()
    def classify_all(self, output: FolderOutput | None = None) -> None:
        """Classify every opened file; with ``output``, write results and overlays there
        (as *Classify all and write overlays…* does after its dialog)."""
        self.exports.classify_all(self.images.paths(), output=output,
                                  **self._folder_run_options())

    def _folder_run_options(self) -> dict[str, Any]:
        return {"topk": self.predictions.topk, "cam_method": self.models.cam_method,
                "cam_layer": self.models.cam_layer}

    def export_results(self, path: str | os.PathLike[str]) -> None:
        self.exports.export_results(path)

    @property
    def folder_results(self) -> list[BatchEntry]:
        return list(self.shown.folder_results)

    @property
    def prediction(self) -> Prediction | None:
        return self.shown.prediction

    @property
    def selected_class(self) -> int | None:
        return self.shown.selected

    @property
    def model_info(self) -> ModelInfo | None:
        return self.models.info

    @property
    def live_source(self) -> LiveSource | None:
        return self.live.source
