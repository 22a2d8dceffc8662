"""Which model, device and CAM layer the worker should use, and what the user sees while
a model loads, downloads or fails to load."""

from __future__ import annotations

import logging
from enum import Enum
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QFileDialog, QStatusBar, QWidget

from desktop_app.inference.catalog import DEFAULT_CAM_LAYER, DEFAULT_MODEL, MODEL_NAMES
from desktop_app.inference.taught_files import CHECKPOINT_SUFFIX
from desktop_app.ui.controllers.worker import Reply, WorkerClient
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings
from desktop_app.ui.state.requests import (
    DownloadProgress,
    FailureReason,
    ModelInfo,
    ModelRequest,
    WorkerFailure,
    next_request_id,
)
from desktop_app.ui.widgets.controls_panel import ModelControls, device_label
from desktop_app.ui.widgets.download_dialog import DownloadDialog, WeightsProblemDialog
from desktop_app.ui.widgets.status_panel import StatusPanel

log = logging.getLogger(__name__)

WEIGHT_FILTER = "Weights (*.pth *.pt *.safetensors);;All files (*)"
LABEL_FILTER = "Labels (*.txt *.json);;All files (*)"
NO_MODEL = "No model loaded: choose a model or a weights file."


class ModelState(Enum):
    IDLE = "idle"  # nothing asked for yet
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"  # no model at all: the first load failed


