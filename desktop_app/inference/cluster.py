"""The folder pipeline on a Ray cluster (``resnet-lens predict … --cluster ray[://ADDRESS]``).

Ray Data's documented pattern for batch inference: a dataset of file paths, and
``map_batches`` with an actor class that loads the classifier once per worker and runs the
same engine as a local run (``Classifier.prepare`` + ``predict_batch``). Results stream back
in input order and reach the same ``write`` callback as ``run_folder``'s, so the JSON lines
and map files are those of a local run. Paths must be readable where the workers run (a
shared file system on a real cluster). Ray is an optional dependency (the ``cluster`` extra)
and is imported only here.
"""

from __future__ import annotations

import itertools
import pickle
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from desktop_app.core.errors import LensError
from desktop_app.core.sources import MissingInput
from desktop_app.inference.pipeline import FolderRequest, Outcome, classify_batch

SCHEME = "ray"
# Paths handed to Ray per dataset: the driver never lists a whole archive at once.
# Rows per ``map_batches`` call: Ray's overhead per batch wants more than one image.
RAY_BATCH_SIZE = 8
_CHUNK = 4096


@dataclass(frozen=True)
class ModelSpec:
    """What each worker loads: ``load_classifier``'s arguments."""

    model: str | None = None
    weights: str | None = None
    labels: str | None = None
    device: str = "auto"
    backend: str = "auto"


def ray_address(option: str) -> str | None:
    """``ray`` -> None (a local Ray instance, or the one ``RAY_ADDRESS`` names);
    ``ray://host:10001`` -> that address. Anything else is refused."""
    if option == SCHEME:
        return None
    if option.startswith(f"{SCHEME}://") and len(option) > len(SCHEME) + 3:
        return option
    raise LensError(f"expected ray or ray://HOST:PORT, got {option!r}")


class _LensActor:
    """One per Ray worker: holds the classifier, classifies batches of paths."""

    def __init__(self, spec: ModelSpec, request: FolderRequest) -> None:
        from desktop_app.inference.classifier import load_classifier

        self._clf = load_classifier(spec.model, spec.weights, spec.labels, spec.device,
                                    backend=spec.backend, download=False)
        self._request = request

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [Path(p) for p in batch["path"]]
        outcomes = classify_batch(self._clf, list(zip(batch["index"].tolist(), items,
                                                      strict=True)), self._request)
        return {"index": np.array([o.index for o in outcomes]),
                "outcome": np.array([pickle.dumps(o) for o in outcomes], dtype=object)}


def run_on_ray(
    address: str | None,
    spec: ModelSpec,
    paths: Iterable[Path | MissingInput],
    request: FolderRequest,
    write: Callable[[Outcome], None],
    *,
    batch_size: int = RAY_BATCH_SIZE,
    workers: int | None = None,
) -> None:
    """As ``pipeline.run_folder``, on Ray: ``write`` gets every outcome in input order, on
    the calling thread. ``workers``: actors (default: one per CPU Ray reports, at most 4
    per chunk of paths)."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True  # JSON lines in input order
    context.enable_progress_bars = False
    actors = workers or max(1, min(4, int(ray.cluster_resources().get("CPU", 1))))
    request = replace(request, cam_progress=None)  # workers have no terminal of ours
    numbered = enumerate(paths)
    while chunk := list(itertools.islice(numbered, _CHUNK)):
        missing = deque(Outcome(index, Path(item.item), error=f"{item.item}: {item.reason}")
                        for index, item in chunk if isinstance(item, MissingInput))
        rows = [{"index": index, "path": str(item)} for index, item in chunk
                if not isinstance(item, MissingInput)]
        if rows:
            dataset = ray.data.from_items(rows).map_batches(
                _LensActor, fn_constructor_args=(spec, request), batch_size=batch_size,
                concurrency=actors, batch_format="numpy")
            for row in dataset.iter_rows():
                outcome: Outcome = pickle.loads(row["outcome"])
                while missing and missing[0].index < outcome.index:  # keep input order
                    write(missing.popleft())
                write(outcome)
        for outcome in missing:
            write(outcome)


__all__ = ["SCHEME", "ModelSpec", "ray_address", "run_on_ray"]
