"""Teaching the loaded model new classes in the window: Teach > Train from folder…, the
progress, Cancel, the results and *Use this model*.

The backbone is the small trained shapes model; the taught classes rename two of its
shapes ("round", "boxy"), a few generated images each, so a training takes seconds.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QLabel, QWidget
from support.shapes_model import CLASSES, ShapesModel, make_sample
from support.ui_helpers import (
    accept_settings,
    choose_in_dialogs,
    make_window,
    press,
    settings_dialog,
    wait_for_prediction,
    write_image,
)
from support.video_utils import make_test_video

from desktop_app.core.dataset import scan_dataset
from desktop_app.core.teach_recipe import DEFAULT_RECIPE
from desktop_app.ui.controllers.worker import TorchEngine
from desktop_app.ui.main_window import MainWindow

TAUGHT = {"boxy": CLASSES.index("square"), "round": CLASSES.index("circle")}  # sorted
PER_CLASS = 6
TRAIN_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Shapes:
    data: Path  # one sub-folder per taught class
    heldout: dict[str, Path]  # one image per taught class the training never saw


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Shapes:
    root = tmp_path_factory.mktemp("teach")
    heldout = {}
    for name, label in TAUGHT.items():
        (root / "data" / name).mkdir(parents=True)
        streams = np.random.SeedSequence([7, label]).spawn(PER_CLASS + 1)
        for i, stream in enumerate(streams[:PER_CLASS]):
            make_sample(np.random.default_rng(stream), label).image.save(
                root / "data" / name / f"{i}.png")
        heldout[name] = root / f"heldout-{name}.png"
        make_sample(np.random.default_rng(streams[-1]), label).image.save(heldout[name])
    return Shapes(root / "data", heldout)


@pytest.fixture(scope="module")
def feature_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("features")


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, shapes_model: ShapesModel, feature_cache: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    """The window with the shapes model loaded; the feature cache in a test folder."""
    monkeypatch.setenv("RESNET_LENS_CACHE_DIR", str(feature_cache))
    w = make_window(qtbot, tmp_path, TorchEngine, weights=str(shapes_model.weights),
                    labels=str(shapes_model.labels), device="cpu")
    qtbot.waitUntil(lambda: w.model_info is not None, timeout=60_000)
    yield w
    # Each loaded model builds its fused forward on a thread of its own for a few seconds;
    # a short test is over sooner.
    qtbot.waitUntil(lambda: not any(t.name == "lens-compile" for t in threading.enumerate()),
                    timeout=60_000)


def log_text(window: MainWindow) -> str:
    assert window.teach.dialog is not None
    return window.teach.dialog.log.toPlainText()


@pytest.mark.slow
def test_train_from_folder_shows_progress_and_results_and_the_window_uses_the_model(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    shutil.copytree(shapes.data, data)
    (data / "round" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")
    out = tmp_path / "models" / "shapes2"  # the suffix is added
    choose_in_dialogs(monkeypatch, data, out)
    bars: list[int] = []
    window.client.worker.train_progress.connect(
        lambda _p: bars.append(window.teach.dialog.progress.maximum()))

    window.actions_.train_from_folder.trigger()  # Teach > Train from folder…
    accept_settings(qtbot, window)

    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    dialog = window.teach.dialog
    assert dialog is not None and dialog.isVisible()
    text = log_text(window)
    assert text.splitlines()[0] == f"Recipe: {DEFAULT_RECIPE.describe()}"  # the one used
    assert "broken.png" in text and text.splitlines()[1].endswith("; skipped")
    assert "linear probe 1/4: loss" in text and "validation accuracy" in text
    assert any(bars)  # the bar counted features or epochs
    results = dialog.results
    assert results.isVisible()
    assert "Validation accuracy" in results.summary.text()
    table = results.table
    assert [table.verticalHeaderItem(r).text() for r in range(table.rowCount())] == list(TAUGHT)
    assert [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())] == [
        *TAUGHT, "Accuracy", "Validated"]
    matrix = [[int(table.item(r, c).text()) for c in range(2)] for r in range(2)]
    assert matrix == window.teach.result.saved.evaluation.confusion_matrix
    assert sum(map(sum, matrix)) >= 2  # a validation image of each class at least
    gallery = window.teach.result.gallery.by_class
    assert set(gallery) == set(TAUGHT) and all(gallery.values())
    assert all(t.overlay_rgb.ndim == 3 for tiles in gallery.values() for t in tiles)
    tiles = results.findChildren(QWidget, "map-tile")
    assert len(tiles) == sum(map(len, gallery.values())) + len(
        window.teach.result.gallery.mistakes)
    for tile in tiles:  # each caption below its picture, not over it
        picture, caption = tile.findChildren(QLabel)
        assert caption.geometry().top() >= picture.geometry().bottom()
        assert caption.height() >= 3 * caption.fontMetrics().lineSpacing()
    checkpoint = tmp_path / "models" / "shapes2.safetensors"
    assert checkpoint.is_file() and checkpoint.with_suffix(".txt").is_file()

    qtbot.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert window.actions_.training_results.isEnabled()
    window.actions_.training_results.trigger()  # Teach > Show training results
    assert dialog.isVisible() and results.isVisible()

    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: window.model_info.weights_path == str(checkpoint), timeout=30_000)
    assert window.model_info.num_classes == len(TAUGHT)
    assert not results.use_button.isEnabled()
    for name, path in shapes.heldout.items():
        window.open_paths([path])
        prediction = wait_for_prediction(qtbot, window, timeout=30_000, source=str(path))
        assert prediction.topk[0].label == name
        assert prediction.cams is not None  # the map works with the new model


@pytest.mark.slow
def test_train_button_of_the_teach_pane_trains_the_project_and_the_window_uses_it(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path) -> None:
    """The collecting pane and the trainer together: a project built from a class folder,
    Train… clicked, the checkpoint lands in the project, Use this model predicts its classes."""
    from desktop_app.core.teach_project import TeachProject

    project = TeachProject.create(tmp_path / "project")
    project.add_class_folder(shapes.data)
    assert window.teach_project.open_project(project.root)
    pane = window.teach_pane
    assert pane.train_button.isEnabled()

    qtbot.mouseClick(pane.train_button, Qt.MouseButton.LeftButton)
    accept_settings(qtbot, window)

    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    assert project.model_path.is_file() and project.model_path.with_suffix(".txt").is_file()
    results = window.teach.dialog.results
    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model_info.weights_path == str(project.model_path),
                    timeout=30_000)
    for name, path in shapes.heldout.items():
        window.open_paths([path])
        prediction = wait_for_prediction(qtbot, window, timeout=30_000, source=str(path))
        assert prediction.topk[0].label == name


@pytest.mark.slow
def test_after_a_relaunch_the_projects_training_shows_its_saved_results_and_is_used(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path,
        shapes_model: ShapesModel) -> None:
    """A real training's files read back by the next session (same settings file): the
    table and the mistakes' maps are those of the training; Use this model loads it."""
    from desktop_app.core.teach_project import TeachProject

    project = TeachProject.create(tmp_path / "project")
    project.add_class_folder(shapes.data)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert window.teach_project.open_project(project.root)
    qtbot.mouseClick(window.teach_pane.train_button, Qt.MouseButton.LeftButton)
    accept_settings(qtbot, window)
    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    trained = window.teach.result
    window.close()

    again = make_window(qtbot, tmp_path, TorchEngine, weights=str(shapes_model.weights),
                        labels=str(shapes_model.labels), device="cpu")
    qtbot.waitUntil(lambda: again.model_info is not None, timeout=60_000)
    assert again.teach_project.dock.isVisible()
    qtbot.waitUntil(again.actions_.training_results.isEnabled, timeout=10_000)
    again.actions_.training_results.trigger()
    results = again.teach.dialog.results
    table = results.table
    evaluation = trained.saved.evaluation
    assert [[int(table.item(r, c).text()) for c in range(2)] for r in range(2)] == (
        evaluation.confusion_matrix)
    assert f"Kept: {trained.best};" in results.summary.text()
    assert f"on {sum(evaluation.counts.values())} images." in results.summary.text()
    assert results.notice.isHidden()
    tiles = results.findChildren(QWidget, "map-tile")
    assert len(tiles) == len(trained.saved.mistake_maps)  # the class maps are not saved

    qtbot.mouseClick(results.use_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: again.model_info.weights_path == str(project.model_path),
                    timeout=30_000)
    for name, path in shapes.heldout.items():
        again.open_paths([path])
        assert wait_for_prediction(qtbot, again, timeout=30_000,
                                   source=str(path)).topk[0].label == name
    qtbot.waitUntil(lambda: not any(t.name == "lens-compile" for t in threading.enumerate()),
                    timeout=60_000)