class ModelController(QObject):
    reclassify = Signal()  # what is on screen should be classified again
    method_changed = Signal(str)  # the CAM method the user chose
    message = Signal(str, str)  # text, level
    ready = Signal(object)  # ModelInfo
    failed = Signal()  # no model at all
    load_failed = Signal()  # the model asked for did not load (the one before may stay)

    def __init__(self, window: QWidget, client: WorkerClient, settings: Settings,
                 controls: ModelControls, status: StatusPanel, status_bar: QStatusBar,
                 initial: ModelRequest) -> None:
        super().__init__(window)
        self._window = window
        self._client = client
        self._settings = settings
        self._controls = controls
        self._status = status
        self._status_bar = status_bar
        self._request = initial
        # Whether the user chose ``_request`` in this window: saved once it has loaded.
        self._remember = False
        self._info: ModelInfo | None = None
        # The request the worker is loading, then the one whose model it holds.
        self._loading: ModelRequest | None = None
        self._loaded: ModelRequest | None = None
        self._state = ModelState.IDLE
        self._cam_layer = settings.cam_layer
        self._cam_method = settings.cam_method
        self._download_dialog: DownloadDialog | None = None
        self._weights_dialog: WeightsProblemDialog | None = None
        self._closed = False

        controls.show_model(initial.model or DEFAULT_MODEL)
        controls.set_devices(("auto", "cpu"), initial.device)
        self._reply = Reply(self._on_model_ready, self._on_failure)
        worker = client.worker
        worker.model_loading.connect(self._on_model_loading)
        worker.download_progress.connect(self._on_download_progress)
        controls.model_chosen.connect(self._on_model_chosen)
        controls.custom_requested.connect(self.choose_weights)
        controls.device_chosen.connect(self._on_device_chosen)
        controls.cam_layer_chosen.connect(self._on_cam_layer_chosen)
        controls.cam_method_chosen.connect(self._on_cam_method_chosen)

    @property
    def state(self) -> ModelState:
        return self._state

    @property
    def info(self) -> ModelInfo | None:
        return self._info

    @property
    def cam_layer(self) -> str | None:
        return self._cam_layer

    @property
    def cam_method(self) -> str:
        return self._cam_method

    def load(self, request: ModelRequest | None = None, *, remember: bool = False) -> None:
        """Ask the worker for ``request`` (default: the current one again); ``remember``:
        once it has loaded, the next launch starts with it."""
        base = request or self._request
        self._request = ModelRequest(next_request_id(), base.model, base.device, base.weights,
                                     base.labels)
        self._remember = remember
        self._state = ModelState.LOADING
        self._client.submit(self._request, self._reply)
        # The model slot is served first, so what was on screen is classified by it.
        emit(self.reclassify)

    def load_weights(self, weights: str, labels: str | None = None) -> None:
        """Load a checkpoint file. An official file name keeps the chosen architecture;
        otherwise the engine infers it from the checkpoint."""
        if self._weights_dialog is not None:
            self._weights_dialog.close()
        current = self._request.model
        official = current in MODEL_NAMES and Path(weights).name.startswith(f"{current}-")
        self.load(ModelRequest(0, current if official else None, self._request.device,
                               weights, labels), remember=True)

    @Slot()
    def choose_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Choose a weights file",
                                              self._settings.last_dir, WEIGHT_FILTER)
        if not path:
            self._controls.show_model(self._request.model or DEFAULT_MODEL)
            return
        self._settings.last_dir = str(Path(path).parent)
        taught = Path(path).with_suffix(".txt")
        if Path(path).suffix.lower() == CHECKPOINT_SUFFIX and taught.is_file():
            # A taught model with the labels file its training wrote beside it: nothing to
            # ask (the question offered the folder's files, the right one not picked).
            self.load_weights(path, str(taught))
            return
        labels, _ = QFileDialog.getOpenFileName(
            self._window,
            "Labels for these weights (Cancel: use the checkpoint's own or ImageNet's)",
            str(Path(path).parent), LABEL_FILTER)
        self.load_weights(path, labels or None)

    def _on_failure(self, failure: WorkerFailure) -> None:
        self._close_download_dialog()
        if failure.request_id != self._request.id:
            return  # an older request, already superseded
        if self._info is not None and self._loaded is not None:
            self._keep_loaded_model(failure.message)
        else:
            self._state = ModelState.FAILED
            if failure.downloaded is not None:
                # "resnet18 ✓": which other model would load, with no download.
                self._controls.mark_downloaded(failure.downloaded)
            emit(self.message, failure.message, "error")
            self._status.set_model("Model: not loaded", "")
            emit(self.failed)
        emit(self.load_failed)
        if failure.reason is FailureReason.CANCELLED:
            return  # the user's own choice: no dialog
        if self._weights_dialog is not None:
            self._weights_dialog.close()
        self._weights_dialog = WeightsProblemDialog(
            failure.message, offline=failure.reason is FailureReason.OFFLINE,
            parent=self._window)
        self._weights_dialog.choose_file.connect(self.choose_weights)
        self._weights_dialog.open()

    def _keep_loaded_model(self, reason: str) -> None:
        """A switch failed, and the worker still holds the model it had: carry on with that
        one, shown as chosen, instead of leaving the user with none."""
        assert self._info is not None and self._loaded is not None
        info, self._request, self._remember = self._info, self._loaded, False
        self._state = ModelState.READY
        self._show_loaded_model(info)
        self._controls.set_devices(info.available_devices, self._request.device)
        self._controls.mark_downloaded(info.downloaded)
        self._status.set_model(f"Model: {info.model}", f"Device: {info.device}")
        emit(self.message, f"{reason} (still using {info.model})", "error")

    def _show_loaded_model(self, info: ModelInfo) -> None:
        # A checkpoint is listed under the name it loaded as; an official model by its own.
        self._controls.show_model(info.model if self._request.weights
                                  else self._request.model or info.model)

    @property
    def request(self) -> ModelRequest:
        """The model request being loaded, or the one whose model is loaded."""
        return self._request

    def close_dialogs(self) -> None:
        """At shutdown: close the dialogs for good. Progress the worker queued before it
        stopped (still delivered after a disconnect) must not open the download dialog
        again over a closed window."""
        self._closed = True
        self._close_download_dialog()
        if self._weights_dialog is not None:
            self._weights_dialog.close()

    @Slot(object)
    def _on_model_loading(self, request: ModelRequest) -> None:
        self._loading = request
        name = request.model or Path(request.weights or "").name or DEFAULT_MODEL
        if self._info is None:
            text = f"Loading {name} (the first model also loads PyTorch)…"
        else:
            text = f"Loading {name} on {device_label(request.device)}…"
        self._status.set_model(text, "")
        self._status_bar.showMessage(text)

    def _on_model_ready(self, info: ModelInfo) -> None:
        self._close_download_dialog()
        self._info = info
        # Signals from the worker keep their order: this is the request it just loaded.
        self._loaded = self._loading
        if info.request_id == self._request.id:
            self._state = ModelState.READY
            if self._remember:
                self._save_request()
        self._controls.set_devices(info.available_devices, self._request.device)
        self._controls.mark_downloaded(info.downloaded)
        if self._request.weights:
            self._show_loaded_model(info)
        self._controls.set_cam_layers(info.cam_layers, self._cam_layer)
        layer, self._cam_layer = self._cam_layer, self._controls.current_cam_layer()
        # A request that named no layer had the engine's default: the first model's list
        # naming it is no change (asking again restarted a slow map the user had cancelled).
        if (layer or DEFAULT_CAM_LAYER) != self._cam_layer:
            emit(self.reclassify)  # the request named a layer this model does not have
        self._status.set_model(f"Model: {info.model}", f"Device: {info.device}")
        self._status_bar.showMessage(
            f"{info.model} ready on {info.device} ({info.load_ms / 1000:.1f} s)", 5000)
        emit(self.ready, info)

    @Slot(object)
    def _on_download_progress(self, progress: DownloadProgress) -> None:
        if self._closed or progress.request_id != self._request.id:
            return
        if self._download_dialog is None:
            self._download_dialog = DownloadDialog(self._window)
            self._download_dialog.canceled.connect(self._client.cancel_download)
        self._download_dialog.update_progress(progress)
        self._download_dialog.show()

    def _close_download_dialog(self) -> None:
        if self._download_dialog is not None:
            self._download_dialog.canceled.disconnect(self._client.cancel_download)
            self._download_dialog.close()
            self._download_dialog.deleteLater()
            self._download_dialog = None

    def _save_request(self) -> None:
        """Save the request that just loaded, exactly: a checkpoint's architecture is
        inferred from the file (model None), and an official model clears a stale file,
        so the next launch cannot pair one model with another's weights."""
        r, s = self._request, self._settings
        s.model, s.device, s.weights, s.labels = r.model, r.device, r.weights, r.labels

    @Slot(str)
    def _on_model_chosen(self, name: str) -> None:
        self.load(ModelRequest(0, name, self._request.device), remember=True)

    @Slot(str)
    def _on_device_chosen(self, device: str) -> None:
        r = self._request
        self.load(ModelRequest(0, r.model, device, r.weights, r.labels), remember=True)

    @Slot(str)
    def _on_cam_layer_chosen(self, layer: str) -> None:
        self._cam_layer = layer
        self._settings.cam_layer = layer
        emit(self.reclassify)

    def choose_cam(self, method: str, layer: str) -> None:
        """Choose ``method`` and ``layer`` as the user would in the pickers (what is on
        screen is classified again once)."""
        self._controls.set_cam_layer(layer)
        self._cam_layer = self._settings.cam_layer = layer
        self._controls.set_cam_method(method)
        self._on_cam_method_chosen(method)

    @Slot(str)
    def _on_cam_method_chosen(self, method: str) -> None:
        self._cam_method = method
        self._settings.cam_method = method
        emit(self.method_changed, method)
        emit(self.reclassify)
