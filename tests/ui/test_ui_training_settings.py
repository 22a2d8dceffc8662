"""The training settings asked before a training starts (Teach ▸ Train from folder…, the
Teach pane's Train…): the engine's defaults shown, keys that change them, what reaches the
worker, what is remembered for the next window, Restore defaults.

No model is needed: the worker's requests are recorded instead of run (the trainings
themselves are in test_ui_teach.py).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QLabel
from support.ui_helpers import (
    accept_settings,
    choose_in_dialogs,
    make_window,
    press,
    settings_dialog,
    temp_settings,
    write_image,
)

from desktop_app.core.teach_recipe import DEFAULT_RECIPE
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.state.requests import TrainRequest
from desktop_app.ui.widgets.recipe_dialog import RecipeForm

_Left = Qt.MouseButton.LeftButton


def _two_classes(root: Path) -> Path:
    for name, colour in (("cats", (200, 40, 40)), ("dogs", (40, 40, 200))):
        (root / name).mkdir(parents=True)
        for i in range(2):
            write_image(root / name / f"{i}.png", (colour[0] - 30 * i, colour[1], colour[2]))
    return root


def _train_requests(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> list[TrainRequest]:
    """What the window asks the worker to train, recorded instead of run."""
    asked: list[TrainRequest] = []
    submit = window.client.submit
    monkeypatch.setattr(window.client, "submit", lambda request, reply=None: (
        asked.append(request) if isinstance(request, TrainRequest) else submit(request, reply)))
    return asked


def _shown(form: RecipeForm) -> tuple[bool, int, str, str, int]:
    return (form.linear_only.isChecked(), form.epochs.value(), form.learning_rate.text(),
            form.val_percent.text(), form.seed.value())


def test_the_settings_show_the_engines_defaults_fit_640_by_480_and_linear_only_disables_tuning(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(qtbot, tmp_path)
    window.resize(640, 480)
    asked = _train_requests(window, monkeypatch)
    deep = tmp_path.joinpath(*["photos-from-the-production-line"] * 4)  # a long path
    choose_in_dialogs(monkeypatch, _two_classes(deep / "data"), tmp_path / "m.safetensors")
    window.actions_.train_from_folder.trigger()
    dialog = settings_dialog(qtbot, window)
    form = dialog.form

    assert dialog.width() <= 640 and dialog.height() <= 480
    assert form.recipe() == DEFAULT_RECIPE
    defaults = [label.text() for label in form.findChildren(QLabel)
                if label.text().startswith("default ")]
    assert defaults == [f"default {DEFAULT_RECIPE.epochs}",
                        f"default {DEFAULT_RECIPE.learning_rate:g}",
                        f"default {round(DEFAULT_RECIPE.val_split * 100)} %",
                        f"default {DEFAULT_RECIPE.seed}"]
    assert QApplication.focusWidget() is form.linear_only

    press(qtbot, Qt.Key.Key_Space)

    assert form.linear_only.isChecked()
    assert not form.epochs.isEnabled() and not form.learning_rate.isEnabled()
    press(qtbot, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is form.val_percent  # the disabled ones are passed
    press(qtbot, Qt.Key.Key_Escape)  # Cancel: nothing trains, nothing is remembered
    qtbot.waitUntil(lambda: window.teach.recipe_dialog is None, timeout=3000)
    assert not asked and window.teach.dialog is None
    assert temp_settings(tmp_path).recipe == DEFAULT_RECIPE


def test_the_learning_rate_takes_numbers_only_and_its_arrows_step_the_first_digit(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(qtbot, tmp_path)
    choose_in_dialogs(monkeypatch, tmp_path, tmp_path / "m.safetensors")
    window.actions_.train_from_folder.trigger()
    rate = settings_dialog(qtbot, window).form.learning_rate
    press(qtbot, Qt.Key.Key_Tab, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is rate

    qtbot.keyClicks(rate, "x-,q")  # each character refused: the default stays
    assert rate.text() == f"{DEFAULT_RECIPE.learning_rate:g}" == "0.0003"
    press(qtbot, Qt.Key.Key_Up)
    assert rate.value() == pytest.approx(4e-4)
    for _ in range(6):
        press(qtbot, Qt.Key.Key_Up)
    assert rate.text() == "0.001"
    press(qtbot, Qt.Key.Key_Down)
    assert rate.text() == "0.0009"
    rate.selectAll()
    qtbot.keyClicks(rate, "5e-9")  # below the range: not taken
    press(qtbot, Qt.Key.Key_Tab)
    assert rate.value() == pytest.approx(9e-4)
    press(qtbot, Qt.Key.Key_Escape)


def test_settings_typed_with_keys_reach_the_worker_and_a_new_window_until_defaults_restored(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _two_classes(tmp_path / "data")
    window = make_window(qtbot, tmp_path)
    asked = _train_requests(window, monkeypatch)
    choose_in_dialogs(monkeypatch, data, tmp_path / "m.safetensors")
    window.actions_.train_from_folder.trigger()
    settings_dialog(qtbot, window)

    press(qtbot, Qt.Key.Key_Tab)
    qtbot.keyClicks(QApplication.focusWidget(), "3")  # epochs
    press(qtbot, Qt.Key.Key_Tab)
    qtbot.keyClicks(QApplication.focusWidget(), "2e-3")  # learning rate
    press(qtbot, Qt.Key.Key_Tab, *[Qt.Key.Key_Up] * 5)  # validation share, 5 points more
    press(qtbot, Qt.Key.Key_Tab)
    qtbot.keyClicks(QApplication.focusWidget(), "42")  # seed
    press(qtbot, Qt.Key.Key_Return)  # Train

    chosen = replace(DEFAULT_RECIPE, epochs=3, learning_rate=2e-3,
                     val_split=DEFAULT_RECIPE.val_split + 0.05, seed=42)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=10_000)
    assert asked[0].recipe == chosen and asked[0].dataset.classes == ("cats", "dogs")
    assert window.teach.dialog is not None
    assert f"Recipe: {chosen.describe()}" in window.teach.dialog.log.toPlainText()
    window.close()

    again = make_window(qtbot, tmp_path)  # the same settings file: a new session
    asked = _train_requests(again, monkeypatch)
    again.actions_.train_from_folder.trigger()
    dialog = settings_dialog(qtbot, again)
    assert _shown(dialog.form) == (False, 3, "0.002",
                                   f"{round(DEFAULT_RECIPE.val_split * 100) + 5} %", 42)

    qtbot.mouseClick(dialog.defaults_button, _Left)

    assert dialog.form.recipe() == DEFAULT_RECIPE
    dialog.form.linear_only.setFocus()
    press(qtbot, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=10_000)
    assert asked[0].recipe == DEFAULT_RECIPE
    assert temp_settings(tmp_path).recipe == DEFAULT_RECIPE


def test_a_hand_edited_settings_file_cannot_ask_for_a_recipe_the_engine_refuses(
        tmp_path: Path) -> None:
    temp_settings(tmp_path).recipe = replace(DEFAULT_RECIPE, epochs=5)
    file = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    for bad in ("1.5", "many"):
        file.setValue("teach_recipe/val_split", bad)
        file.sync()
        assert temp_settings(tmp_path).recipe == DEFAULT_RECIPE
    file.remove("teach_recipe/val_split")
    file.sync()
    assert temp_settings(tmp_path).recipe == replace(DEFAULT_RECIPE, epochs=5)


def test_the_teach_window_closed_with_esc_during_a_training_comes_back_from_the_menu(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Esc closes the Teach window, the training goes on; *Show training results* was
    greyed until a first training ended: its progress and Cancel were out of reach."""
    window = make_window(qtbot, tmp_path)
    asked = _train_requests(window, monkeypatch)  # the training never ends
    choose_in_dialogs(monkeypatch, _two_classes(tmp_path / "data"), tmp_path / "m.safetensors")
    results = window.actions_.training_results
    assert not results.isEnabled()  # nothing trained, nothing training
    window.actions_.train_from_folder.trigger()
    accept_settings(qtbot, window)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=10_000)
    dialog = window.teach.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)

    press(qtbot, Qt.Key.Key_Escape)

    assert not dialog.isVisible() and window.teach.running
    assert results.isEnabled()
    results.trigger()
    assert dialog.isVisible()
    assert dialog.cancel_button.isVisible() and dialog.cancel_button.isEnabled()


