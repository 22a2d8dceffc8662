"""Start-up times of a built app: to the self-test's JSON, and to a visible window.

    python packaging/measure_startup.py [dist/resnet-lens/resnet-lens] [--runs 3] [--cold]

The window is timed on a virtual X display (Xvfb) until xdotool sees it mapped, then until
the app's own milestones (RESNET_LENS_EVENTS): model ready and first prediction of a
bundled sample. Needs Xvfb, xdotool and Qt's xcb libraries (see packaging/README.md).
``--cold`` empties the OS file cache before each run (root only), as after a reboot.
The app runs with no Python variables and a private HOME, as on a user's computer.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DISPLAY = ":87"
TITLE = "ResNet Lens"


def drop_file_cache() -> None:
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def app_env(home: Path, **extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", **extra}


def time_self_test(app: Path, home: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(app), "--self-test"], env=app_env(home), cwd=home, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    result = json.loads(done.stdout.splitlines()[-1])
    if done.returncode != 0 or not result["ok"]:
        raise SystemExit(f"self-test failed: {result.get('error')}")
    return seconds


def time_window(app: Path, home: Path, sample: Path) -> dict[str, float]:
    """Seconds from launch to the window mapped, to the model ready, to a first prediction."""
    events = home / "events.jsonl"
    events.unlink(missing_ok=True)
    settings = home / "settings.ini"
    settings.unlink(missing_ok=True)
    env = app_env(home, DISPLAY=DISPLAY, QT_QPA_PLATFORM="xcb", RESNET_LENS_EVENTS=str(events))
    launched = time.time()
    process = subprocess.Popen(
        [str(app), "--settings", str(settings), "--model", "resnet18", str(sample)],
        env=env,
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", TITLE],
            env={"DISPLAY": DISPLAY, "PATH": "/usr/bin:/bin"},
            check=True,
            capture_output=True,
            timeout=120,
        )
        times = {"window_mapped": time.time() - launched}
        deadline = time.time() + 180
        while time.time() < deadline:
            seen = _events(events)
            if "first_prediction" in seen:
                for name in ("window_visible", "model_ready", "first_prediction"):
                    if name in seen:
                        times[name] = seen[name] - launched
                return times
            if process.poll() is not None:
                raise SystemExit(f"the app exited with {process.returncode}")
            time.sleep(0.05)
        raise SystemExit("no prediction within 180 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def _events(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    found: dict[str, float] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        found.setdefault(record["event"], record["time"])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "app", type=Path, nargs="?", default=REPO / "dist" / "resnet-lens" / "resnet-lens"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cold", action="store_true", help="drop the OS file cache first")
    options = parser.parse_args()
    app = options.app.resolve()
    sample = app.parent / "_internal" / "resources" / "samples" / "traffic_light.png"
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing:
        raise SystemExit(f"needs {' and '.join(missing)} (apt-get install xvfb xdotool)")
    xvfb = subprocess.Popen(
        ["Xvfb", DISPLAY, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        self_test: list[float] = []
        window: list[dict[str, float]] = []
        with tempfile.TemporaryDirectory(prefix="resnet-lens-startup-") as folder:
            home = Path(folder)
            for _ in range(options.runs):
                if options.cold:
                    drop_file_cache()
                self_test.append(time_self_test(app, home))
                if options.cold:
                    drop_file_cache()
                window.append(time_window(app, home, sample))
        runs = {"self_test": self_test}
        for name in window[0]:
            runs[name] = [run[name] for run in window]
        report = {
            "cache": "cold" if options.cold else "warm",
            "median_s": {name: round(statistics.median(v), 2) for name, v in runs.items()},
            "runs_s": {name: [round(x, 2) for x in v] for name, v in runs.items()},
        }
        print(json.dumps(report))
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
