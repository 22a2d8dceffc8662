"""Test doubles and helpers for the window's tests.

``FakeEngine``/``FakeClassifier`` stand in for the torch engine: they return real
``Prediction`` objects (random CAM grids over a real ``CropGeometry``) quickly, can be made
slow or failing, and record what they were asked.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QFileDialog

from desktop_app.core.errors import DownloadCancelled
from desktop_app.core.geometry import CropGeometry
from desktop_app.core.image_io import decode_image
from desktop_app.core.results import CamMaps, ClassScore, Prediction
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.settings import Settings
from desktop_app.ui.state.requests import ModelRequest
from desktop_app.ui.widgets.recipe_dialog import RecipeDialog

FAKE_LAYERS = ("layer1", "layer2", "layer3", "layer4", "layer4.0", "layer4.1")


class FakeClassifier:
    """Predicts from the image's mean colour, so different images get different classes."""

    def __init__(self, model_name: str = "resnet18", device: str = "cpu",
                 num_classes: int = 20, delay: float = 0.0, fail_times: int = 0,
                 backend: str = "eager") -> None:
        self.model_name = model_name
        self.device = device
        self.backend = backend
        self.labels = tuple(f"class {i}" for i in range(num_classes))
        self.num_classes = num_classes
        self.cam_layers = FAKE_LAYERS
        self.weights_path = Path(f"/fake/{model_name}.pth")
        self.delay = delay
        self.fail_times = fail_times
        self.calls: list[dict[str, Any]] = []
        self.score_calls: list[dict[str, Any]] = []
        self.score_delay = 0.0  # seconds per perturbed image in score_map
        self.scorecam_delay = 0.0  # seconds a Score-CAM prediction takes (it honours cancel)
        self.scorecam_delays: dict[str, float] = {}  # by file name, instead of scorecam_delay
        # When set to an Event, each prediction waits for it: a test holds a batch in flight
        # for as long as it needs instead of racing a delay.
        self.gate: threading.Event | None = None
        self.thread_ids: set[int] = set()

    def predict(self, image: Any, topk: int = 5, cam: str | None = "gradcam",
                cam_layer: str = "layer4", cam_classes: list[int] | None = None,
                cancel: Any = None, progress: Any = None, **_options: Any) -> Prediction:
        self.thread_ids.add(threading.get_ident())
        self.calls.append({"topk": topk, "cam": cam, "cam_layer": cam_layer, "image": image,
                           "cam_classes": cam_classes})
        if cam == "scorecam":
            name = Path(image).name if isinstance(image, (str, Path)) else ""
            self._forward_per_channel(self.scorecam_delays.get(name, self.scorecam_delay),
                                      cancel, progress)
        started = time.perf_counter()
        if self.gate is not None:
            self.gate.wait(timeout=60)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RuntimeError("fake engine exploded\nwith a second line")
        if cam_layer not in self.cam_layers:
            raise ValueError(f"unknown CAM layer {cam_layer!r}")
        decoded = decode_image(image)
        pixels = decoded.array
        seed = int(pixels[::7, ::7].mean() * 1000) % (2**32)
        rng = np.random.default_rng(seed)
        logits = rng.normal(size=self.num_classes).astype(np.float32) * 3
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs)[: min(topk, self.num_classes)]
        scores = tuple(ClassScore(self.labels[i], int(i), float(probs[i]), float(logits[i]))
                       for i in order)
        cams = None
        if cam is not None:
            width, height = decoded.image.size
            classes = ([scores[0].index] if cam_classes == "top1" else
                       [s.index for s in scores] if cam_classes in (None, "topk") else
                       cam_classes)
            grids = {int(c): rng.random((7, 7), dtype=np.float32) for c in classes}
            geometry = CropGeometry.for_transform(width, height, 256, 224)
            cams = CamMaps(grids, geometry, decoded.original_size)
        total = (time.perf_counter() - started) * 1000
        return Prediction(
            topk=scores, cams=cams,
            timings={"decode": 0.1, "preprocess": 0.2, "forward": total, "cam": 0.1,
                     "total": total},
            image_size=decoded.original_size, model=self.model_name, device=self.device,
            cam_layer=cam_layer if cam else None, cam_method=cam, source=decoded.name,
        )

    def prepare(self, image: Any) -> Path:
        """As the engine's, on the folder pipeline's decode threads: a file that cannot be
        decoded fails here."""
        decode_image(image)
        return Path(image)

    def predict_batch(self, inputs: list[Path], topk: int = 5, cam: str | None = "gradcam",
                      cam_layer: str = "layer4", cam_classes: Any = None, *,
                      progress: Any = None, cancel: Any = None,
                      **_options: Any) -> list[Prediction]:
        """As the engine's: image by image, each Score-CAM counting its "forwards" with
        ``progress(decoded image)``'s callback and honouring ``cancel``."""
        return [self.predict(str(path), topk, cam, cam_layer=cam_layer, cam_classes=cam_classes,
                             progress=progress(decode_image(path)) if progress else None,
                             cancel=cancel)
                for path in inputs]

    def _forward_per_channel(self, delay: float, cancel: Any, progress: Any) -> None:
        """20 "forwards" over ``delay`` seconds that count themselves and honour cancel, as
        the engine's do."""
        from desktop_app.core.errors import Cancelled

        step = delay / 20  # as it was when this prediction began
        for done in range(20):
            if cancel is not None and cancel():
                raise Cancelled("Score-CAM cancelled")
            time.sleep(step)
            if progress is not None:
                progress(done + 1, 20)

    def score_map(self, image: Any, class_index: int, saliency: np.ndarray,
                  metrics: Any = ("deletion", "insertion", "road"), *,
                  progress: Any = None, cancel: Any = None,
                  curves: dict[str, np.ndarray] | None = None) -> dict[str, float]:
        """Scores that follow from the map (its mean), after 20 slow "forwards" that
        report progress and honour cancel as the engine's do; falling curves."""
        from desktop_app.core.errors import Cancelled

        self.score_calls.append({"class_index": class_index, "shape": saliency.shape})
        total = 20
        for done in range(total):
            if cancel is not None and cancel():
                raise Cancelled("Scoring cancelled")
            time.sleep(self.score_delay)
            if progress is not None:
                progress(done + 1, total)
        mean = float(np.nanmean(saliency))
        scores = {"deletion": 1 - mean, "insertion": mean, "road": mean / 2}
        if curves is not None:
            curves["deletion"] = np.linspace(1, 0, 9, dtype=np.float32)
            curves["insertion"] = np.linspace(0, 1, 9, dtype=np.float32) ** 2
        return {m: scores[m] for m in metrics}


