"""The status bar's permanent part: model, device, per-stage latency, frames per second,
and the progress of a folder run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_app.ui.widgets.job_progress import JobProgress

# In pipeline order, which is also the order they go in where the status bar is short of
# room (the least telling first); the total stays.
STAGES = ("decode", "preprocess", "forward", "cam")
LATENCY_TIP = "Milliseconds per stage of the last prediction"


def map_part(done: int, total: int) -> str:
    """How far the image under way has come with its slow map: "map 40 %"."""
    return f"map {100 * done // max(total, 1)} %"


def latency_texts(timings: Mapping[str, float]) -> list[str]:
    """The timings as text, longest first: each next one leaves out the least telling stage
    still in it, down to the total alone."""
    stages = [stage for stage in STAGES if stage in timings]
    total = timings.get("total")
    texts = []
    for dropped in range(len(stages) + 1):
        gone = set(STAGES[:dropped])
        parts = [f"{stage} {timings[stage]:.0f}" for stage in stages if stage not in gone]
        if total is not None:
            parts.append(f"total {total:.0f} ms")
        if parts and (not texts or " · ".join(parts) != texts[-1]):
            texts.append(" · ".join(parts))
    return texts


class FittingLabel(QLabel):
    """Shows the longest of its texts that fits its width: a squeezed status bar drops whole
    parts instead of cutting the text mid-number."""

    def __init__(self) -> None:
        super().__init__()
        self._texts: list[str] = []

    def set_texts(self, texts: Sequence[str]) -> None:
        self._texts = list(texts)
        self.updateGeometry()
        self._fit()

    def _width_of(self, text: str) -> int:
        margins = self.contentsMargins()
        return (self.fontMetrics().horizontalAdvance(text) + 2 * self.margin()
                + margins.left() + margins.right())

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(max((self._width_of(t) for t in self._texts), default=0), hint.height())

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min((self._width_of(t) for t in self._texts), default=0), hint.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        fitting = [t for t in self._texts if self._width_of(t) <= self.width()]
        self.setText(fitting[0] if fitting else self._texts[-1] if self._texts else "")


class ElidingLabel(QLabel):
    """Gives way to its neighbours where the status bar is short of room: the text loses its
    middle to "…" (a checkpoint's file name, at the end, stays), whole in the tooltip. A
    plain QLabel keeps its full width: a checkpoint's long model name squeezed a folder
    run's bar and Cancel out of sight in a 640 px window."""

    MIN_CHARACTERS = 16

    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        room = self.fontMetrics().averageCharWidth() * self.MIN_CHARACTERS
        return QSize(min(hint.width(), room), hint.height())

    def shown_text(self) -> str:
        """The text as painted: whole, or with "…" in its middle."""
        return self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideMiddle,
                                             self.contentsRect().width())

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)  # the label's font and text colour
        painter.drawText(self.contentsRect(), int(self.alignment()), self.shown_text())
        painter.end()


class StatusPanel:
    """Widgets added to a QStatusBar; transient messages still use ``showMessage``."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.model_label = ElidingLabel("Model: starting…")
        self.device_label = QLabel("")
        self.latency_label = FittingLabel()
        self.latency_label.setToolTip(LATENCY_TIP)
        self.fps_label = QLabel("")
        self.run = JobProgress("images", "Stop the folder run (results so far are kept)")
        # Room for its longest text: squeezed by a small window's status bar, "stopping…
        # 1/12 images" wrapped and lost its last word.
        metrics = self.run.bar.fontMetrics()
        widest = max(metrics.horizontalAdvance(text) for text in (
            "stopping… 9999/9999 images", f"9999/9999 images · {map_part(1, 1)}"))
        self.run.bar.setMinimumWidth(widest + 16)
        self.run.bar.setMaximumWidth(max(180, widest + 16))
        for widget in (self.latency_label, self.fps_label, self.run, self.model_label,
                       self.device_label):
            bar.addPermanentWidget(widget)
        bar.messageChanged.connect(self._on_message_changed)

    def _on_message_changed(self, text: str) -> None:
        # A message is to be read now; the last prediction's timings can wait. Beside them
        # it got ~200 px of a 1200 px window and was cut mid-word.
        self.latency_label.setVisible(not text)
        # So can the model's name, which the predictions' header also gives: a checkpoint's
        # long name left a 640 px window's message "Score-CAM map ca".
        self.model_label.setVisible(not text)
        # And the device, which the Device list gives: beside it a folder run's closing
        # message lost its last letters in a 640 px window ("…results saves them").
        self.device_label.setVisible(not text and bool(self.device_label.text()))

    def set_model(self, text: str, device: str) -> None:
        self.model_label.setText(text)
        self.device_label.setText(device)
        self.device_label.setVisible(bool(device) and not self.bar.currentMessage())

    def set_latency(self, timings: Mapping[str, float] | None) -> None:
        texts = latency_texts(timings) if timings else []
        self.latency_label.set_texts(texts)
        # Every stage, should the bar show fewer.
        self.latency_label.setToolTip(f"{texts[0]}\n{LATENCY_TIP}" if texts else LATENCY_TIP)

    def set_fps(self, fps: float | None, capture_fps: float | None = None) -> None:
        if fps is None:
            self.fps_label.setText("")
            return
        text = f"{fps:.1f} fps"
        if capture_fps:
            text += f" (source {capture_fps:.0f})"
        self.fps_label.setText(text)

    def show_progress(self, progress: tuple[int, int] | None) -> None:
        """A folder run's (done, total) images; None: no run."""
        if progress is None:
            self.run.finish()
        else:
            self.run.show_count(*progress)

    def show_map_progress(self, done: int, total: int) -> None:
        """The image under way computes a slow map: ``done`` of its ``total`` forwards; the
        bar fills as far into that image's share."""
        self.run.show_part(map_part(done, total), done / max(total, 1))

    def show_stopping(self) -> None:
        """Cancelled: the run ends after the batch being classified (within a slow map:
        after its batch of channels, without that image)."""
        self.run.show_stopping()