@pytest.mark.slow
def test_cancel_during_fine_tuning_keeps_saves_and_shows_the_best_model(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from desktop_app.inference.training import Recipe

    out = tmp_path / "cancelled.safetensors"
    window.teach.train(scan_dataset(shapes.data), out, Recipe(epochs=500, patience=500))
    dialog = window.teach.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "fine-tune 1/500" in log_text(window), timeout=TRAIN_TIMEOUT_MS)
    asked: list[str] = []
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *_args, **_kwargs: asked.append("folder") or ""))
    window.actions_.train_from_folder.trigger()  # a second training is refused
    assert not asked and window.messages.texts()[-1].startswith("A training is running")

    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    assert "Stopping" in dialog.status.text()
    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    result = window.teach.result
    assert result.stopped == "cancelled"
    assert "fine-tune 500/500" not in log_text(window)
    assert out.is_file()
    assert "stopped by Cancel" in dialog.results.summary.text()
    assert dialog.results.isVisible() and dialog.results.use_button.isEnabled()
    assert not dialog.progress.isVisible()


def test_a_class_with_one_image_gives_its_message(qtbot: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(qtbot, tmp_path)  # no model needed: refused before the worker
    assert not window.actions_.training_results.isEnabled()
    data = tmp_path / "data"
    for name, count in (("cat", 3), ("dog", 1)):
        (data / name).mkdir(parents=True)
        for i in range(count):
            write_image(data / name / f"{i}.png", (40 * i, 90, 200 - 40 * i))
    choose_in_dialogs(monkeypatch, data, tmp_path / "pets.safetensors")

    window.actions_.train_from_folder.trigger()
    accept_settings(qtbot, window)

    message = "each class needs at least two usable images; too few in dog (1)"
    qtbot.waitUntil(lambda: window.teach.dialog is not None
                    and window.teach.dialog.status.text() == message, timeout=5000)
    assert not window.teach.running
    assert not window.teach.dialog.cancel_button.isVisible()
    assert not window.teach.dialog.log.isVisible()  # nothing to show there
    assert window.messages.texts()[-1] == f"Training: {message}"


def test_a_folder_with_one_class_gives_its_message(qtbot: Any, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(qtbot, tmp_path)
    (tmp_path / "data" / "cat").mkdir(parents=True)
    write_image(tmp_path / "data" / "cat" / "a.png", (10, 20, 30))
    choose_in_dialogs(monkeypatch, tmp_path / "data", tmp_path / "m.safetensors")

    window.actions_.train_from_folder.trigger()
    accept_settings(qtbot, window)

    qtbot.waitUntil(lambda: window.teach.dialog is not None and window.teach.dialog.status
                    .text().startswith("need at least two classes"), timeout=5000)
    assert "found 1 (cat)" in window.teach.dialog.status.text()


@pytest.mark.slow
def test_closing_the_window_during_training_stops_it_at_once_and_saves_nothing(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path) -> None:
    from desktop_app.inference.training import Recipe

    out = tmp_path / "never.safetensors"
    window.teach.train(scan_dataset(shapes.data), out, Recipe(epochs=500, patience=500))
    qtbot.waitUntil(lambda: "fine-tune 1/500" in log_text(window), timeout=TRAIN_TIMEOUT_MS)

    started = time.monotonic()
    window.close()

    assert time.monotonic() - started < 3.0
    assert not window.client.running
    assert not out.exists()


@pytest.mark.slow
def test_a_class_left_with_one_readable_image_gives_the_engines_message(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(shapes.data / "round", data / "round")
    (data / "boxy").mkdir()
    shutil.copy(shapes.data / "boxy" / "0.png", data / "boxy" / "0.png")
    (data / "boxy" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n and then nothing")

    window.teach.train(scan_dataset(data), tmp_path / "m.safetensors")

    message = "each class needs at least two usable images; too few in boxy (1)"
    qtbot.waitUntil(lambda: window.teach.dialog.status.text() == message,
                    timeout=TRAIN_TIMEOUT_MS)
    assert not window.teach.running and window.teach.result is None
    assert "1.png" in log_text(window)  # the file that was skipped, named
    assert window.messages.texts()[-1] == f"Training: {message}"


def report_of(out: Path) -> dict[str, Any]:
    return json.loads(out.with_name(f"{out.stem}.report.json").read_text())


@pytest.mark.slow
def test_linear_only_and_a_seed_chosen_with_keys_are_what_trains_and_what_the_report_says(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "linear.safetensors"
    choose_in_dialogs(monkeypatch, shapes.data, out)
    window.actions_.train_from_folder.trigger()
    settings_dialog(qtbot, window)

    press(qtbot, Qt.Key.Key_Space)  # Linear probe only (the focus starts there)
    press(qtbot, Qt.Key.Key_Tab, Qt.Key.Key_Tab)  # past the validation share to the seed
    qtbot.keyClicks(QApplication.focusWidget(), "7")
    press(qtbot, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    chosen = replace(DEFAULT_RECIPE, linear_only=True, seed=7)
    assert window.teach.result.request.recipe == chosen  # what the worker was asked
    report = report_of(out)
    assert report["recipe"]["name"] == "linear probe"
    assert {k: report["recipe"][k] for k in ("linear_only", "seed", "val_split")} == {
        "linear_only": True, "seed": 7, "val_split": DEFAULT_RECIPE.val_split}
    assert report["result"]["best_stage"] == "linear probe"
    assert "fine-tune" not in log_text(window)  # no fine-tuning epoch ran
    assert f"Recipe: {chosen.describe()}" in log_text(window).splitlines()
    assert f"Recipe: {chosen.describe()}" in window.teach.dialog.results.summary.text()
    # Said in words, not as the probe's "epoch 0".
    assert "Kept: the linear probe;" in window.teach.dialog.results.summary.text()


@pytest.mark.slow
def test_a_k_fold_training_shows_every_image_of_each_class_with_its_out_of_fold_prediction(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Six images a class: the evaluation is k-fold. The gallery used to show the saved
    model's one hold-out image a class, its caption disagreeing with the table above."""
    import desktop_app.inference.training as training

    taught: list[training.TrainedModel] = []
    teach = training.teach
    monkeypatch.setattr(training, "teach",
                        lambda *args, **kwargs: taught.append(teach(*args, **kwargs)) or taught[-1])
    choose_in_dialogs(monkeypatch, shapes.data, tmp_path / "kfold.safetensors")
    window.actions_.train_from_folder.trigger()
    settings_dialog(qtbot, window)
    press(qtbot, Qt.Key.Key_Space)  # Linear probe only: sooner, and k-fold all the same
    press(qtbot, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    [trained] = taught
    cv = trained.cross_validation
    assert cv is not None and cv.folds == 5
    results = window.teach.dialog.results
    assert "(5-fold cross-validation)" in results.summary.text()
    # Each image's out-of-fold prediction, as the caption under its map should say it.
    expected = {}
    for example, probabilities in zip(trained.examples, cv.probabilities, strict=True):
        true, predicted = trained.classes[example.label], trained.classes[probabilities.argmax()]
        confidence = f"{probabilities.max():.0%}"
        expected[example.path] = (true, predicted, f"✓ {confidence}" if predicted == true
                                  else f"✗ taken for {predicted} ({confidence})")
    shown: dict[str, list[str]] = {name: [] for name in TAUGHT}
    confusion = {(true, predicted): 0 for true in TAUGHT for predicted in TAUGHT}
    for tile in results.findChildren(QWidget, "map-tile"):
        path, caption = tile.toolTip().split("\n")
        if not caption.startswith(("✓", "✗")):
            continue  # a mistake's tile, above the gallery
        true, predicted, said = expected[Path(path)]
        assert tile.findChildren(QLabel)[1].text() == caption == said
        shown[true].append(path)
        confusion[true, predicted] += 1
    assert {name: len(paths) for name, paths in shown.items()} == dict.fromkeys(
        TAUGHT, PER_CLASS)  # every image of every class
    table = results.table
    assert confusion == {(true, predicted): int(table.item(r, c).text())
                         for r, true in enumerate(TAUGHT) for c, predicted in enumerate(TAUGHT)}
    # The maps are the saved model's: the header says it trained on most of these images.
    [header] = [label for label in results.findChildren(QLabel)
                if "map of their class" in label.text()]
    assert header.isVisible()
    assert (f"trained on {len(trained.train_index)} of these {PER_CLASS * len(TAUGHT)} "
            "images") in header.text()
    assert "the saved model's, the one you will use" in header.text()


@pytest.mark.slow
def test_epochs_and_learning_rate_typed_before_the_panes_train_bound_the_fine_tuning(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path) -> None:
    from desktop_app.core.teach_project import TeachProject

    project = TeachProject.create(tmp_path / "project")
    project.add_class_folder(shapes.data)
    assert window.teach_project.open_project(project.root)
    qtbot.mouseClick(window.teach_pane.train_button, Qt.MouseButton.LeftButton)
    settings_dialog(qtbot, window)

    press(qtbot, Qt.Key.Key_Tab)  # to the epochs, their text selected
    qtbot.keyClicks(QApplication.focusWidget(), "2")
    press(qtbot, Qt.Key.Key_Tab)  # to the learning rate
    qtbot.keyClicks(QApplication.focusWidget(), "1e-3")
    press(qtbot, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    chosen = replace(DEFAULT_RECIPE, epochs=2, learning_rate=1e-3)
    assert window.teach.result.request.recipe == chosen
    report = report_of(project.model_path)
    assert (report["recipe"]["epochs"], report["recipe"]["learning_rate"]) == (2, 1e-3)
    assert report["recipe"]["linear_only"] is False
    assert report["result"]["best_epoch"] <= 2
    epochs = [line for line in log_text(window).splitlines() if line.startswith("fine-tune ")]
    assert epochs and all(line.startswith(("fine-tune 1/2:", "fine-tune 2/2:"))
                          for line in epochs)


@pytest.mark.slow
def test_a_training_starts_and_ends_while_a_video_plays(
        qtbot: Any, window: MainWindow, shapes: Shapes, tmp_path: Path) -> None:
    """A video asks for a prediction every frame; a training asked for meanwhile used to
    wait behind them for as long as the video played."""
    from desktop_app.inference.training import Recipe

    window.start_video(make_test_video(tmp_path / "clip.avi", 30, size=(160, 120)))
    wait_for_prediction(qtbot, window, timeout=30_000)
    out = tmp_path / "while-live.safetensors"

    window.teach.train(scan_dataset(shapes.data), out, Recipe(linear_only=True))

    qtbot.waitUntil(lambda: window.teach.result is not None, timeout=TRAIN_TIMEOUT_MS)
    assert out.is_file() and window.live.latest_frame() is not None  # the video still plays
    window.live.stop()
