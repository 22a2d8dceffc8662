"""Soak test of the live path (a script; tests/ui/test_reliability_ui.py runs a short one).

    .venv/bin/python tests/bench/soak.py [--frames 10000] [--warmup 300] [--every 500]

A 640x480 test video loops through the capture package into the window, as a camera
would, and every frame the worker classifies (ResNet-18 on the CPU, seeded fake weights in
a temporary TORCH_HOME, Grad-CAM on, overlay drawn) counts. Resident memory (VmRSS) and
thread counts (Python's and the kernel's) are sampled after a warm-up and every N frames.

Verdict: RSS growth from the warm-up to the end <= 50 MB, and thread counts steady (no
sample above the warm-up's by more than ``THREAD_SLACK``: pools that grow and shrink on
their own, such as Qt's, may add one or two).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
for folder in (REPO / "tests" / "tools", REPO / "tests", REPO):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

RSS_GROWTH_LIMIT_MB = 50.0
THREAD_SLACK = 2


def proc_status() -> tuple[float, int]:
    """(resident memory in MB, kernel thread count) of this process, from /proc."""
    rss_kb, threads = 0, 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss_kb / 1024.0, threads


@dataclass(frozen=True)
class Sample:
    frames: int
    seconds: float
    rss_mb: float
    python_threads: int
    os_threads: int


@dataclass
class SoakReport:
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # worker failures for live frames

    @property
    def warmup(self) -> Sample:
        return self.samples[0]

    @property
    def end(self) -> Sample:
        return self.samples[-1]

    @property
    def rss_growth_mb(self) -> float:
        return self.end.rss_mb - self.warmup.rss_mb

    @property
    def threads_steady(self) -> bool:
        return all(s.python_threads == self.warmup.python_threads
                   and s.os_threads <= self.warmup.os_threads + THREAD_SLACK
                   for s in self.samples)

    @property
    def passed(self) -> bool:
        return (self.rss_growth_mb <= RSS_GROWTH_LIMIT_MB and self.threads_steady
                and not self.failures)

    def table(self) -> str:
        lines = [f"{'frames':>7} {'seconds':>8} {'fps':>6} {'RSS MB':>8} {'growth':>7} "
                 f"{'py threads':>10} {'os threads':>10}"]
        previous: Sample | None = None
        for s in self.samples:
            fps = ((s.frames - previous.frames) / max(s.seconds - previous.seconds, 1e-9)
                   if previous is not None else 0.0)
            lines.append(f"{s.frames:>7} {s.seconds:>8.1f} {fps:>6.1f} {s.rss_mb:>8.1f} "
                         f"{s.rss_mb - self.warmup.rss_mb:>+7.1f} {s.python_threads:>10} "
                         f"{s.os_threads:>10}")
            previous = s
        return "\n".join(lines)

    def verdict(self) -> str:
        counts = sorted({(s.python_threads, s.os_threads) for s in self.samples})
        return (f"{'PASS' if self.passed else 'FAIL'}: {self.end.frames - self.warmup.frames} "
                f"frames after warm-up in {self.end.seconds - self.warmup.seconds:.0f} s; "
                f"RSS {self.warmup.rss_mb:.1f} -> {self.end.rss_mb:.1f} MB "
                f"(growth {self.rss_growth_mb:+.1f} MB, goal <= {RSS_GROWTH_LIMIT_MB:.0f}); "
                f"threads (python, os) {counts} "
                f"{'steady' if self.threads_steady else 'NOT steady'}; "
                f"{len(self.failures)} failed frames")


def run_soak(frames: int, engine_factory: Callable[[], Any], workdir: Path, *,
             model: str = "resnet18", warmup: int = 300, every: int = 500,
             source_fps: float = 30.0, timeout_s: float = 7200.0,
             progress: Callable[[Sample], None] | None = None) -> SoakReport:
    """Classify ``frames`` live frames in a window on ``engine_factory``; sample memory and
    threads at ``warmup`` frames, every ``every`` frames after it, and at the end."""
    if not 0 < warmup < frames:
        raise ValueError("need 0 < warmup < frames")
    from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication
    from support.video_utils import make_test_video

    from desktop_app.core.results import Prediction
    from desktop_app.ui.main_window import MainWindow
    from desktop_app.ui.settings import Settings
    from desktop_app.ui.state.requests import Kind, WorkerFailure

    _app = QApplication.instance() or QApplication([])  # referenced: alive until we return
    settings = Settings(QSettings(str(workdir / "soak.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings, engine_factory, model=model, device="cpu")
    window.resize(1200, 780)
    window.show()
    window.start()

    report = SoakReport()
    loop = QEventLoop()
    count = 0
    started = time.monotonic()

    def sample() -> None:
        rss, os_threads = proc_status()
        report.samples.append(Sample(count, time.monotonic() - started, rss,
                                     threading.active_count(), os_threads))
        if progress is not None:
            progress(report.samples[-1])

    def on_shown(_prediction: Prediction) -> None:
        # A live frame's result, with its overlay drawn (nothing else is shown here).
        nonlocal count
        count += 1
        if count in (warmup, frames) or (count > warmup and count % every == 0):
            sample()
        if count >= frames:
            loop.quit()

    def on_failure(failure: WorkerFailure) -> None:
        if failure.kind is Kind.LIVE:
            report.failures.append(failure.message)

    def on_timeout() -> None:
        report.failures.append(f"timed out after {timeout_s:.0f} s at frame {count}")
        loop.quit()

    window.prediction_shown.connect(on_shown)
    window.client.worker.failed.connect(on_failure)
    video = make_test_video(workdir / "soak.avi", 90, size=(640, 480), fps=source_fps)
    window.start_video(video)  # loops, paced at source_fps like a camera
    QTimer.singleShot(int(timeout_s * 1000), on_timeout)
    try:
        loop.exec()
    finally:
        window.close()
        # Deleted now, not left among the application's windows (a caller's next test
        # may look for its own window there).
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=10_000, help="frames to classify")
    parser.add_argument("--warmup", type=int, default=300, help="frames before the baseline")
    parser.add_argument("--every", type=int, default=500, help="frames between samples")
    parser.add_argument("--source-fps", type=float, default=30.0, help="video frame rate")
    parser.add_argument("--model", default="resnet18")
    args = parser.parse_args()

    from app_harness import temporary_home

    from desktop_app.ui.controllers.worker import TorchEngine

    with temporary_home(args.model) as (work, torch_home):
        os.environ["TORCH_HOME"] = str(torch_home)
        print(f"soak: {args.frames} frames, {args.model} on the CPU, Grad-CAM on, 640x480 "
              f"video at {args.source_fps:g} fps ({os.cpu_count()} CPUs)", flush=True)

        def show(s: Sample) -> None:
            print(f"  frame {s.frames:>6}  {s.seconds:>7.1f} s  RSS {s.rss_mb:7.1f} MB  "
                  f"threads {s.python_threads}/{s.os_threads}", flush=True)

        report = run_soak(args.frames, TorchEngine, Path(tempfile.mkdtemp(dir=work)),
                          model=args.model, warmup=args.warmup, every=args.every,
                          source_fps=args.source_fps, progress=show)
    print()
    print(report.table())
    for message in sorted(set(report.failures)):
        print(f"failure: {message}")
    print(report.verdict())
    return 0 if report.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
