"""The window's menus and actions, with their keyboard shortcuts.

Actions are created here and wired by the window; Help > Shortcuts lists them, so every
shortcut documented there is one that exists.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QMainWindow,
    QWidget,
)

from desktop_app.ui.settings import THEMES
from desktop_app.ui.widgets.predictions_panel import COMPUTE_MAP_KEY, FOLLOW_TOP_KEY

_Std = QKeySequence.StandardKey


@dataclass
class WindowActions:
    open_files: QAction
    open_folder: QAction
    open_video: QAction
    paste: QAction
    save_overlay: QAction
    save_map: QAction
    copy_predictions: QAction
    classify_folder: QAction
    classify_and_write: QAction
    export_results: QAction
    choose_weights: QAction
    quit: QAction
    toggle_overlay: QAction
    zoom_in: QAction
    zoom_out: QAction
    fit: QAction
    actual_size: QAction
    next_image: QAction
    previous_image: QAction
    more_classes: QAction
    fewer_classes: QAction
    follow_top: QAction
    score_map: QAction
    compare: QAction
    cancel_job: QAction
    compute_map: QAction
    train_from_folder: QAction
    training_results: QAction
    camera: QAction
    freeze: QAction
    mirror: QAction
    stop_live: QAction
    refresh_cameras: QAction
    teach: QAction
    new_teach_project: QAction
    open_teach_project: QAction
    shortcuts: QAction
    about: QAction
    themes: dict[str, QAction]

    def all(self) -> list[QAction]:
        return [getattr(self, f.name) for f in fields(self) if f.name != "themes"]


# Keys that mean "another image" here, but "another value" to a combo box, slider or spin
# box; Home/End (first/last value) only to combo boxes and sliders: in a spin box they move
# the text cursor.
_PAGE_KEYS = frozenset({Qt.Key.Key_PageUp, Qt.Key.Key_PageDown})
_END_KEYS = frozenset({Qt.Key.Key_Home, Qt.Key.Key_End})


class NavigationKeyGuard(QObject):
    """Keeps navigation keys from changing the window's controls.

    With several images PgUp/PgDn are shortcuts and never reach the focused control; with
    one image (or a video) their actions are disabled, Qt then hands the key to the control,
    and a model list would switch models. Installed on the application, so that every
    control of ``window``, present or future, is covered."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(watched, QWidget):
            return False
        assert isinstance(event, QKeyEvent)
        key = event.key()
        if isinstance(watched, (QComboBox, QAbstractSlider)):
            guarded = key in _PAGE_KEYS or key in _END_KEYS
        elif isinstance(watched, QAbstractSpinBox):
            guarded = key in _PAGE_KEYS
        else:
            return False
        # Swallowed, not ignored: an ignored key would go on to the control's parents.
        return guarded and watched.window() is self._window


def install_navigation_key_guard(window: QMainWindow) -> NavigationKeyGuard:
    guard = NavigationKeyGuard(window)
    app = QApplication.instance()
    if app is not None:
        # A child of the window: Qt drops the filter when the window is destroyed.
        app.installEventFilter(guard)
    return guard


def _action(window: QMainWindow, text: str, *keys: QKeySequence | str | _Std,
            checkable: bool = False, tip: str = "") -> QAction:
    action = QAction(text, window)
    sequences: list[QKeySequence] = []
    for key in keys:
        # A standard key's primary binding (the platform's usual one, e.g. Ctrl+O).
        sequences.append(QKeySequence(key))
    action.setShortcuts(sequences)
    action.setCheckable(checkable)
    if tip:
        action.setStatusTip(tip)
    # Window-wide, so they work whichever pane has the focus.
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    window.addAction(action)
    return action


