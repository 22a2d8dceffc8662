"""Camera controls: which camera, start/stop, freeze and mirror."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QPushButton,
    QToolButton,
    QWidget,
)

from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.screen import LiveKind

NO_CAMERA = "No camera found"


class CameraPanel(QGroupBox):
    start_requested = Signal(int)  # camera index
    stop_requested = Signal()
    refresh_requested = Signal()
    freeze_toggled = Signal(bool)
    mirror_toggled = Signal(bool)

    def __init__(self, mirror: bool = True, parent: QWidget | None = None) -> None:
        super().__init__("Camera", parent)
        self.combo = QComboBox()
        self.combo.setToolTip("Cameras found on this computer")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.refresh_button = QToolButton(text="↻")
        self.refresh_button.setToolTip("Look for cameras again")
        self.start_button = QPushButton("Start")
        self.start_button.setCheckable(True)
        self.freeze_box = QCheckBox("Freeze (Space)")
        self.mirror_box = QCheckBox("Mirror")
        self.mirror_box.setChecked(mirror)

        # Three narrow rows rather than two wide ones: the side panel stays narrow.
        layout = QGridLayout(self)
        layout.addWidget(self.combo, 0, 0, 1, 2)
        layout.addWidget(self.refresh_button, 0, 2)
        layout.addWidget(self.start_button, 1, 0, 1, 3)
        layout.addWidget(self.freeze_box, 2, 0)
        layout.addWidget(self.mirror_box, 2, 1, 1, 2)
        layout.setColumnStretch(0, 1)

        self.refresh_button.clicked.connect(self.refresh_requested)
        self.start_button.clicked.connect(self._on_start_clicked)
        self.freeze_box.toggled.connect(self.freeze_toggled)
        self.mirror_box.toggled.connect(self.mirror_toggled)
        self.set_cameras(None, 0)
        self.set_live(None)

    def set_cameras(self, cameras: list[tuple[int, str]] | None, preferred: int) -> None:
        """``None`` while probing; an empty list disables starting, with a reason."""
        self.combo.clear()
        if cameras is None:
            self.combo.addItem("Looking for cameras…", -1)
        elif not cameras:
            self.combo.addItem(NO_CAMERA, -1)
        for index, name in cameras or ():
            self.combo.addItem(name, index)
            if index == preferred:
                self.combo.setCurrentIndex(self.combo.count() - 1)
        usable = bool(cameras)
        self.combo.setEnabled(usable)
        if not self.start_button.isChecked():
            self.start_button.setEnabled(usable)
            self.start_button.setToolTip("" if usable else "Camera unavailable")

    def current_camera(self) -> int | None:
        index = self.combo.currentData()
        return None if index is None or index < 0 else int(index)

    def set_live(self, kind: LiveKind | None) -> None:
        """What runs now: a camera, a video (freeze applies to both) or nothing."""
        camera = kind is LiveKind.CAMERA
        self.start_button.blockSignals(True)
        self.start_button.setChecked(camera)
        self.start_button.setText("Stop" if camera else "Start")
        self.start_button.blockSignals(False)
        self.start_button.setEnabled(camera or self.current_camera() is not None)
        self.freeze_box.setEnabled(kind is not None)
        # A video plays as recorded: mirroring is for the selfie view of a camera.
        video = kind is LiveKind.VIDEO
        self.mirror_box.setEnabled(not video)
        self.mirror_box.setToolTip("Videos play as recorded; mirroring applies to cameras"
                                   if video else "Show the camera like a mirror")
        if kind is None:
            self.set_frozen(False)

    def set_frozen(self, frozen: bool) -> None:
        self.freeze_box.blockSignals(True)
        self.freeze_box.setChecked(frozen)
        self.freeze_box.blockSignals(False)

    @Slot(bool)
    def _on_start_clicked(self, checked: bool) -> None:
        camera = self.current_camera()
        if checked and camera is not None:
            emit(self.start_requested, camera)
        elif checked:
            self.start_button.setChecked(False)
        else:
            emit(self.stop_requested)
