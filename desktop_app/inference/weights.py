"""Where official weights come from: an explicit file, a local cache, or a download.

The cache is torch.hub's ``checkpoints`` folder with torchvision's own file names, so a file
a user already has from torchvision is reused, and a file we fetch serves torchvision too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from desktop_app.core.atomic import write_atomically
from desktop_app.core.errors import DownloadCancelled, WeightsError, WeightsUnavailableError
from desktop_app.inference.catalog import MODEL_NAMES

if TYPE_CHECKING:
    from torchvision.models import WeightsEnum

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, "int | None"], None]
CancelCheck = Callable[[], bool]

# torchvision names files "<model>-<first hex digits of the sha256>.pth".
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")
_CHUNK = 1 << 20
EXTRA_DIRS_ENV = "RESNET_LENS_WEIGHTS_DIR"


def official_weights(model: str) -> WeightsEnum:
    """The weights enum member torchvision recommends for ``model`` (its DEFAULT)."""
    if model not in MODEL_NAMES:
        raise WeightsError(f"unknown model {model!r}; choose one of {', '.join(MODEL_NAMES)}")
    import torchvision

    return torchvision.models.get_model_weights(model).DEFAULT


def cache_dir() -> Path:
    """torch.hub's checkpoints folder (honours ``TORCH_HOME``), where torchvision caches too."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def search_dirs() -> list[Path]:
    """Folders searched for an official file before downloading, in order."""
    dirs = [Path(p) for p in os.environ.get(EXTRA_DIRS_ENV, "").split(os.pathsep) if p]
    bundle = getattr(sys, "_MEIPASS", None)  # weights bundled into a PyInstaller build
    if bundle:
        dirs.append(Path(bundle) / "weights")
    dirs.append(cache_dir())
    return dirs


@dataclass(frozen=True)
class WeightsStatus:
    model: str
    file_name: str
    url: str
    size_mb: float
    path: Path | None  # where it was found, or None


def official_weights_status(model: str) -> WeightsStatus:
    weights = official_weights(model)
    name = Path(weights.url).name
    found = next((d / name for d in search_dirs() if (d / name).is_file()), None)
    return WeightsStatus(
        model, name, weights.url, float(weights.meta.get("_file_size", 0.0)), found
    )


def official_weights_path(
    model: str,
    *,
    download: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
) -> Path:
    """The local file holding ``model``'s official weights, downloading it if allowed."""
    status = official_weights_status(model)
    if status.path is not None:
        return status.path
    target = cache_dir() / status.file_name
    if not download:
        raise WeightsUnavailableError(_missing_message(status, target, "downloads are off"))
    try:
        return download_file(status.url, target, progress=progress, cancel=cancel)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsUnavailableError(
            _missing_message(status, target, f"offline? {reason}")
        ) from exc


def _missing_message(status: WeightsStatus, target: Path, why: str) -> str:
    return (
        f"{status.model} weights are not on this computer and could not be downloaded ({why}). "
        f"Put {status.file_name} ({status.size_mb:.1f} MB, from {status.url}) into "
        f"{target.parent}, or choose a weights file (--weights FILE)."
    )


def download_file(
    url: str,
    target: Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download ``url`` to ``target``; a partial download never appears under ``target``.

    When the file name carries a hash prefix (torchvision's convention), the SHA-256 of the
    received bytes must start with it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = _HASH_IN_NAME.search(target.name)

    def receive(out: BinaryIO) -> None:
        digest = hashlib.sha256()
        with urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress:
                progress(done, total)
            while chunk := response.read(_CHUNK):
                if cancel and cancel():
                    raise DownloadCancelled(f"download of {target.name} cancelled")
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise WeightsError(
                f"{target.name}: downloaded file is corrupt (SHA-256 {digest.hexdigest()[:12]}… "
                f"does not start with {expected.group(1)}); try again"
            )

    write_atomically(target, receive)
    log.info("downloaded %s to %s", url, target)
    return target