def build_actions(window: QMainWindow) -> WindowActions:
    a = WindowActions(
        open_files=_action(window, "&Open images…", _Std.Open),
        open_folder=_action(window, "Open &folder…", "Ctrl+Shift+O"),
        open_video=_action(window, "Open &video…", "Ctrl+Alt+O"),
        paste=_action(window, "&Paste image or files", _Std.Paste),
        save_overlay=_action(window, "&Save overlay as PNG…", _Std.Save),
        save_map=_action(window, "Save raw &map (.npy)…", "Ctrl+Shift+S"),
        copy_predictions=_action(window, "&Copy predictions", _Std.Copy),
        classify_folder=_action(window, "Classify all &images in the list", "Ctrl+R",
                                tip="Classify every opened image, e.g. a whole folder"),
        classify_and_write=_action(
            window, "Classify all and &write overlays…", "Ctrl+Shift+R",
            tip="Classify every opened image and write its results (JSON lines) and CAM "
                "overlays to a folder, as resnet-lens predict --out --cam-dir does"),
        export_results=_action(window, "&Export results as CSV or JSON…", "Ctrl+E"),
        choose_weights=_action(window, "Choose &weights file…", "Ctrl+Shift+W"),
        quit=_action(window, "&Quit", _Std.Quit),
        toggle_overlay=_action(window, "Show &overlay", "O", checkable=True,
                               tip="Switch between the original image and the Grad-CAM overlay"),
        zoom_in=_action(window, "Zoom &in", "+", "=", _Std.ZoomIn),
        zoom_out=_action(window, "Zoom &out", "-", _Std.ZoomOut),
        fit=_action(window, "&Fit to window", "F", "Ctrl+0"),
        actual_size=_action(window, "&Actual size", "1", "Ctrl+1"),
        next_image=_action(window, "&Next image", "PgDown"),
        previous_image=_action(window, "&Previous image", "PgUp"),
        more_classes=_action(window, "&More classes (top-k + 1)", "]"),
        fewer_classes=_action(window, "F&ewer classes (top-k − 1)", "["),
        # Always enabled, so that T never reaches a focused list as a search letter.
        follow_top=_action(window, "Follow the &top class", FOLLOW_TOP_KEY,
                           tip="Release a pinned class: the map shows each prediction's "
                               "top class"),
        score_map=_action(window, "&Score this map", "Ctrl+M",
                          tip="Deletion, insertion and ROAD of the map on screen"),
        compare=_action(window, "&Compare methods…", "Ctrl+Shift+M",
                        tip="Every CAM method for each top-k class, scored and ranked"),
        # Esc, as stop_live: never both enabled (the window sees to it), so a key press is
        # never ambiguous; the jobs are cancelled first (a frozen frame's scoring, a folder
        # run), the camera once none runs.
        cancel_job=_action(window, "C&ancel the map, scoring or folder run in progress", "Esc",
                           tip="Stop a slow method's map (Score-CAM …) or Score this map; "
                               "with neither running, the folder run (results so far are "
                               "kept)"),
        compute_map=_action(window, "Compute the cancelled &map", COMPUTE_MAP_KEY,
                            tip="Compute the slow method's map that was cancelled on the "
                                "image shown"),
        train_from_folder=_action(
            window, "Train from &folder…",
            tip="Teach the model loaded now your own classes: a folder with one sub-folder "
                "of images per class"),
        training_results=_action(window, "Show training &results",
                                 tip="The last training's accuracy, mistakes and maps, or "
                                     "the progress of the one running"),
        camera=_action(window, "Start/stop &camera", "Ctrl+K", checkable=True),
        freeze=_action(window, "&Freeze frame", "Space", checkable=True),
        mirror=_action(window, "&Mirror camera", "M", checkable=True),
        stop_live=_action(window, "&Stop camera or video", "Esc"),
        refresh_cameras=_action(window, "&Look for cameras again"),
        teach=_action(window, "Show or hide the &Teach pane", "Ctrl+T",
                      tip="Collect example images of your own classes to teach a model"),
        new_teach_project=_action(window, "&New teaching project…"),
        open_teach_project=_action(window, "&Open teaching project…"),
        shortcuts=_action(window, "&Keyboard shortcuts", "F1"),
        about=_action(window, "&About ResNet Lens"),
        themes={},
    )
    a.toggle_overlay.setChecked(True)
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    for action in (a.open_files, a.open_folder, a.open_video, a.paste):
        file_menu.addAction(action)
    file_menu.addSeparator()
    for action in (a.save_overlay, a.save_map, a.copy_predictions):
        file_menu.addAction(action)
    file_menu.addSeparator()
    file_menu.addAction(a.classify_folder)
    file_menu.addAction(a.classify_and_write)
    file_menu.addAction(a.export_results)
    file_menu.addSeparator()
    file_menu.addAction(a.choose_weights)
    file_menu.addSeparator()
    file_menu.addAction(a.quit)

    view_menu = bar.addMenu("&View")
    for action in (a.toggle_overlay, a.zoom_in, a.zoom_out, a.fit, a.actual_size):
        view_menu.addAction(action)
    view_menu.addSeparator()
    for action in (a.next_image, a.previous_image, a.more_classes, a.fewer_classes,
                   a.follow_top):
        view_menu.addAction(action)
    view_menu.addSeparator()
    theme_menu = view_menu.addMenu("&Theme")
    group = QActionGroup(window)
    for theme in THEMES:
        action = QAction(theme.capitalize(), window, checkable=True)
        group.addAction(action)
        theme_menu.addAction(action)
        a.themes[theme] = action

    explain_menu = bar.addMenu("E&xplain")
    explain_menu.addAction(a.score_map)
    explain_menu.addAction(a.compare)
    explain_menu.addAction(a.cancel_job)
    explain_menu.addAction(a.compute_map)

    camera_menu = bar.addMenu("&Camera")
    for action in (a.camera, a.freeze, a.mirror, a.stop_live, a.refresh_cameras):
        camera_menu.addAction(action)

    teach_menu = bar.addMenu("&Teach")
    for action in (a.teach, a.new_teach_project, a.open_teach_project):
        teach_menu.addAction(action)
    teach_menu.addSeparator()
    teach_menu.addAction(a.train_from_folder)
    teach_menu.addAction(a.training_results)

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(a.shortcuts)
    help_menu.addAction(a.about)
    return a
