"""Files shipped with the app (icon, sample images), found both from source and frozen.

From a source checkout they are in the repository's ``resources/`` folder; a PyInstaller
build copies that folder to ``resources/`` inside the bundle (``sys._MEIPASS``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from desktop_app.core.errors import LensError

SAMPLE_DIR = "samples"
ICON_FILE = "icons/resnet-lens.png"


def resources_root() -> Path:
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def resource_path(*parts: str) -> Path:
    """The path of a shipped file, e.g. ``resource_path("icons", "resnet-lens.png")``.

    The path may not exist (an installed wheel ships no resources): check before use.
    """
    return resources_root().joinpath(*parts)


def sample_images() -> list[Path]:
    """The bundled sample images, sorted by name; raises LensError when there are none."""
    folder = resource_path(SAMPLE_DIR)
    found = sorted(p for p in folder.glob("*.png") if p.is_file()) if folder.is_dir() else []
    if not found:
        raise LensError(f"no sample images in {folder}: the app's resources are missing")
    return found
