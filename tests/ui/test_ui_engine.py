"""The window with the real engine (seeded fake weights, offline) and how it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from support.processes import run_python
from support.ui_helpers import (
    FakeEngine,
    LagProbe,
    make_window,
    wait_for_prediction,
    write_image,
)
from support.video_utils import make_test_video

from desktop_app.ui.app import build_parser, run
from desktop_app.ui.controllers.worker import TorchEngine
from desktop_app.ui.main_window import MainWindow


@pytest.mark.slow
def test_open_an_image_and_see_a_real_resnet18_prediction(
        qtbot: Any, tmp_path: Path, resnet18_weights: Path) -> None:
    window = make_window(qtbot, tmp_path, TorchEngine, model="resnet18", device="cpu")
    image = write_image(tmp_path / "photo.jpg", (180, 120, 60), size=(500, 375))
    window.open_paths([image])
    prediction = wait_for_prediction(qtbot, window, timeout=120_000)
    assert prediction.model == "resnet18" and prediction.device == "cpu"
    assert len(prediction.topk) == 5
    assert window.model_info is not None and window.model_info.num_classes == 1000
    assert prediction.topk[0].label == window.predictions.list.item(0).text()
    assert set(prediction.cams) == {s.index for s in prediction.topk}
    assert window.view.has_overlay()
    assert window.model_info.weights_path == str(resnet18_weights)
    assert {"forward", "total"} <= set(prediction.timings)
    layers = [window.model_controls.layer_combo.itemText(i)
              for i in range(window.model_controls.layer_combo.count())]
    assert "layer4.1" in layers and "layer4.2" not in layers  # resnet18 has two blocks

    # Another CAM layer, without a restart.
    window.model_controls.layer_combo.setCurrentText("layer3")
    window.model_controls.cam_layer_chosen.emit("layer3")
    qtbot.waitUntil(lambda: window.prediction.cam_layer == "layer3", timeout=60_000)
    # Same classes (the layer4 fast path and the split forward agree up to float noise).
    assert [s.index for s in window.prediction.topk] == [s.index for s in prediction.topk]


@pytest.mark.slow
def test_real_engine_on_a_video_keeps_the_window_responsive(
        qtbot: Any, tmp_path: Path, resnet18_weights: Path) -> None:
    window = make_window(qtbot, tmp_path, TorchEngine, model="resnet18", device="cpu")
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=120_000)
    shown: list[Any] = []
    window.prediction_shown.connect(shown.append)
    probe = LagProbe()
    probe.start()
    window.start_video(make_test_video(tmp_path / "clip.avi", 60, size=(640, 480)))
    qtbot.waitUntil(lambda: len(shown) >= 8, timeout=120_000)
    probe.stop()
    assert all(p.cams is not None for p in shown)
    assert probe.p99_ms < 250, f"event loop lag p99 {probe.p99_ms:.0f} ms"


def test_the_window_shows_before_torch_is_imported(tmp_path) -> None:
    """In a fresh interpreter: build and show the window; torch, torchvision and the
    engine must still be unimported (the worker imports them once it starts)."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from desktop_app.ui.app import MainWindow\n"
        "from desktop_app.ui.settings import Settings, open_settings\n"
        "from desktop_app.ui.controllers.worker import TorchEngine\n"
        "app = QApplication([])\n"
        f"window = MainWindow(Settings(open_settings({str(tmp_path / 'settings.ini')!r})), "
        "TorchEngine)\n"
        "window.show()\n"
        "for _ in range(20): app.processEvents()\n"
        "heavy = [m for m in ('torch', 'torchvision', 'desktop_app.inference.classifier')\n"
        "         if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "window.shutdown()\n"
    )
    result = run_python(code, timeout=120, env={"QT_QPA_PLATFORM": "offscreen"})
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr




def test_command_line_options() -> None:
    args = build_parser().parse_args(
        ["a.jpg", "folder", "--model", "resnet18", "--device", "cpu", "--weights", "w.pth",
         "--labels", "l.txt", "--camera", "1", "--theme", "dark"])
    assert args.paths == ["a.jpg", "folder"]
    assert (args.model, args.device, args.weights, args.labels) == (
        "resnet18", "cpu", Path("w.pth"), Path("l.txt"))
    assert (args.camera, args.theme) == (1, "dark")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--model", "vgg16"])


@pytest.mark.parametrize("threads", ["0", "-3", "two"])
def test_a_thread_count_below_one_is_refused_before_the_window_opens(
        threads: str, capsys: pytest.CaptureFixture[str]) -> None:
    # It opened the window, and every image then failed with a torch traceback.
    with pytest.raises(SystemExit) as exit:
        build_parser().parse_args(["--threads", threads])
    assert exit.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (f"resnet-lens: error: argument --threads: expected a whole number "
                     f"from 1 up, got {threads!r}")


def test_the_window_and_predict_share_one_definition_of_the_model_options() -> None:
    from desktop_app import cli

    predict = cli._parser().parse_args(["predict", "x.jpg"]).parser

    def model_options(parser: Any) -> dict[str, tuple[Any, ...]]:
        return {a.dest: (a.option_strings, a.type, a.choices, a.help) for a in parser._actions
                if a.dest in ("model", "weights", "labels", "device")}

    window = build_parser()
    assert len(model_options(predict)) == 4
    assert model_options(window) == model_options(predict)
    # The one default that differs, on purpose: the window's device is the one of last time.
    assert predict.parse_args(["x.jpg"]).device == "auto"
    assert window.parse_args([]).device is None
    assert window.parse_args([]).model is predict.parse_args(["x.jpg"]).model is None


def test_run_opens_the_paths_and_returns_when_the_window_closes(
        qtbot: Any, tmp_path: Path) -> None:
    image = write_image(tmp_path / "a.png", (60, 60, 200))
    engine = FakeEngine()
    seen: list[str] = []

    def close_after_prediction() -> None:
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)]
        if windows and windows[0].prediction is not None:
            seen.append(windows[0].prediction.source or "")
            windows[0].close()
        else:
            QTimer.singleShot(20, close_after_prediction)

    QTimer.singleShot(20, close_after_prediction)
    code = run([str(image)], model="resnet18", theme="light",
               settings_path=str(tmp_path / "s.ini"), engine_factory=engine)
    assert code == 0
    assert seen == [str(image)]
    assert engine.loads[0].model == "resnet18"
