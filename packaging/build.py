"""Build the one-folder app with PyInstaller, then (optionally) smoke-test it.

    python packaging/build.py [--bundle-weights MODEL_OR_FILE ...] [--dist DIR] [--work DIR]
                              [--smoke-test [--smoke-weights FILE]]

Needs the ``packaging`` extra (``pip install -e .[packaging]``). The result is
``<dist>/resnet-lens/``: copy that whole folder to the target computer (same OS and CPU
architecture; a build made on Linux runs on Linux with the same or a newer glibc).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import bundled_weights  # noqa: E402 - needs the paths above

from desktop_app.core.errors import LensError  # noqa: E402

APP = "resnet-lens"
SPEC = HERE / "resnet-lens.spec"
DESKTOP_FILE = HERE / "resnet-lens.desktop"
ICON = ROOT / "resources" / "icons" / "resnet-lens.png"


def build(dist: Path, work: Path, weights: list[str]) -> Path:
    """Run PyInstaller on the spec; returns the app folder."""
    env = dict(os.environ)
    env[bundled_weights.ENV_VAR] = os.pathsep.join(weights)
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--log-level=WARN",
        f"--distpath={dist}",
        f"--workpath={work}",
        str(SPEC),
    ]
    subprocess.run(command, check=True, env=env, cwd=ROOT)
    app_dir = dist / APP
    if sys.platform.startswith("linux"):
        # Beside the executable, for packagers and for the install steps in the README.
        shutil.copy2(DESKTOP_FILE, app_dir / DESKTOP_FILE.name)
        shutil.copy2(ICON, app_dir / ICON.name)
    return app_dir


def executable(app_dir: Path) -> Path:
    """The app's command-line executable inside a built folder."""
    if sys.platform == "win32":
        return app_dir / f"{APP}-cli.exe"
    return app_dir / APP


def clean_environment(home: Path) -> dict[str, str]:
    """An environment with no Python in sight: no PYTHON* variables, no venv on PATH, and a
    private HOME so no user's weights cache or settings are read."""
    env = {"PATH": os.pathsep.join(["/usr/bin", "/bin"]), "HOME": str(home), "LANG": "C.UTF-8"}
    if sys.platform == "win32":
        env = {k: os.environ[k] for k in ("SYSTEMROOT", "WINDIR", "TEMP", "TMP") if k in os.environ}
        env.update(USERPROFILE=str(home), LOCALAPPDATA=str(home), APPDATA=str(home))
    return env


def smoke_test(app_dir: Path, weights: Path | None) -> dict[str, object]:
    """Run ``--self-test`` in a clean environment from outside the repository."""
    command = [str(executable(app_dir)), "--self-test"]
    if weights is not None:
        command += ["--weights", str(weights.resolve())]
    with tempfile.TemporaryDirectory(prefix=f"{APP}-smoke-") as folder:
        started = time.perf_counter()
        done = subprocess.run(
            command,
            env=clean_environment(Path(folder)),
            cwd=folder,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        output = f"{done.stdout[-2000:]} {done.stderr[-2000:]}"
        raise LensError(f"self-test failed (exit {done.returncode}): {output}")
    result = json.loads(lines[-1])
    result["wall_s"] = round(seconds, 2)
    return result


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bundle-weights",
        nargs="+",
        default=bundled_weights.items_from_env(),
        metavar="MODEL_OR_FILE",
        help="official weights to put in the build: model names (taken from the local cache), "
        f"'all', or official files (default: ${bundled_weights.ENV_VAR})",
    )
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    parser.add_argument("--smoke-test", action="store_true", help="run --self-test after")
    parser.add_argument("--smoke-weights", type=Path, help="weights file for the smoke test")
    options = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="build: %(message)s")
    try:
        # Resolved here first, so a missing file fails before the long build.
        files = bundled_weights.resolve(options.bundle_weights)
        started = time.perf_counter()
        app_dir = build(options.dist.resolve(), options.work.resolve(), [str(f) for f in files])
        minutes = (time.perf_counter() - started) / 60
        print(f"built {app_dir} in {minutes:.1f} min, {folder_size(app_dir) / 2**20:.0f} MiB")
        if options.smoke_test:
            result = smoke_test(app_dir, options.smoke_weights)
            top = result["topk"][0]  # type: ignore[index]
            print(
                f"self-test ok in {result['wall_s']} s: {result['model']} ({result['backend']}) "
                f"says {top['label']} {top['probability']:.1%}"
            )
    except (LensError, subprocess.CalledProcessError) as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