@dataclass
class FakeEngine:
    """Builds FakeClassifiers; ``failures`` maps a model name to the error its load raises.
    ``download_steps`` > 0 reports that many progress steps (and honours cancel)."""

    devices: tuple[str, ...] = ("auto", "cpu", "cuda:0")
    load_delay: float = 0.0
    predict_delay: float = 0.0
    fail_predictions: int = 0
    download_steps: int = 0
    download_step_delay: float = 0.01
    num_classes: int = 20
    downloaded: frozenset[str] | None = None  # None: no marks in the model list

    def __post_init__(self) -> None:
        self.failures: dict[str, Exception] = {}
        self.loads: list[ModelRequest] = []
        self.classifiers: list[FakeClassifier] = []
        self.created_in: int | None = None

    def __call__(self) -> FakeEngine:
        """Used as the window's engine factory: called once, in the worker thread."""
        self.created_in = threading.get_ident()
        return self

    def available_devices(self) -> tuple[str, ...]:
        return self.devices

    def downloaded_models(self) -> frozenset[str] | None:
        return self.downloaded

    def load(self, request: ModelRequest, progress: Any, cancel: Any) -> FakeClassifier:
        self.loads.append(request)
        for step in range(self.download_steps):
            if cancel():
                raise DownloadCancelled(f"Download of {request.model} weights cancelled")
            progress(step * 1000, self.download_steps * 1000)
            time.sleep(self.download_step_delay)
        if self.load_delay:
            time.sleep(self.load_delay)
        # Failures stand for official weights that cannot be had; a chosen file loads.
        error = self.failures.get(request.model or "") if request.weights is None else None
        if error is not None:
            raise error
        name = request.model or Path(request.weights or "custom").stem
        device = "cpu" if request.device == "auto" else request.device
        classifier = FakeClassifier(name, device, num_classes=self.num_classes,
                                    delay=self.predict_delay, fail_times=self.fail_predictions)
        self.fail_predictions = 0
        self.classifiers.append(classifier)
        return classifier

    @property
    def classifier(self) -> FakeClassifier:
        return self.classifiers[-1]