def test_a_training_started_after_a_refused_one_has_the_keyboard_on_cancel(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Teach window kept the focus where the last run left it: on Close, so Return or
    Space during the next training closed its window instead of cancelling it."""
    window = make_window(qtbot, tmp_path)
    asked = _train_requests(window, monkeypatch)
    lonely = tmp_path / "lonely"
    (lonely / "cats").mkdir(parents=True)
    for i in range(2):
        write_image(lonely / "cats" / f"{i}.png", (200 - 40 * i, 40, 40))
    choose_in_dialogs(monkeypatch, lonely, tmp_path / "m.safetensors")
    window.actions_.train_from_folder.trigger()
    accept_settings(qtbot, window)
    dialog = window.teach.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "found 1 (cats)" in dialog.status.text(), timeout=10_000)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)
    assert QApplication.focusWidget() is dialog.close_button  # Cancel went with the error
    press(qtbot, Qt.Key.Key_Return)  # Close
    assert not dialog.isVisible()

    choose_in_dialogs(monkeypatch, _two_classes(tmp_path / "data"), tmp_path / "m.safetensors")
    window.actions_.train_from_folder.trigger()
    accept_settings(qtbot, window)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=10_000)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=3000)

    assert QApplication.focusWidget() is dialog.cancel_button
    press(qtbot, Qt.Key.Key_Space)
    assert "Stopping" in dialog.status.text() and dialog.isVisible()


def test_copies_within_a_class_are_said_before_training_not_dropped_in_silence(
        qtbot: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A class of 3 files, one a copy, trained on 2 images, and nothing said where the third
    went: the results' counts disagreed with the folder's and the Teach pane's."""
    window = make_window(qtbot, tmp_path)
    asked = _train_requests(window, monkeypatch)
    data = _two_classes(tmp_path / "data")
    shutil.copyfile(data / "cats" / "0.png", data / "cats" / "0 (copy).png")
    choose_in_dialogs(monkeypatch, data, tmp_path / "m.safetensors")
    window.actions_.train_from_folder.trigger()
    accept_settings(qtbot, window)
    qtbot.waitUntil(lambda: len(asked) == 1, timeout=10_000)
    dialog = window.teach.dialog
    assert dialog is not None

    note = ("1 file is a copy of an image already in the same class: each image counts once, "
            "so that class trains on fewer images than its files")
    assert note in dialog.log.toPlainText().splitlines()
    assert window.messages.texts()[-1] == note
