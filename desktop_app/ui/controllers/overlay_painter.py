"""Draws the selected class's map over the photo, at display size, only when something
it depends on changed."""

from __future__ import annotations

from typing import Any

from desktop_app.ui.state.cam_choice import method_title
from desktop_app.ui.state.overlay_layer import DIM_UNSEEN, cam_rgba
from desktop_app.ui.state.screen import ScreenState
from desktop_app.ui.widgets.controls_panel import OverlayControls
from desktop_app.ui.widgets.image_view import ImageView
from desktop_app.ui.widgets.map_legend import MapLegend
from desktop_app.ui.widgets.qt_image import rgba_to_qimage

# A CAM is a smooth upsampled grid: computed for at most this many pixels a side and
# stretched by Qt, it looks the same and costs a few ms even for a live source.
OVERLAY_MAX_SIDE = 400


class OverlayPainter:
    def __init__(self, view: ImageView, controls: OverlayControls, state: ScreenState) -> None:
        self._view = view
        self._controls = controls
        self._state = state
        self._key: tuple[Any, ...] | None = None
        # On the view, not its viewport: the view scrolls the viewport's children with the
        # picture (on a pan, a zoom or a smaller window), which carried it out of sight.
        self.legend = MapLegend(view)
        self._legend_key: tuple[str, tuple[str, str]] | None = None
        view.picture_moved.connect(self._place_legend)

    def _place_legend(self) -> None:
        """Beside the picture where the view has room, else over its corner."""
        self.legend.place(self._view.room(), self._view.picture_rect())

    def invalidate(self) -> None:
        """A new prediction: draw again even if it looks like the last one."""
        self._key = None

    def render(self) -> None:
        state = self._state
        if not state.has_map:
            self._view.clear_overlay()
            self.legend.hide()
            self._key = None
            return
        prediction, index = state.prediction, state.selected
        assert prediction is not None and prediction.cams is not None and index is not None
        size = self._view.render_size()
        if size.isEmpty():
            return
        scale = min(1.0, OVERLAY_MAX_SIDE / max(size.width(), size.height()))
        width, height = max(1, round(size.width() * scale)), max(1, round(size.height() * scale))
        colormap, opacity = self._controls.colormap, self._controls.opacity
        key = (id(prediction), index, width, height, colormap, opacity)
        if key == self._key:
            return
        from desktop_app.core.colormaps import lut

        cam = prediction.cams.at_size(index, width, height)
        table = lut(colormap)
        self._view.set_overlay(rgba_to_qimage(cam_rgba(cam, table, opacity, DIM_UNSEEN)))
        label = next((s.label for s in prediction.topk if s.index == index), str(index))
        lines = (f"{label} (class {index})",
                 f"{method_title(prediction.cam_method)} · {prediction.cam_layer or ''}")
        if (colormap, lines) != self._legend_key:  # live frames mostly keep their legend
            self.legend.set_legend(table, *lines)
            self._legend_key = (colormap, lines)
        self.legend.setVisible(self._view.overlay_visible)
        self._key = key