def temp_settings(tmp_path: Path) -> Settings:
    """Settings in a private ini file: tests never touch the user's preferences."""
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def make_window(qtbot: Any, tmp_path: Path, engine: Any = None, *, start: bool = True,
                **options: Any) -> MainWindow:
    engine = engine if engine is not None else FakeEngine()
    window = MainWindow(temp_settings(tmp_path), engine, **options)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    window.view.setFocus()
    if start:
        window.start()
    return window


def wait_for_prediction(qtbot: Any, window: MainWindow, timeout: int = 10_000,
                        source: str | None = None) -> Prediction:
    """Wait until a prediction (from ``source``, if given) is on screen."""
    def shown() -> None:
        prediction = window.prediction
        assert prediction is not None
        if source is not None:
            assert prediction.source == source

    qtbot.waitUntil(shown, timeout=timeout)
    assert window.prediction is not None
    return window.prediction


def write_image(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (320, 240),
                ) -> Path:
    from PIL import Image

    pixels = np.zeros((size[1], size[0], 3), np.uint8)
    pixels[:] = color
    pixels[size[1] // 3:, size[0] // 3:] = (255 - np.array(color)).astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return path


class FakeCamera:
    """Shaped like cv2.VideoCapture: ``frames(n)`` gives the n-th BGR frame, or None for a
    failed read (a camera that was unplugged); it may also raise or block, as a driver does
    when a camera goes away. ``opened=False`` is a camera that fails to open."""

    def __init__(self, frames: Any, fps: float = 30.0, *, opened: bool = True) -> None:
        self._frames = frames
        self._opened = opened
        self._interval = 1.0 / fps
        self._count = 0
        self.released = threading.Event()

    def isOpened(self) -> bool:
        return self._opened

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(self._interval)
        frame = self._frames(self._count)
        self._count += 1
        return frame is not None, frame

    def set(self, _prop: int, _value: float) -> bool:
        return False

    def get(self, _prop: int) -> float:
        return 0.0

    def release(self) -> None:
        self.released.set()


def noise_frame(n: int, size: tuple[int, int] = (320, 240)) -> np.ndarray:
    """A frame that differs from every other, as a real sensor's do."""
    return np.random.default_rng(n).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)


def fake_camera_source(frames: Any = noise_frame, **options: Any) -> Any:
    from desktop_app.capture import FrameSource
    from desktop_app.ui.controllers.live_source import LiveSource
    from desktop_app.ui.state.screen import LiveKind

    source = FrameSource(lambda: FakeCamera(frames), "Camera 0", live=True, **options)
    return LiveSource(source, LiveKind.CAMERA)


class LagProbe:
    """Measures how late a 10 ms timer fires: the event loop's responsiveness."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.interval = interval_ms / 1000.0
        self.lags: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_tick)

    def start(self) -> None:
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _on_tick(self) -> None:
        now = time.perf_counter()
        self.lags.append(max(0.0, now - self._last - self.interval) * 1000.0)
        self._last = now

    @property
    def max_ms(self) -> float:
        return max(self.lags, default=0.0)

    @property
    def p99_ms(self) -> float:
        return float(np.percentile(self.lags, 99)) if self.lags else 0.0


def choose_in_dialogs(monkeypatch: pytest.MonkeyPatch, folder: Path, out: Path) -> None:
    """The folder and file the user picks in Train from folder…'s two file dialogs."""
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *_args, **_kwargs: str(folder)))
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *_args, **_kwargs: (str(out), "")))


def settings_dialog(qtbot: Any, window: MainWindow) -> RecipeDialog:
    """The training settings once they are asked, active, the keyboard's focus in them."""
    qtbot.waitUntil(lambda: window.teach.recipe_dialog is not None
                    and QApplication.activeWindow() is window.teach.recipe_dialog, timeout=10_000)
    dialog = window.teach.recipe_dialog
    assert dialog is not None and dialog.isAncestorOf(QApplication.focusWidget())
    return dialog


def press(qtbot: Any, *keys: Qt.Key) -> None:
    """Keys as a user presses them: each to whichever widget has the focus then."""
    for key in keys:
        qtbot.keyClick(QApplication.focusWidget(), key)


def accept_settings(qtbot: Any, window: MainWindow) -> None:
    """Return in the training settings: *Train* with what they show."""
    settings_dialog(qtbot, window)
    press(qtbot, Qt.Key.Key_Return)
