"""Training settings, asked before a training starts: the linear probe alone or the default
recipe, fine-tuning epochs, learning rate, validation split and seed, each with the
engine's default beside it (read from ``Recipe``, never retyped here).

Spin boxes with ranges: a value the recipe cannot take cannot be typed.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

from PySide6.QtGui import QPalette, QValidator
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.teach_recipe import DEFAULT_RECIPE, Recipe

# What the window lets a person choose; the CLI takes any value the recipe does.
MAX_EPOCHS = 1000
LEARNING_RATES = (1e-6, 1.0)
VAL_PERCENT = (5, 50)
MAX_SEED = 2**31 - 1
_PERCENT_SUFFIX = " %"
# A number as it is being typed: digits, a point, an exponent (3e-4).
_PARTIAL_NUMBER = re.compile(r"\d*\.?\d*(e[-+]?\d*)?", re.IGNORECASE)


class LearningRateBox(QDoubleSpinBox):
    """A learning rate as people write it (0.0003 or 3e-4). The arrows step the leading
    digit, 1 2 … 9 then the next power of ten (3e-4 → 4e-4, 9e-4 → 0.001), as a rate is
    tuned by factors rather than by a fixed amount."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)  # the value is kept as typed; the text shows it briefly
        self.setRange(*LEARNING_RATES)

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable
        if _PARTIAL_NUMBER.fullmatch(text.strip()):
            return QValidator.State.Intermediate  # may become a rate in range (5 → 5e-4)
        return QValidator.State.Invalid

    def stepBy(self, steps: int) -> None:
        exponent = math.floor(math.log10(self.value()))
        digit = round(self.value() / 10**exponent)
        for _ in range(abs(steps)):
            digit += 1 if steps > 0 else -1
            if digit == 10:
                digit, exponent = 1, exponent + 1
            elif digit == 0:
                digit, exponent = 9, exponent - 1
        self.setValue(float(f"{digit}e{exponent}"))  # clamped to the range
        self.selectAll()


def _percent(fraction: float) -> int:
    return round(fraction * 100)


def _percent_text(fraction: float) -> str:
    return f"{_percent(fraction)}{_PERCENT_SUFFIX}"  # as the spin box writes it


def _default_label(text: str) -> QLabel:
    label = QLabel(f"default {text}")
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    return label


class RecipeForm(QWidget):
    """The settings of one recipe; ``recipe()`` is what they say now."""

    def __init__(self, recipe: Recipe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.linear_only = QCheckBox("&Linear probe only (fast: no fine-tuning)")
        self.linear_only.setToolTip(
            "Fit only a linear head on the frozen features: the fastest, usually less "
            "accurate than the default recipe, which then fine-tunes layer4 and the head")
        self.epochs = QSpinBox(minimum=1, maximum=MAX_EPOCHS)
        self.epochs.setToolTip("Fine-tuning epochs at most: training stops sooner once "
                               "validation stops improving")
        self.learning_rate = LearningRateBox()
        self.learning_rate.setToolTip("Fine-tuning learning rate (AdamW); the arrows step "
                                      "the first digit")
        self.val_percent = QSpinBox(minimum=VAL_PERCENT[0], maximum=VAL_PERCENT[1],
                                    suffix=_PERCENT_SUFFIX)
        self.val_percent.setToolTip("Share of each class held out to measure accuracy and "
                                    "to stop early")
        self.seed = QSpinBox(minimum=0, maximum=MAX_SEED)
        self.seed.setToolTip("The same seed and images give the same model")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(self.linear_only, 0, 0, 1, 3)
        self._tuning: list[QWidget] = []
        rows = (("Fine-tuning &epochs, at most", self.epochs, str(DEFAULT_RECIPE.epochs)),
                ("Learning &rate", self.learning_rate, f"{DEFAULT_RECIPE.learning_rate:g}"),
                ("&Validation images", self.val_percent, _percent_text(DEFAULT_RECIPE.val_split)),
                ("&Seed", self.seed, str(DEFAULT_RECIPE.seed)))
        for row, (text, box, shown) in enumerate(rows, start=1):
            label = QLabel(text)
            label.setBuddy(box)
            default_label = _default_label(shown)
            grid.addWidget(label, row, 0)
            grid.addWidget(box, row, 1)
            grid.addWidget(default_label, row, 2)
            if box in (self.epochs, self.learning_rate):
                self._tuning += [label, box, default_label]
        grid.setColumnStretch(2, 1)
        self.linear_only.toggled.connect(self._on_linear_only_toggled)
        self._base = recipe
        self.set_recipe(recipe)

    def set_recipe(self, recipe: Recipe) -> None:
        self._base = recipe  # what the form does not show (batch size, patience) comes from it
        self.linear_only.setChecked(recipe.linear_only)
        self.epochs.setValue(recipe.epochs)
        self.learning_rate.setValue(recipe.learning_rate)
        self.val_percent.setValue(_percent(recipe.val_split))
        self.seed.setValue(recipe.seed)
        self._on_linear_only_toggled(recipe.linear_only)

    def recipe(self) -> Recipe:
        return replace(self._base, linear_only=self.linear_only.isChecked(),
                       epochs=self.epochs.value(), learning_rate=self.learning_rate.value(),
                       val_split=self.val_percent.value() / 100, seed=self.seed.value())

    def _on_linear_only_toggled(self, linear_only: bool) -> None:
        for widget in self._tuning:  # epochs and rate are fine-tuning's
            widget.setEnabled(not linear_only)


class RecipeDialog(QDialog):
    """``text`` says what will be taught; *Train* accepts, *Restore defaults* resets the
    form to the engine's recipe."""

    def __init__(self, text: str, recipe: Recipe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Training settings")
        summary = QLabel(text)
        summary.setWordWrap(True)
        self.form = RecipeForm(recipe)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel
                                        | QDialogButtonBox.StandardButton.RestoreDefaults)
        self.train_button = self.buttons.addButton(
            "&Train", QDialogButtonBox.ButtonRole.AcceptRole)
        self.defaults_button = self.buttons.button(
            QDialogButtonBox.StandardButton.RestoreDefaults)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.clicked.connect(self._on_clicked)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(self.form)
        layout.addWidget(self.buttons)
        self.train_button.setDefault(True)  # Return trains; once in the dialog, or it is lost
        self.form.linear_only.setFocus()

    def recipe(self) -> Recipe:
        return self.form.recipe()

    def _on_clicked(self, button: QAbstractButton) -> None:
        if button is self.defaults_button:
            self.form.set_recipe(DEFAULT_RECIPE)
