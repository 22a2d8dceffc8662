"""Cameras and videos: starting and stopping them, sending their frames to the worker,
freezing on a frame, mirroring, and the frame rate in the status bar."""

from __future__ import annotations

import collections
import dataclasses
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import QStatusBar, QWidget

from desktop_app.ui.controllers.actions import WindowActions
from desktop_app.ui.controllers.background import Background
from desktop_app.ui.controllers.image_list import still_from_pixels
from desktop_app.ui.controllers.live_source import LiveSource
from desktop_app.ui.controllers.model_controller import ModelController, ModelState
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings
from desktop_app.ui.state.cam_choice import live_capable, live_method, why_not_live
from desktop_app.ui.state.export import frame_name
from desktop_app.ui.state.requests import (
    FailureReason,
    Kind,
    PredictRequest,
    PredictResult,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.state.screen import LiveFrame, LiveKind, ScreenState
from desktop_app.ui.widgets.camera_panel import CameraPanel
from desktop_app.ui.widgets.image_view import ImageView
from desktop_app.ui.widgets.qt_image import rgb_to_qimage
from desktop_app.ui.widgets.status_panel import StatusPanel

if TYPE_CHECKING:
    from desktop_app.capture import Frame

FPS_WINDOW = 30


def _list_cameras() -> list[tuple[int, str]]:
    from desktop_app.capture import list_cameras

    return [(info.index, info.name) for info in list_cameras()]


class LiveController(QObject):
    message = Signal(str, str)  # text, level
    note = Signal(str)  # an error that a failing source repeats on every frame
    prediction = Signal(object)  # the Prediction of the frame now shown
    started = Signal(str)  # the source's name
    changed = Signal()  # what the actions depend on
    reclassify_still = Signal()  # frozen with a method too slow for live frames

    def __init__(self, window: QWidget, state: ScreenState, client: WorkerClient,
                 models: ModelController, settings: Settings, view: ImageView,
                 camera_panel: CameraPanel, status: StatusPanel, status_bar: QStatusBar,
                 actions: WindowActions, background: Background,
                 topk: Callable[[], int]) -> None:
        super().__init__(window)
        self._window = window
        self._state = state
        self._client = client
        self._models = models
        self._settings = settings
        self._view = view
        self._panel = camera_panel
        self._status = status
        self._status_bar = status_bar
        self._actions = actions
        self._background = background
        self._topk = topk
        self.source: LiveSource | None = None
        self._shown: collections.deque[float] = collections.deque(maxlen=FPS_WINDOW)
        self._fps_timer = QTimer(self, interval=500)
        self._fps_timer.timeout.connect(self._on_fps_tick)
        self._reply = Reply(self._on_result, self._on_failure)

    @property
    def camera_running(self) -> bool:
        return self.source is not None and self.source.kind is LiveKind.CAMERA

    def latest_frame(self) -> Frame | None:
        """The running source's newest frame (while frozen too), or None."""
        return self.source.latest() if self.source is not None else None

    def refresh_cameras(self) -> None:
        self._panel.set_cameras(None, self._settings.camera)

        def done(cameras: list[tuple[int, str]] | None, error: str | None) -> None:
            if error is not None:
                emit(self.message, f"Looking for cameras failed: {error}", "error")
            self._panel.set_cameras(cameras or [], self._settings.camera)
            emit(self.changed)

        self._background.run(_list_cameras, callback=done)

    @Slot(int)
    def start_camera(self, index: int) -> None:
        self._settings.camera = index
        mirror = self._panel.mirror_box.isChecked()
        self.start(LiveSource.camera(index, mirror=mirror, parent=self._window))

    def start_video(self, path: str | os.PathLike[str], *, realtime: bool = True) -> None:
        self.start(LiveSource.video(path, loop=True, realtime=realtime, parent=self._window))

    def start(self, source: LiveSource) -> None:
        """Show ``source`` (a camera or video) live, replacing whatever was shown."""
        self.stop()
        self.source = source
        self._state.start_live(next_request_id(), source.name)
        self._shown.clear()
        source.frame_ready.connect(self._on_frame)
        source.error.connect(self._on_error)
        source.finished.connect(self._on_finished)
        source.start()
        self._panel.set_live(source.kind)
        emit(self.started, source.name)
        self._status_bar.showMessage(f"Starting {source.name}…", 3000)
        self._fps_timer.start()
        self.explain_method()
        emit(self.changed)

    @Slot()
    def stop(self) -> None:
        if self.source is None:
            return
        state, last = self._state, self._state.live_last
        if state.live and not state.frozen and last is not None:
            # The frame on screen stays as a still, as a frozen one does, so that layer, k,
            # scoring and exports work on it: under its own map, Score this map said
            # "Nothing to score yet" and a layer change did nothing.
            state.freeze(still_from_pixels(last.pixels, last.name))
        live, self.source = self.source, None
        live.frame_ready.disconnect(self._on_frame)
        live.stop(timeout=1.0)
        live.deleteLater()
        self._state.stop_live()
        self._client.discard("predict")
        self._fps_timer.stop()
        self._status.set_fps(None)
        self._panel.set_live(None)
        self._actions.freeze.setChecked(False)
        emit(self.changed)

    @Slot(bool)
    def set_frozen(self, frozen: bool) -> None:
        state = self._state
        if self.source is None:
            self._actions.freeze.setChecked(False)
            return
        if frozen == state.frozen:
            return
        self._panel.set_frozen(frozen)
        self._actions.freeze.setChecked(frozen)
        if frozen:
            self._client.discard("predict")
            last = state.live_last
            # The frozen frame becomes a still: k, layer and exports work on it.
            still = (still_from_pixels(last.pixels, last.name, title=f"{last.name} (frozen)")
                     if last is not None else None)
            state.freeze(still)
            self._status_bar.showMessage("Frozen (Space to resume)")
            if not self._chosen_method_is_live():
                emit(self.reclassify_still)  # the frame was shown with Grad-CAM
        else:
            state.resume()
            self._status_bar.showMessage("Live", 2000)
        emit(self.changed)

    def _chosen_method_is_live(self) -> bool:
        return live_capable(self._models.cam_method, self._models.cam_layer)

    @Slot()
    def explain_method(self) -> None:
        """Say why live frames do not show the chosen method, if they do not."""
        if self.source is not None and not self._state.frozen \
                and not self._chosen_method_is_live():
            text = why_not_live(self._models.cam_method, self._models.cam_layer)
            self._status_bar.showMessage(text, 10_000)
            emit(self.message, text, "info")

    @Slot(bool)
    def set_mirror(self, mirror: bool) -> None:
        self._settings.mirror = mirror
        self._actions.mirror.setChecked(mirror)
        if self.source is not None and self.source.kind is LiveKind.CAMERA:
            self.source.set_mirror(mirror)

    @Slot()
    def toggle_camera(self) -> None:
        if self.camera_running:
            self.stop()
            return
        camera = self._panel.current_camera()
        if camera is None:
            emit(self.message, "No camera found: connect one, then Camera > Look for cameras "
                               "again", "error")
            self._actions.camera.setChecked(False)
            return
        self.start_camera(camera)

    @Slot()
    def _on_fps_tick(self) -> None:
        if self._state.frozen:  # no frame is shown: "0.0 fps" read like a fault
            self._status.set_fps(None)
            return
        shown = list(self._shown)
        fps = 0.0
        if len(shown) >= 2 and time.monotonic() - shown[-1] < 2.0:
            fps = (len(shown) - 1) / max(shown[-1] - shown[0], 1e-6)
        capture = self.source.capture_fps() if self.source is not None else None
        self._status.set_fps(fps, capture)

    @Slot()
    def _on_frame(self) -> None:
        live = self.source
        if live is None:
            return
        frame = live.take()
        # The newest frame may already have been taken (it can land just before its own
        # notification is re-armed): each frame is sent once.
        if frame is None or not self._state.take_frame(frame.index):
            return
        model_state = self._models.state
        if model_state is not ModelState.READY or not self._view.overlay_visible:
            # Nothing to wait for (or no overlay to keep in step): show the frame as is.
            self._view.set_image(rgb_to_qimage(frame.pixels))
        if model_state in (ModelState.LOADING, ModelState.READY):
            # Into the latest-only mailbox: a busy worker finds only the newest frame.
            self._client.submit(PredictRequest(
                id=next_request_id(), image=frame.pixels,
                source=frame_name(live.media_name, frame.index), kind=Kind.LIVE,
                topk=self._topk(), cam_layer=self._models.cam_layer,
                session=self._state.live_session,
                cam_method=live_method(self._models.cam_method, self._models.cam_layer),
            ), self._reply)

    def _on_result(self, result: PredictResult) -> None:
        request = result.request
        if not self._state.is_current_live(request.session):
            return  # frozen meanwhile
        # Named after its frame ("clip.avi#frame-123"), not the array it was made from: the
        # name goes into the clipboard text and the save names.
        prediction = dataclasses.replace(result.prediction, source=request.source)
        self._state.live_shown(LiveFrame(request.image, request.source, request.id))
        self._shown.append(time.monotonic())
        if self._view.overlay_visible:
            self._view.set_image(rgb_to_qimage(request.image))
        emit(self.prediction, prediction)

    def _on_failure(self, failure: WorkerFailure) -> None:
        if failure.reason is FailureReason.NO_MODEL:
            return  # the model's own failure was reported already
        request = failure.request
        if isinstance(request, PredictRequest) and request.session == self._state.live_session:
            self._status_bar.showMessage(failure.message, 5000)
            emit(self.note, failure.message)

    @Slot(str)
    def _on_error(self, message: str) -> None:
        emit(self.message, message, "error")
        self.stop()

    @Slot()
    def _on_finished(self) -> None:
        if self.source is not None:
            emit(self.message, f"{self.source.name} ended", "info")
        self.stop()
