"""Which weights files go into a build, for computers with no internet.

The frozen app looks for official weights in ``<bundle>/weights/`` under torchvision's own
file names (see ``desktop_app.inference.weights.search_dirs``), so only official files can
be bundled, and they keep their names. Items are model names (the file is taken from the
local weights cache: fetch it first with ``resnet-lens weights --fetch MODEL``) or paths
to official files.

Used by ``build.py`` and by the spec (``RESNET_LENS_BUNDLE_WEIGHTS``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

from desktop_app.core.errors import LensError
from desktop_app.inference.catalog import MODEL_NAMES

log = logging.getLogger(__name__)

ENV_VAR = "RESNET_LENS_BUNDLE_WEIGHTS"
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


def official_file_names() -> dict[str, str]:
    """torchvision's file name of each model's default weights -> model name."""
    from desktop_app.inference import weights

    return {Path(weights.official_weights(m).url).name: m for m in MODEL_NAMES}


def items_from_env(value: str | None = None) -> list[str]:
    """The items listed in ``RESNET_LENS_BUNDLE_WEIGHTS`` (separated by os.pathsep or ',')."""
    text = os.environ.get(ENV_VAR, "") if value is None else value
    return [part.strip() for part in re.split(f"[,{re.escape(os.pathsep)}]", text) if part.strip()]


def resolve(items: Iterable[str]) -> list[Path]:
    """The files for ``items`` (model names or paths), checked; raises LensError."""
    from desktop_app.inference import weights

    found: dict[str, Path] = {}
    for item in items:
        if item == "all" or item in MODEL_NAMES:
            for model in MODEL_NAMES if item == "all" else [item]:
                status = weights.official_weights_status(model)
                if status.path is None:
                    raise LensError(
                        f"cannot bundle {model}: {status.file_name} is not in "
                        f"{weights.cache_dir()}; fetch it first (resnet-lens weights --fetch "
                        f"{model}) or name the file"
                    )
                found[status.file_name] = status.path
            continue
        path = Path(item).expanduser()
        if not path.is_file():
            raise LensError(
                f"cannot bundle {item}: not a model ({', '.join(MODEL_NAMES)}) nor a file"
            )
        names = official_file_names()
        if path.name not in names:
            raise LensError(
                f"cannot bundle {path}: the app finds bundled weights by torchvision's file "
                f"names ({', '.join(sorted(names))}); rename it or pass --weights at run time"
            )
        found[path.name] = path.resolve()
    for path in found.values():
        _warn_if_not_official(path)
    return sorted(found.values(), key=lambda p: p.name)


def _warn_if_not_official(path: Path) -> None:
    """torchvision's names carry a SHA-256 prefix; a file that does not match still loads,
    but it is not the published file (fine for tests, worth saying in a build log)."""
    expected = _HASH_IN_NAME.search(path.name)
    if not expected:
        return
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    if not digest.hexdigest().startswith(expected.group(1)):
        log.warning("%s: SHA-256 does not match its name: not the published file", path)
