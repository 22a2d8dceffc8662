"""Run the real app in a child process: a virtual X display, fake weights in a temporary
TORCH_HOME, a private settings file, and the app's milestone events read back.

Used by tests/tools/screenshot_app.py and tests/bench/bench_app.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"


def fake_weights(torch_home: Path, *models: str) -> None:
    """Seeded random weights under torchvision's cache names, via the tests' own helper."""
    saved = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(torch_home)
    sys.path.insert(0, str(TESTS))
    try:
        # conftest guards sockets and sets Qt/TORCH_HOME variables for pytest on import;
        # only write_fake_weights is wanted here, so the environment is restored after.
        env_before = dict(os.environ)
        import conftest

        os.environ.clear()
        os.environ.update(env_before)
        shutil.rmtree(getattr(conftest, "_SESSION_HOME", ""), ignore_errors=True)
        for model in models:
            conftest.write_fake_weights(model)
    finally:
        sys.path.remove(str(TESTS))
        if saved is None:
            os.environ.pop("TORCH_HOME", None)
        else:
            os.environ["TORCH_HOME"] = saved


def scene_image(path: Path, size: tuple[int, int] = (1024, 768)) -> Path:
    """A made-up photo: sky, sun, hills and a house, with structure for a CAM to find."""
    w, h = size
    sky = np.linspace([90, 150, 230], [200, 225, 250], h // 2 + 1, dtype=np.float32)
    pixels = np.zeros((h, w, 3), np.uint8)
    pixels[: h // 2 + 1] = sky[:, None, :].astype(np.uint8)
    pixels[h // 2 :] = (70, 140, 60)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    draw.ellipse((w * 0.75, h * 0.08, w * 0.9, h * 0.28), fill=(255, 220, 80))
    draw.ellipse((-w * 0.2, h * 0.4, w * 0.6, h * 1.1), fill=(60, 120, 50))
    draw.rectangle((w * 0.45, h * 0.45, w * 0.7, h * 0.75), fill=(200, 80, 60))
    draw.polygon([(w * 0.42, h * 0.46), (w * 0.575, h * 0.3), (w * 0.73, h * 0.46)],
                 fill=(120, 50, 40))
    draw.rectangle((w * 0.55, h * 0.6, w * 0.6, h * 0.75), fill=(80, 50, 30))
    image.save(path, quality=92)
    return path


@contextlib.contextmanager
def virtual_display(size: str = "1400x900x24") -> Iterator[str]:
    """An Xvfb display for the duration of the block; yields its DISPLAY value."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb is not installed (tests/tools/screenshot.sh installs it)")
    for number in range(90, 140):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and \
                not Path(f"/tmp/.X{number}-lock").exists():
            break
    else:
        raise RuntimeError("no free X display number")
    server = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", size, "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Xvfb did not start")
            time.sleep(0.05)
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(5)


class AppProcess:
    """The app in a child process, with its milestone events."""

    def __init__(self, args: list[str], *, display: str | None, torch_home: Path,
                 workdir: Path) -> None:
        self.events_path = workdir / "events.jsonl"
        self.events_path.unlink(missing_ok=True)
        env = dict(os.environ)
        env.update(TORCH_HOME=str(torch_home), RESNET_LENS_EVENTS=str(self.events_path),
                   PYTHONPATH=str(REPO))
        if display is not None:
            env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        else:
            env["QT_QPA_PLATFORM"] = "offscreen"
        self.log_path = workdir / "app.log"
        self._log = self.log_path.open("w")
        self.started = time.time()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "desktop_app",
             "--settings", str(workdir / "settings.ini"), *args],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def events(self) -> dict[str, dict[str, object]]:
        found: dict[str, dict[str, object]] = {}
        if self.events_path.exists():
            for line in self.events_path.read_text().splitlines():
                record = json.loads(line)
                found.setdefault(str(record["event"]), record)
        return found

    def wait_for(self, event: str, timeout: float) -> float:
        """Seconds from process start to ``event``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = self.events().get(event)
            if record is not None:
                return float(record["time"]) - self.started  # type: ignore[arg-type]
            if self.process.poll() is not None:
                raise RuntimeError(f"app exited ({self.process.returncode}) before {event}:\n"
                                   + self.log_path.read_text()[-3000:])
            time.sleep(0.02)
        raise TimeoutError(f"no {event} within {timeout} s:\n" + self.log_path.read_text()[-3000:])

    def stop(self, timeout: float = 10.0) -> int:
        """Ctrl+C (the app closes its window cleanly); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(2)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text()


@contextlib.contextmanager
def temporary_home(*models: str) -> Iterator[tuple[Path, Path]]:
    """(work folder, TORCH_HOME with fake weights for ``models``), removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix="resnet-lens-app-"))
    try:
        torch_home = work / "torch"
        fake_weights(torch_home, *models)
        yield work, torch_home
    finally:
        shutil.rmtree(work, ignore_errors=True)
