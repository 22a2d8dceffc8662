"""User preferences persisted with QSettings, behind typed accessors.

Tests inject a QSettings over a temporary ini file, so they never read or write the
user's real preferences.
"""

from __future__ import annotations

from dataclasses import fields, replace

from PySide6.QtCore import QByteArray, QSettings

from desktop_app.core.errors import InvalidArgument
from desktop_app.core.teach_recipe import DEFAULT_RECIPE, Recipe
from desktop_app.inference.catalog import CAM_METHODS, DEFAULT_CAM_METHOD

DEFAULT_TOPK = 5
DEFAULT_OPACITY = 0.5
DEFAULT_COLORMAP = "jet"
THEMES = ("system", "light", "dark")
_RECIPE_GROUP = "teach_recipe"


def open_settings(path: str | None = None) -> QSettings:
    """The app's settings: an ini file at ``path`` when given, else the platform default."""
    if path is not None:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                     "ResNetLens", "resnet-lens")


class Settings:
    """Typed view over a QSettings store; values are clamped on the way out, so a
    hand-edited or stale file cannot put the window in an impossible state."""

    def __init__(self, store: QSettings) -> None:
        self._store = store

    def _str(self, key: str, default: str) -> str:
        value = self._store.value(key, default)
        return value if isinstance(value, str) and value else default

    def _int(self, key: str, default: int, low: int, high: int) -> int:
        try:
            value = int(self._store.value(key, default))
        except (TypeError, ValueError):
            value = default
        return min(max(value, low), high)

    def _bool(self, key: str, default: bool) -> bool:
        value = self._store.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    @property
    def model(self) -> str | None:
        return self._str("model", "") or None

    @model.setter
    def model(self, value: str | None) -> None:
        self._store.setValue("model", value or "")

    @property
    def device(self) -> str:
        return self._str("device", "auto")

    @device.setter
    def device(self, value: str) -> None:
        self._store.setValue("device", value)

    @property
    def weights(self) -> str | None:
        return self._str("weights", "") or None

    @weights.setter
    def weights(self, value: str | None) -> None:
        self._store.setValue("weights", value or "")

    @property
    def labels(self) -> str | None:
        return self._str("labels", "") or None

    @labels.setter
    def labels(self, value: str | None) -> None:
        self._store.setValue("labels", value or "")

    @property
    def cam_layer(self) -> str | None:
        return self._str("cam_layer", "") or None

    @cam_layer.setter
    def cam_layer(self, value: str | None) -> None:
        self._store.setValue("cam_layer", value or "")

    @property
    def cam_method(self) -> str:
        value = self._str("cam_method", DEFAULT_CAM_METHOD)
        return value if value in CAM_METHODS else DEFAULT_CAM_METHOD

    @cam_method.setter
    def cam_method(self, value: str) -> None:
        self._store.setValue("cam_method", value)

    @property
    def topk(self) -> int:
        return self._int("topk", DEFAULT_TOPK, 1, 10)

    @topk.setter
    def topk(self, value: int) -> None:
        self._store.setValue("topk", int(value))

    @property
    def opacity(self) -> float:
        return self._int("opacity_percent", round(DEFAULT_OPACITY * 100), 0, 100) / 100.0

    @opacity.setter
    def opacity(self, value: float) -> None:
        self._store.setValue("opacity_percent", round(value * 100))

    @property
    def colormap(self) -> str:
        return self._str("colormap", DEFAULT_COLORMAP)

    @colormap.setter
    def colormap(self, value: str) -> None:
        self._store.setValue("colormap", value)

    @property
    def camera(self) -> int:
        return self._int("camera", 0, 0, 63)

    @camera.setter
    def camera(self, value: int) -> None:
        self._store.setValue("camera", int(value))

    @property
    def mirror(self) -> bool:
        return self._bool("mirror", True)

    @mirror.setter
    def mirror(self, value: bool) -> None:
        self._store.setValue("mirror", bool(value))

    @property
    def theme(self) -> str:
        value = self._str("theme", "system")
        return value if value in THEMES else "system"

    @theme.setter
    def theme(self, value: str) -> None:
        self._store.setValue("theme", value)

    @property
    def last_dir(self) -> str:
        return self._str("last_dir", "")

    @last_dir.setter
    def last_dir(self, value: str) -> None:
        self._store.setValue("last_dir", value)

    @property
    def teach_project(self) -> str:
        """The folder of the teaching project last open ("" for none)."""
        return self._str("teach_project", "")

    @teach_project.setter
    def teach_project(self, value: str) -> None:
        self._store.setValue("teach_project", value)

    @property
    def recipe(self) -> Recipe:
        """The training settings last used; the default recipe where a value is missing,
        and altogether where a stored value is not one the recipe takes."""
        changes: dict[str, object] = {}
        for field in fields(Recipe):
            key = f"{_RECIPE_GROUP}/{field.name}"
            if not self._store.contains(key):
                continue
            kind = type(getattr(DEFAULT_RECIPE, field.name))
            try:
                changes[field.name] = (self._bool(key, False) if kind is bool
                                       else kind(self._store.value(key)))
            except (TypeError, ValueError):
                return DEFAULT_RECIPE
        try:
            return replace(DEFAULT_RECIPE, **changes)
        except InvalidArgument:
            return DEFAULT_RECIPE

    @recipe.setter
    def recipe(self, value: Recipe) -> None:
        # Only what differs from the default is stored: when a later version improves a
        # default, people who never changed that setting get the new one.
        for field in fields(Recipe):
            key = f"{_RECIPE_GROUP}/{field.name}"
            if getattr(value, field.name) == getattr(DEFAULT_RECIPE, field.name):
                self._store.remove(key)
            else:
                self._store.setValue(key, getattr(value, field.name))

    @property
    def geometry(self) -> QByteArray | None:
        value = self._store.value("window/geometry")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._store.setValue("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        """The main window's docks (the Teach pane: shown or not, its height)."""
        value = self._store.value("window/state")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._store.setValue("window/state", value)

    def sync(self) -> None:
        self._store.sync()
