"""Features of training images, computed once and kept on disk.

An entry is keyed by the image file's content hash inside a folder keyed by everything else
that shapes the numbers: the backbone's weights (their file's hash), the preprocessing, the
decode policy and what is stored. Renaming or moving an image keeps its entry; changing a
pixel, the weights or the preprocessing makes a new one. So retraining after adding ten
images computes the features of those ten only.

Two arrays per image: the layer-3 activation (float16, what fine-tuning layer4 starts from)
and the pooled layer-4 feature (float32, what the linear probe reads). Both come from one
forward pass; a linear-only retrain needs only the small pooled ones.

Memory stays bounded however many images there are: images are decoded a batch at a time,
the pooled features (a few KB each) are held, and the layer-3 activations (100-400 KB each,
gigabytes for 10,000s of images) are not: ``Layer3Rows`` reads the rows a training batch
asks for from their cache files, so they live on disk and in the OS's file cache.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchvision.models.resnet import ResNet

from desktop_app.core.atomic import write_atomically
from desktop_app.core.dataset import Example
from desktop_app.core.errors import Cancelled, LensError, one_line
from desktop_app.core.image_io import decode_for_model
from desktop_app.inference.network import run_stem
from desktop_app.inference.preprocess import Preprocessor

CACHE_DIR_ENV = "RESNET_LENS_CACHE_DIR"
# Bump when what an entry holds, or how it is computed, changes.
_FORMAT = "layer3-f16+pooled-f32 v1"
_BATCH = 16

SkipCallback = Callable[[Example, str], None]
CountCallback = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """``$RESNET_LENS_CACHE_DIR``, else the user's cache folder (XDG, LOCALAPPDATA, ~/Library)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "resnet-lens" / "features"


def weights_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def preprocessing_key(preprocessor: Preprocessor) -> str:
    t = preprocessor.transform
    return (f"resize={preprocessor.resize_size} crop={preprocessor.crop_size} "
            f"mean={list(t.mean)} std={list(t.std)} interpolation={t.interpolation}")


class Layer3Rows:
    """The kept examples' layer-3 activations, read from the cache a few rows at a time:
    ``rows[index]`` is a (len(index), C, H, W) float16 array."""

    def __init__(self, cache: FeatureCache, digests: Sequence[str]) -> None:
        self._cache = cache
        self._digests = tuple(digests)

    def __len__(self) -> int:
        return len(self._digests)

    def __getitem__(self, index: np.ndarray) -> np.ndarray:
        rows = []
        for i in np.asarray(index).reshape(-1).tolist():
            row = self._cache.load(self._digests[i], "layer3")
            if row is None:  # removed or damaged since it was checked: nothing to train on
                raise LensError(f"the feature cache lost an entry while training "
                                f"({self._cache.folder}); train again to recompute it")
            rows.append(row)
        return np.stack(rows)


@dataclass(frozen=True)
class Features:
    """Features of the examples that decoded, in the order given (``kept`` indexes them)."""

    kept: tuple[int, ...]
    pooled: np.ndarray  # (N, D) float32
    layer3: Layer3Rows | None  # (N, C, H, W) float16 rows, when asked for
    computed: int  # images that went through the network this time
    from_cache: int


class FeatureCache:
    """Cached features of one backbone (weights + preprocessing) under ``root``."""

    def __init__(self, root: Path, weights_sha256: str, preprocessor: Preprocessor) -> None:
        key = hashlib.sha256(
            f"{weights_sha256}|{preprocessing_key(preprocessor)}|{_FORMAT}".encode()
        ).hexdigest()[:20]
        self.folder = root / key

    def _path(self, digest: str, kind: str) -> Path:
        return self.folder / digest[:2] / f"{digest}.{kind}.npy"

    def load(self, digest: str, kind: str) -> np.ndarray | None:
        try:
            return np.load(self._path(digest, kind), allow_pickle=False)
        except (OSError, ValueError):  # absent, or damaged: compute it again
            return None

    def has(self, digest: str, kind: str) -> bool:
        """Whether an entry is there and whole, reading its header only (not its data)."""
        try:
            array = np.load(self._path(digest, kind), mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return False
        del array  # closes the mapping
        return True

    def store(self, digest: str, kind: str, array: np.ndarray) -> None:
        path = self._path(digest, kind)
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        write_atomically(path, lambda stream: stream.write(buffer.getvalue()))


def extract_features(
    network: ResNet,
    preprocessor: Preprocessor,
    examples: Sequence[Example],
    cache: FeatureCache,
    *,
    with_layer3: bool,
    on_skip: SkipCallback | None = None,
    on_count: CountCallback | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Features:
    """Features of ``examples``, from the cache or computed (and stored) in batches.

    An image that does not decode is left out and reported to ``on_skip`` with the reason;
    ``on_count(done, total)`` follows the progress. Raises ``Cancelled`` when ``cancel()``.
    """
    # Only the pooled features are held; layer-3 entries are checked, then read when trained.
    found: dict[int, np.ndarray] = {}
    missing: list[int] = []
    for i, example in enumerate(examples):
        pooled = cache.load(example.digest, "pooled")
        if pooled is not None and (not with_layer3 or cache.has(example.digest, "layer3")):
            found[i] = pooled
        else:
            missing.append(i)
    from_cache = len(found)
    computed = 0
    failed: set[int] = set()
    for start in range(0, len(missing), _BATCH):
        if cancel is not None and cancel():
            raise Cancelled("cancelled while computing features; nothing was trained")
        batch, indices = [], []
        for i in missing[start:start + _BATCH]:
            try:
                decoded = decode_for_model(examples[i].path, preprocessor.resize_size)
            except (LensError, OSError) as exc:
                failed.add(i)
                if on_skip is not None:
                    on_skip(examples[i], one_line(exc))
                continue
            batch.append(preprocessor(decoded.image))
            indices.append(i)
        if batch:
            layer3, pooled = _forward(network, torch.cat(batch))
            for j, i in enumerate(indices):
                # Both kinds, always: a later full recipe reuses layer3. Layer3 first, so a
                # pooled entry implies its layer3 was written (or failed and is recomputed).
                cache.store(examples[i].digest, "layer3", layer3[j])
                cache.store(examples[i].digest, "pooled", pooled[j])
                found[i] = pooled[j]
            computed += len(indices)
        if on_count is not None:
            on_count(from_cache + computed + len(failed), len(examples))
    kept = tuple(i for i in range(len(examples)) if i not in failed)
    pooled_all = np.stack([found[i] for i in kept]) if kept else np.zeros((0, 0))
    layer3 = Layer3Rows(cache, [examples[i].digest for i in kept]) if with_layer3 else None
    return Features(kept, pooled_all.astype(np.float32), layer3, computed, from_cache)


def _forward(network: ResNet, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        layer3 = network.layer3(network.layer2(network.layer1(run_stem(network, x))))
        pooled = network.avgpool(network.layer4(layer3)).flatten(1)
    return layer3.half().numpy(), pooled.float().numpy()
