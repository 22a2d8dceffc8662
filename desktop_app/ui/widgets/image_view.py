"""The picture: the photo, the Grad-CAM layer over it, zoom, fit and panning.

Both layers are pixmaps stretched by their item transforms to image coordinates. The photo
is kept at *render size* (the size the image covers on screen, never more than the image
itself), so a big photo is scaled once per zoom level, not at every paint; the overlay
comes at whatever size its maker chose (the window keeps it small: a CAM is smooth).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QImage,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsPixmapItem, QGraphicsScene, QGraphicsView, QWidget

from desktop_app.ui.qt_compat import emit

ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
PLACEHOLDER = ("Open an image (Ctrl+O) or a folder, drop files here,\n"
               "paste (Ctrl+V), or start a camera.")


class ImageView(QGraphicsView):
    render_size_changed = Signal(int, int)
    step_requested = Signal(int)  # -1 / +1: previous / next image
    # The picture moved or changed size on screen (a pan, a zoom, a resize, a new image):
    # what lies on it (the map's legend) may have to move too.
    picture_moved = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # Drops go to the main window, the one drop target.
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)
        self._photo_item = QGraphicsPixmapItem()
        self._photo_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item = QGraphicsPixmapItem()
        self._overlay_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._overlay_item.setZValue(1)
        self.scene().addItem(self._photo_item)
        self.scene().addItem(self._overlay_item)
        self._image: QImage | None = None
        self.empty_text = PLACEHOLDER  # drawn when there is no image
        self._photo_size = QSize()
        self._fit = True
        self._overlay_visible = True
        self._last_render = QSize()
        # Zooming and resizing fire many events; the sharp re-render waits for a pause.
        self._settle = QTimer(self, singleShot=True, interval=60)
        self._settle.timeout.connect(self._on_settled)

    # -- content ---------------------------------------------------------------------------
    @property
    def image_size(self) -> QSize:
        return QSize() if self._image is None else self._image.size()

    def set_image(self, image: QImage | None) -> None:
        """Show ``image`` (or nothing). The view keeps its zoom while the size stays the
        same, which is what a live source needs; a new size re-fits."""
        new_size = QSize() if image is None else image.size()
        resized = new_size != self.image_size
        self._image = image
        self.empty_text = PLACEHOLDER
        self.clear_overlay()
        if image is None:
            self._photo_item.setPixmap(QPixmap())
            self._photo_size = QSize()
            self.scene().setSceneRect(QRectF())
            self.viewport().update()
            return
        self.scene().setSceneRect(QRectF(0, 0, image.width(), image.height()))
        if resized:
            self._fit = True
            self._apply_fit()
        self._render_photo(force=True)
        emit(self.picture_moved)

    def show_unreadable(self, message: str) -> None:
        """No image, because the one chosen cannot be read: say so where it would be,
        rather than invite the user to open an image."""
        self.set_image(None)
        self.empty_text = f"This file cannot be shown:\n{message}"

    def set_overlay(self, overlay: QImage | None) -> None:
        """The CAM layer at any size; it is stretched over the whole image."""
        if overlay is None or self._image is None:
            self.clear_overlay()
            return
        self._overlay_item.setPixmap(QPixmap.fromImage(overlay))
        self._overlay_item.setTransform(_stretch(overlay.size(), self._image.size()))
        self._overlay_item.setVisible(self._overlay_visible)

    def clear_overlay(self) -> None:
        self._overlay_item.setPixmap(QPixmap())

    def has_overlay(self) -> bool:
        return not self._overlay_item.pixmap().isNull()

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_overlay_visible(self, visible: bool) -> None:
        self._overlay_visible = visible
        self._overlay_item.setVisible(visible)

    def room(self) -> QRect:
        """The view's area that shows the picture (its viewport), in the view's
        coordinates."""
        return self.viewport().geometry()

    def picture_rect(self) -> QRect:
        """Where the picture lies on screen, in the view's coordinates (empty: none)."""
        if self._image is None:
            return QRect()
        shown = self.mapFromScene(self.sceneRect()).boundingRect()
        return shown.translated(self.viewport().pos())

    def render_size(self) -> QSize:
        """Device pixels the image covers at the current zoom, capped at the image size."""
        if self._image is None:
            return QSize()
        scale = self.transform().m11() * self.devicePixelRatioF()
        w, h = self._image.width(), self._image.height()
        if scale >= 1.0:
            return QSize(w, h)
        return QSize(max(1, math.ceil(w * scale)), max(1, math.ceil(h * scale)))

    # -- zoom ------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    @property
    def fit_mode(self) -> bool:
        return self._fit

    def zoom_in(self) -> None:
        self._zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        self._zoom_by(1 / ZOOM_STEP)

    def fit(self) -> None:
        self._fit = True
        self._apply_fit()
        self._settle.start()

    def actual_size(self) -> None:
        self._fit = False
        self.setTransform(QTransform())
        self._settle.start()
        emit(self.picture_moved)

    def _zoom_by(self, factor: float) -> None:
        if self._image is None:
            return
        target = min(max(self.zoom * factor, MIN_ZOOM), MAX_ZOOM)
        self._fit = False
        self.setTransform(QTransform.fromScale(target, target))
        self._settle.start()
        emit(self.picture_moved)

    def _apply_fit(self) -> None:
        if self._image is None:
            return
        rect = self.viewport().rect()
        if rect.width() < 2 or rect.height() < 2:
            return
        scale = min(rect.width() / self._image.width(), rect.height() / self._image.height())
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(self._image.width() / 2, self._image.height() / 2)
        emit(self.picture_moved)

    def _on_settled(self) -> None:
        self._render_photo(force=False)
        size = self.render_size()
        if size != self._last_render and not size.isEmpty():
            self._last_render = size
            emit(self.render_size_changed, size.width(), size.height())

    def _render_photo(self, force: bool) -> None:
        """Scale the photo for the current zoom once, instead of at every paint."""
        if self._image is None:
            return
        size = self.render_size()
        if not force and size == self._photo_size:
            return
        if size == self._image.size():
            pixmap = QPixmap.fromImage(self._image)
        else:
            pixmap = QPixmap.fromImage(self._image.scaled(
                size, Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        self._photo_item.setPixmap(pixmap)
        self._photo_item.setTransform(_stretch(size, self._image.size()))
        self._photo_size = size

    # -- events ----------------------------------------------------------------------------
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._fit:
            self._apply_fit()
            self._settle.start()
        emit(self.picture_moved)

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        emit(self.picture_moved)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            if steps:
                self._zoom_by(ZOOM_STEP ** steps)
            event.accept()
            return
        super().wheelEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.modifiers() == Qt.KeyboardModifier.NoModifier:
            if event.key() == Qt.Key.Key_Left:
                emit(self.step_requested, -1)
                return
            if event.key() == Qt.Key.Key_Right:
                emit(self.step_requested, 1)
                return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._image is None:
            painter = QPainter(self.viewport())
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.empty_text)
            painter.end()


def _stretch(source: QSize, target: QSize) -> QTransform:
    return QTransform.fromScale(target.width() / source.width(),
                                target.height() / source.height())
