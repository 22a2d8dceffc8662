"""Models and devices in the window: switching while results are in flight, worker errors,
the download dialog, missing weights, and closing mid-inference."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QPushButton
from support.ui_helpers import (
    FakeEngine,
    make_window,
    wait_for_prediction,
    write_image,
)

from desktop_app.core.errors import WeightsError, WeightsUnavailableError
from desktop_app.ui.widgets.download_dialog import DownloadDialog, WeightsProblemDialog

OFFLINE = ("resnet50-11ad3fa6.pth (97.8 MB) is not in /home/u/.cache/torch/hub/checkpoints "
           "and cannot be downloaded (no network)")


def _visible(kind: type) -> list[Any]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def test_status_says_the_model_is_loading_then_ready(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(load_delay=0.5)
    window = make_window(qtbot, tmp_path, engine, model="resnet101", device="cpu")
    qtbot.waitUntil(lambda: "Loading resnet101" in window.status.model_label.text(),
                    timeout=3000)
    window.open_paths([write_image(tmp_path / "a.png", (5, 100, 5))])
    qtbot.waitUntil(lambda: window.predictions.header.text() == "Waiting for the model…",
                    timeout=3000)
    prediction = wait_for_prediction(qtbot, window)
    assert prediction.model == "resnet101"
    assert window.status.model_label.text() == "Model: resnet101"
    assert window.status.device_label.text() == "Device: cpu, eager"
    devices = [window.model_controls.device_combo.itemData(i)
               for i in range(window.model_controls.device_combo.count())]
    assert devices == ["auto", "cpu", "cuda:0"]  # as the worker reported


def test_switching_model_and_device_while_results_are_in_flight(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.2, load_delay=0.1)
    window = make_window(qtbot, tmp_path, engine)
    image = write_image(tmp_path / "a.png", (80, 10, 160))
    window.open_paths([image])
    qtbot.waitUntil(lambda: bool(engine.classifiers) and bool(engine.classifier.calls),
                    timeout=5000)
    # Mid-prediction: pick another model, then another device, in quick succession.
    window.model_controls.model_combo.setCurrentText("resnet18")
    window.model_controls.model_chosen.emit("resnet18")
    window.model_controls.device_chosen.emit("cuda:0")
    qtbot.waitUntil(lambda: window.prediction is not None
                    and window.prediction.model == "resnet18"
                    and window.prediction.device == "cuda:0", timeout=10_000)
    assert window.status.model_label.text() == "Model: resnet18"
    assert window.settings.model == "resnet18" and window.settings.device == "cuda:0"
    # The newest model request won; results of the old model were never shown after it.
    assert engine.loads[-1].model == "resnet18" and engine.loads[-1].device == "cuda:0"
    assert [m for m in window.messages.texts() if "error" in m.lower()] == []
    qtbot.waitUntil(lambda: not window.client.busy, timeout=5000)


def test_cam_layer_switch_reclassifies_with_that_layer(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (80, 10, 160))])
    wait_for_prediction(qtbot, window)
    layers = [window.model_controls.layer_combo.itemText(i)
              for i in range(window.model_controls.layer_combo.count())]
    assert layers[:4] == ["layer1", "layer2", "layer3", "layer4"]
    assert window.model_controls.current_cam_layer() == "layer4"
    window.model_controls.layer_combo.setCurrentText("layer3")
    window.model_controls.cam_layer_chosen.emit("layer3")
    qtbot.waitUntil(lambda: window.prediction.cam_layer == "layer3", timeout=5000)
    assert engine.classifier.calls[-1]["cam_layer"] == "layer3"


def test_an_exception_in_the_worker_is_shown_and_the_next_request_works(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(fail_predictions=1)
    window = make_window(qtbot, tmp_path, engine)
    first = write_image(tmp_path / "first.png", (1, 1, 1))
    window.open_paths([first])
    qtbot.waitUntil(lambda: any("fake engine exploded" in m for m in window.messages.texts()),
                    timeout=5000)
    assert window.predictions.header.text() == \
        "RuntimeError: fake engine exploded with a second line"
    qtbot.waitUntil(lambda: not window.client.busy, timeout=5000)
    second = write_image(tmp_path / "second.png", (200, 200, 200))
    window.open_paths([second])
    wait_for_prediction(qtbot, window, source=str(second))


def _offline_without_resnet50(qtbot: Any, tmp_path: Path, engine: FakeEngine) -> Any:
    """A window whose default model's weights cannot be had, once an image opened has
    brought up the dialog that says so."""
    engine.failures["resnet50"] = WeightsUnavailableError(OFFLINE)
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (9, 9, 9))])
    qtbot.waitUntil(lambda: bool(_visible(WeightsProblemDialog)), timeout=5000)
    return window


def test_weights_not_available_offline_explains_and_offers_a_file(
        qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    window = _offline_without_resnet50(qtbot, tmp_path, engine)
    dialog = _visible(WeightsProblemDialog)[0]
    assert dialog.windowTitle() == "Weights unavailable"
    assert OFFLINE in dialog.informativeText()
    assert dialog.choose_button.text() == "Choose weights file…"
    assert window.messages.texts()[-1] == OFFLINE
    assert window.status.model_label.text() == "Model: not loaded"
    assert window.predictions.header.text().startswith("No model loaded")
    # The file the user picks (what the button's file dialog returns).
    weights = tmp_path / "resnet50-11ad3fa6.pth"
    weights.write_bytes(b"fake")
    window.load_weights(str(weights))
    prediction = wait_for_prediction(qtbot, window)
    assert engine.loads[-1].weights == str(weights)
    assert engine.loads[-1].model == "resnet50"  # official file name: architecture kept
    assert prediction.model == "resnet50"
    assert not _visible(WeightsProblemDialog)
    assert window.settings.weights == str(weights)


def test_with_no_model_loaded_the_layer_list_is_greyed_not_a_blank_list(
        qtbot: Any, tmp_path: Path) -> None:
    window = _offline_without_resnet50(qtbot, tmp_path, FakeEngine())
    _visible(WeightsProblemDialog)[0].reject()
    layers = window.model_controls.layer_combo
    assert layers.count() == 0 and not layers.isEnabled()
    qtbot.mouseClick(layers, Qt.MouseButton.LeftButton)
    assert not layers.view().isVisible()  # no empty list drops down
    weights = tmp_path / "resnet50-11ad3fa6.pth"
    weights.write_bytes(b"fake")
    window.load_weights(str(weights))
    wait_for_prediction(qtbot, window)
    assert layers.isEnabled() and layers.currentText() == "layer4"


def test_when_the_first_model_cannot_load_the_list_marks_those_on_this_computer(
        qtbot: Any, tmp_path: Path) -> None:
    # Offline on a first launch with no resnet50 weights: the list marked nothing (marks
    # came only with a loaded model), though resnet18's weights were on disk.
    window = _offline_without_resnet50(
        qtbot, tmp_path, FakeEngine(downloaded=frozenset({"resnet18"})))
    _visible(WeightsProblemDialog)[0].reject()
    models = window.model_controls.model_combo
    texts = [models.itemText(i) for i in range(models.count())]
    assert "resnet18 ✓" in texts and "resnet50 (not downloaded)" in texts
    # Chosen from the list with the keyboard, as a user would: it loads.
    window.activateWindow()
    models.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is models, timeout=3000)
    for _ in range(models.currentIndex() - texts.index("resnet18 ✓")):
        qtbot.keyClick(models, Qt.Key.Key_Up)
    prediction = wait_for_prediction(qtbot, window)
    assert prediction.model == "resnet18"


def test_a_bad_checkpoint_is_reported(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.failures["resnet152"] = WeightsError("model.pth: not a PyTorch checkpoint")
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)
    window.model_controls.model_chosen.emit("resnet152")
    qtbot.waitUntil(lambda: bool(_visible(WeightsProblemDialog)), timeout=5000)
    dialog = _visible(WeightsProblemDialog)[0]
    assert dialog.windowTitle() == "Model not loaded"
    assert "model.pth: not a PyTorch checkpoint" in dialog.informativeText()
    dialog.close()


def test_download_dialog_shows_progress_and_cancels(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(download_steps=500, download_step_delay=0.01)
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: bool(_visible(DownloadDialog)), timeout=5000)
    dialog = _visible(DownloadDialog)[0]
    qtbot.waitUntil(lambda: dialog.value() > 0, timeout=5000)
    assert dialog.labelText().startswith("Downloading the resnet50 weights…")
    assert " MB of 0.5 MB" in dialog.labelText()
    cancel = dialog.findChild(QPushButton)
    assert cancel.text() == "Cancel"
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.status.model_label.text() == "Model: not loaded",
                    timeout=5000)
    assert window.messages.texts()[-1] == "Download of resnet50 weights cancelled"
    assert not _visible(DownloadDialog)
    assert not _visible(WeightsProblemDialog)  # the user chose this: no scolding dialog
    # Choosing a model again starts over.
    engine.download_steps = 0
    window.model_controls.model_chosen.emit("resnet18")
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)


def test_closing_mid_inference_is_quick_and_leaves_no_thread(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(predict_delay=0.8)
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (9, 9, 9))])
    qtbot.waitUntil(lambda: bool(engine.classifiers) and bool(engine.classifier.calls),
                    timeout=5000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0
    assert not window.client._thread.isRunning()


def test_closing_while_the_model_loads(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine(load_delay=0.5)
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: bool(engine.loads), timeout=3000)
    started = time.monotonic()
    window.close()
    assert time.monotonic() - started < 2.0


def test_a_taught_checkpoint_chosen_loads_with_the_labels_beside_it_without_asking(
        qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    """Choose weights file… on a model taught in the window asked for a labels file as
    well, though its training had written one beside it."""
    taught = tmp_path / "model" / "hands.safetensors"
    taught.parent.mkdir()
    taught.write_bytes(b"fake")
    labels = taught.with_suffix(".txt")
    labels.write_text("fist\npalm\n")
    asked: list[str] = []

    def dialog(_parent: Any, title: str, *_args: Any, **_kwargs: Any) -> tuple[str, str]:
        asked.append(title)
        return (str(taught) if len(asked) == 1 else "", "")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(dialog))
    engine = FakeEngine()
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)

    qtbot.keyClick(window.view, Qt.Key.Key_W,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)

    qtbot.waitUntil(lambda: window.model_info.model == "hands", timeout=5000)
    assert asked == ["Choose a weights file"]
    assert (engine.loads[-1].weights, engine.loads[-1].labels) == (str(taught), str(labels))


def test_the_next_launch_loads_exactly_the_model_that_worked_last(
        qtbot: Any, tmp_path: Path, monkeypatch: Any) -> None:
    # Every window here shares tmp_path's settings file: each one is a relaunch.
    weights = tmp_path / "my_resnet18.pth"
    weights.write_bytes(b"fake")
    labels = tmp_path / "shapes.txt"
    labels.write_text("circle\nsquare\ntriangle\n")
    answers = [str(weights), str(labels)]  # what the two file dialogs return
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *_args, **_kwargs: (answers.pop(0), "")))

    def launch() -> tuple[Any, FakeEngine]:
        engine = FakeEngine()
        window = make_window(qtbot, tmp_path, engine)
        qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)
        return window, engine

    def choose(window: Any, key: Qt.Key, name: str) -> None:
        combo = window.model_controls.model_combo
        combo.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is combo, timeout=3000)
        qtbot.keyClick(combo, key)
        assert combo.currentText() == name

    def first_load(engine: FakeEngine) -> tuple[str | None, str | None, str | None]:
        request = engine.loads[0]
        return request.model, request.weights, request.labels

    window, engine = launch()
    choose(window, Qt.Key.Key_Down, "resnet101")
    qtbot.waitUntil(lambda: window.model_info.model == "resnet101", timeout=5000)
    qtbot.keyClick(window.view, Qt.Key.Key_W,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: window.model_info.model == "my_resnet18", timeout=5000)
    window.close()

    # The architecture is the checkpoint's, not resnet101's.
    window, engine = launch()
    assert first_load(engine) == (None, str(weights), str(labels))
    assert window.model_controls.current_model() == "my_resnet18"
    choose(window, Qt.Key.Key_Up, "resnext50_32x4d")  # an official model again
    qtbot.waitUntil(lambda: window.model_info.model == "resnext50_32x4d", timeout=5000)
    window.close()

    window, engine = launch()
    assert first_load(engine) == ("resnext50_32x4d", None, None)  # the file is forgotten
    # A model that fails to load is not remembered.
    engine.failures["wide_resnet50_2"] = WeightsUnavailableError(OFFLINE)
    choose(window, Qt.Key.Key_Up, "wide_resnet50_2")
    qtbot.waitUntil(lambda: any(OFFLINE in m for m in window.messages.texts()), timeout=5000)
    window.close()

    window, engine = launch()
    assert first_load(engine) == ("resnext50_32x4d", None, None)
    window.close()


def test_a_failed_switch_keeps_the_model_that_was_loaded(qtbot: Any, tmp_path: Path) -> None:
    engine = FakeEngine()
    engine.failures["resnet101"] = WeightsUnavailableError(OFFLINE)
    window = make_window(qtbot, tmp_path, engine)
    window.open_paths([write_image(tmp_path / "a.png", (30, 150, 90))])
    before = wait_for_prediction(qtbot, window)
    assert before.model == "resnet50"
    combo = window.model_controls.model_combo
    combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is combo, timeout=3000)
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # resnet101, whose weights cannot be had
    assert combo.currentText() == "resnet101"
    qtbot.waitUntil(lambda: bool(_visible(WeightsProblemDialog)), timeout=5000)
    qtbot.waitUntil(lambda: not window.client.busy, timeout=5000)
    dialog = _visible(WeightsProblemDialog)[0]
    qtbot.mouseClick(dialog.button(QMessageBox.StandardButton.Close),
                     Qt.MouseButton.LeftButton)
    assert not _visible(WeightsProblemDialog)

    # The model list, the status and the predictions all name the model that is loaded.
    assert window.messages.texts()[-1] == f"{OFFLINE} (still using resnet50)"
    assert combo.currentText() == "resnet50"
    assert window.status.model_label.text() == "Model: resnet50"
    assert window.prediction is not None and window.prediction.model == "resnet50"
    assert window.predictions.header.text().endswith("— resnet50")
    assert window.predictions.list.count() == window.predictions.topk
    # And it goes on classifying.
    second = write_image(tmp_path / "b.png", (200, 20, 20))
    window.open_paths([second])
    assert wait_for_prediction(qtbot, window, source=str(second)).model == "resnet50"
    assert [r.model for r in engine.loads] == ["resnet50", "resnet101"]


def test_top_k_stops_at_the_number_of_classes_the_model_has(qtbot: Any,
                                                            tmp_path: Path) -> None:
    window = make_window(qtbot, tmp_path, FakeEngine(num_classes=3))
    window.open_paths([write_image(tmp_path / "a.png", (10, 20, 30))])
    wait_for_prediction(qtbot, window)
    spin = window.predictions.topk_spin
    assert window.predictions.list.count() == 3
    assert spin.value() == 3  # not 5 offered while 3 are listed
    for _ in range(3):
        qtbot.keyClick(window.view, Qt.Key.Key_BracketRight)
    assert spin.value() == 3
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert spin.value() == 3
    qtbot.keyClick(window.view, Qt.Key.Key_BracketLeft)
    qtbot.waitUntil(lambda: window.predictions.list.count() == 2, timeout=5000)
    assert spin.value() == 2


def test_the_model_list_marks_which_models_have_weights_on_disk(qtbot: Any,
                                                               tmp_path: Path) -> None:
    engine = FakeEngine(downloaded=frozenset({"resnet50", "resnet18"}))
    window = make_window(qtbot, tmp_path, engine)
    qtbot.waitUntil(lambda: window.model_info is not None, timeout=5000)
    combo = window.model_controls.model_combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert "resnet50 ✓" in texts and "resnet18 ✓" in texts
    assert "resnet101 (not downloaded)" in texts
    assert combo.currentText() == "resnet50 ✓"
    # Choosing a marked entry still loads the model of that name; once its weights are
    # fetched it is marked as on disk.
    engine.downloaded = frozenset({"resnet50", "resnet18", "resnet101"})
    combo.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is combo, timeout=3000)
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: window.model_info.model == "resnet101", timeout=5000)
    assert engine.loads[-1].model == "resnet101"
    assert combo.currentText() == "resnet101 ✓"


def test_about_names_the_version(qtbot: Any, tmp_path: Path) -> None:
    from PySide6.QtCore import QTimer

    import desktop_app

    window = make_window(qtbot, tmp_path)
    seen: list[str] = []

    def read_and_close() -> None:
        box = next(w for w in QApplication.topLevelWidgets()
                   if isinstance(w, QMessageBox) and w.isVisible())
        seen.append(box.text())
        box.accept()

    QTimer.singleShot(200, read_and_close)
    window.actions_.about.trigger()
    assert seen and f"version {desktop_app.__version__}" in seen[0]
