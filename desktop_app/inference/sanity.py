"""The model-randomisation sanity check of Adebayo et al., "Sanity checks for saliency maps"
(NeurIPS 2018).

A copy of the network is re-initialised cumulatively from the top down — ``fc``, then
``layer4``, ``layer3``, ``layer2``, ``layer1`` — and after each step every method's map for
the same image and class is compared with the trained model's by Spearman rank correlation
over the map's grid on the crop (``pred.cams.grid``). A map that explains the model must
change once the weights it explains are random; one that stays alike explains the image
(edges, contrast) instead. A method is flagged when its correlation is still at least
``threshold`` (default 0.5) once everything down to ``layer3`` is random — by then nothing
the model learned above its first two stages is left. The caller's classifier is never
touched: the copy is made with ``copy.deepcopy``.

Re-initialisation is each module's own ``reset_parameters`` (torchvision's initialisation:
Kaiming-uniform convolutions and ``fc``, batch norm to the identity with fresh running
statistics), seeded, without disturbing torch's global random state.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from desktop_app.core.errors import InvalidArgument
from desktop_app.inference.catalog import CAM_METHODS, DEFAULT_CAM_LAYER
from desktop_app.inference.classifier import Classifier, ImageInput

CASCADE: tuple[str, ...] = ("fc", "layer4", "layer3", "layer2", "layer1")
FLAG_STEP = "layer3"  # the step whose correlation decides the flag
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True)
class SanityReport:
    """``correlations[method][i]``: Spearman correlation between the trained model's map and
    the map after re-initialising ``steps[i]`` and everything above it; NaN when either map
    is constant (e.g. blank). ``flagged``: methods whose map barely changed."""

    class_index: int
    label: str
    cam_layer: str
    steps: tuple[str, ...]
    correlations: dict[str, tuple[float, ...]]
    threshold: float
    flagged: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "class": self.class_index,
            "label": self.label,
            "cam_layer": self.cam_layer,
            "steps": list(self.steps),
            "correlations": {
                m: [None if math.isnan(v) else round(v, 4) for v in values]
                for m, values in self.correlations.items()
            },
            "threshold": self.threshold,
            "flag_step": FLAG_STEP,
            "flagged": list(self.flagged),
        }


def randomisation_check(
    clf: Classifier,
    image: ImageInput,
    methods: Sequence[str] = ("gradcam",),
    class_index: int | None = None,
    cam_layer: str = DEFAULT_CAM_LAYER,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
) -> SanityReport:
    """Run the cascading randomisation check for ``methods`` on ``image``'s ``class_index``
    (default: the trained model's top class) at ``cam_layer``."""
    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in CAM_METHODS]
    if unknown or not methods:
        raise InvalidArgument(
            "cam", f"unknown CAM method {', '.join(unknown) or 'none given'}; "
            f"choose from {', '.join(CAM_METHODS)}")
    clf.check_arguments(1, methods[0], cam_layer, None if class_index is None else [class_index])
    if class_index is None:
        class_index = clf.predict(image, topk=1, cam=None).topk[0].index
    originals = {m: _grid(clf, image, m, cam_layer, class_index) for m in methods}
    network = copy.deepcopy(clf.network)
    randomised = clf.with_network(network)
    correlations: dict[str, list[float]] = {m: [] for m in methods}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for step in CASCADE:
            _reinitialise(getattr(network, step))
            for m in methods:
                grid = _grid(randomised, image, m, cam_layer, class_index)
                correlations[m].append(spearman(originals[m], grid))
    at = CASCADE.index(FLAG_STEP)
    flagged = tuple(m for m in methods if correlations[m][at] >= threshold)
    return SanityReport(class_index, clf.labels[class_index], cam_layer, CASCADE,
                        {m: tuple(v) for m, v in correlations.items()}, threshold, flagged)


def _grid(clf: Classifier, image: ImageInput, method: str, layer: str,
          class_index: int) -> np.ndarray:
    pred = clf.predict(image, topk=1, cam=method, cam_layer=layer, cam_classes=[class_index])
    assert pred.cams is not None
    return pred.cams.grid(class_index)


def _reinitialise(module: torch.nn.Module) -> None:
    for sub in module.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            with torch.no_grad():
                reset()
        reset_stats = getattr(sub, "reset_running_stats", None)
        if callable(reset_stats):
            reset_stats()


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally shaped arrays (ties share their mean
    rank); NaN when either is constant."""
    ra, rb = _ranks(a.ravel()), _ranks(b.ravel())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    norm = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / norm if norm > 0 else math.nan


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    # Runs of equal values: each member gets the mean of the run's positions.
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], len(values)]
    mean_rank = (starts + ends - 1) / 2.0
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks
