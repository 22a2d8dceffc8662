"""The status bar's permanent part: model, device, per-stage latency, frames per second,
and the progress of a folder run."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

STAGES = ("decode", "preprocess", "forward", "cam")


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
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the folder run (results so far are kept)")
        for widget in (self.latency_label, self.fps_label, self.progress,
                       self.cancel_button, self.model_label, self.device_label):
            bar.addPermanentWidget(widget)
        bar.messageChanged.connect(self._on_message_changed)
        self.show_progress(None)

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
        visible = progress is not None
        self.progress.setVisible(visible)
        self.cancel_button.setVisible(visible)
        if progress is None:
            self.cancel_button.setEnabled(True)  # for the next run
            return
        done, total = progress
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        stopping = "" if self.cancel_button.isEnabled() else "stopping… "
        self.progress.setFormat(f"{stopping}{done}/{total}")

    def show_stopping(self) -> None:
        """Cancelled: the run ends after the batch being classified."""
        self.cancel_button.setEnabled(False)
        self.progress.setFormat(f"stopping… {self.progress.value()}/{self.progress.maximum()}")
