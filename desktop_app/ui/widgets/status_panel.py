"""The status bar's permanent part: model, device, per-stage latency, frames per second,
and the progress of a folder run."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QLabel, QStatusBar

from desktop_app.ui.widgets.job_progress import JobProgress

STAGES = ("decode", "preprocess", "forward", "cam")


def map_part(done: int, total: int) -> str:
    """How far the image under way has come with its slow map: "map 40 %"."""
    return f"map {100 * done // max(total, 1)} %"


def latency_text(timings: Mapping[str, float]) -> str:
    parts = [f"{stage} {timings[stage]:.0f}" for stage in STAGES if stage in timings]
    total = timings.get("total")
    if total is not None:
        parts.append(f"total {total:.0f} ms")
    return " · ".join(parts)


class StatusPanel:
    """Widgets added to a QStatusBar; transient messages still use ``showMessage``."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.model_label = QLabel("Model: starting…")
        self.device_label = QLabel("")
        self.latency_label = QLabel("")
        self.latency_label.setToolTip("Milliseconds per stage of the last prediction")
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

    def set_model(self, text: str, device: str) -> None:
        self.model_label.setText(text)
        self.device_label.setText(device)
        self.device_label.setVisible(bool(device))

    def set_latency(self, timings: Mapping[str, float] | None) -> None:
        self.latency_label.setText(latency_text(timings) if timings else "")

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
        """The image under way computes a slow map: ``done`` of its ``total`` forwards."""
        self.run.show_part(map_part(done, total))

    def show_stopping(self) -> None:
        """Cancelled: the run ends after the batch being classified (within a slow map:
        after its batch of channels, without that image)."""
        self.run.show_stopping()
