"""Start the real app under Xvfb on an image, wait for its first prediction, save a PNG.

Run through tests/tools/screenshot.sh (which installs what is missing). Exits non-zero
when the app fails to predict, does not quit cleanly, or logs a Python traceback.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from app_harness import AppProcess, scene_image, temporary_home, virtual_display


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="images or folders to open (default: a generated scene)")
    parser.add_argument("--theme", choices=("light", "dark"), default="light")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--out", help="PNG to write (default: screenshot-<theme>.png)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    out = Path(args.out or f"screenshot-{args.theme}.png").resolve()

    with temporary_home(args.model) as (work, torch_home), virtual_display() as display:
        paths = [str(Path(p).resolve()) for p in args.paths] or [
            str(scene_image(work / "scene.jpg"))]
        app = AppProcess([*paths, "--model", args.model, "--device", "cpu",
                          "--theme", args.theme],
                         display=display, torch_home=torch_home, workdir=work)
        try:
            visible = app.wait_for("window_visible", 30)
            predicted = app.wait_for("first_prediction", args.timeout)
            time.sleep(1.0)  # let the overlay's sharp re-render land
            window = subprocess.run(
                ["xdotool", "search", "--sync", "--onlyvisible", "--name", "ResNet Lens"],
                env={"DISPLAY": display}, capture_output=True, text=True, timeout=20,
                check=True).stdout.split()[0]
            subprocess.run(["import", "-display", display, "-window", window, str(out)],
                           check=True, timeout=30)
        finally:
            code = app.stop()
        log = app.log()
    print(f"window visible after {visible:.2f} s, first prediction after {predicted:.2f} s")
    print(f"screenshot: {out}")
    problems = []
    if code != 0:
        problems.append(f"app exited with code {code}")
    if "Traceback" in log:
        problems.append("app logged a traceback")
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if log.strip():
        print("--- app log ---\n" + log.strip(), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
