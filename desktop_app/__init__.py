"""ResNet Lens: top-k ImageNet predictions with Grad-CAM overlays.

``desktop_app.load_map(path)`` turns a map saved with ``--cam-format npz`` into the
full-resolution array (numpy only; imported on first use).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazily, so that ``import desktop_app`` (every entry point) costs nothing.
    if name == "load_map":
        from desktop_app.core.map_files import load_map

        return load_map
    raise AttributeError(f"module 'desktop_app' has no attribute {name!r}")


__all__ = ["__version__", "load_map"]
