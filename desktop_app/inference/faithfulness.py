"""How faithful a saliency map is to the model: RISE's deletion and insertion, and ROAD.

Each score perturbs the model's own input (the normalised crop) in the order the map ranks
its pixels and reads the class's softmax probability; the perturbed images go through the
network ``batch_size`` at a time (default: the device's best, one at a time on a CPU, which is
also the shape the classifier's fused forward was compiled for). The defaults make 80 images
(33 + 33 + 14).

- ``deletion`` (Petsiuk et al., "RISE", 2018): from the input, replace the pixels, most
  salient first, by the deletion baseline in ``steps`` equal steps; the score is the area
  under the probability curve over the fraction replaced (trapezoid rule, RISE's ``auc``).
  Lower is better. Default baseline ``zero``: zero in the normalised input is the training
  set's mean colour, which carries no evidence (RISE's own choice for deletion).
- ``insertion``: from the insertion baseline, put the pixels back, most salient first.
  Higher is better. Default baseline ``blur`` (Gaussian, σ = 5, 11-pixel kernel, RISE's):
  it keeps the colours and removes shape and texture; a mean-colour start would score how
  much the model likes images unlike any it was trained on.
- ``road`` (Rong et al., "A consistent and efficient evaluation strategy for attribution
  methods", 2022), as pytorch-grad-cam's ``ROADCombined``: for each percentile p, MoRF keeps
  the pixels below the map's p-th percentile, LeRF those below the p-th percentile of
  ``1 − map``; the removed pixels are filled by noisy linear imputation and the probability
  read; the score is the mean over p of (LeRF − MoRF) / 2. Higher is better. Default
  percentiles 20…80 (pytorch-grad-cam's default is 10…90).

Ties in the map's order are broken by position (row-major), so a score is a function of the
map alone. Every score is the model's probability for the class, in [0, 1] (``road`` in
[−0.5, 0.5]).

Noisy linear imputation (ROAD's): each removed pixel is the weighted mean of its eight
neighbours inside the image (1/6 side, 1/12 corner), plus Gaussian noise of std ``noise``
in normalised units. pytorch-grad-cam solves that sparse symmetric positive-definite system
with scipy's direct solver (about a second per mask at 224 x 224). Here conjugate gradients
run on the stencil itself, over the removed pixels' bounding box only, preconditioned by one
multigrid V-cycle (damped Jacobi sweeps around a correction from grids half, a quarter … as
fine: bilinear interpolation and its transpose, the coarse grids over the pixels whose whole
neighbourhood is removed). That takes 10-25 iterations whatever the holes' size, against
hundreds unpreconditioned, and stops when the residual is below ``1e-4`` of the right-hand
side: the imputed values then differ from the exact solution by under 0.002 in normalised
units (measured on ResNet-50 Grad-CAM masks) — a tenth of an 8-bit grey level, and a fifth of
the noise ROAD adds on purpose. The noise comes from a generator seeded with ``seed``, drawn
in pytorch-grad-cam's order (LeRF percentiles, then MoRF, one (C, removed) draw each), so
that with the same seed the two agree (tests/inference/test_faithfulness.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.transforms.functional import gaussian_blur

from desktop_app.core.errors import InvalidArgument
from desktop_app.inference.cam_methods import (
    CancelCheck,
    ProgressCallback,
    raise_if_cancelled,
)
from desktop_app.inference.catalog import FAITHFULNESS_METRICS
from desktop_app.inference.devices import images_per_forward
from desktop_app.inference.gradcam import eval_mode
from desktop_app.inference.threads import one_torch_thread

Logits = Callable[[Tensor], Tensor]
BASELINES: tuple[str, ...] = ("zero", "blur")
_SOLVER_TOLERANCE = 1e-4
_MAX_ITERATIONS = 200
_COARSEST = 8  # pixels along the shorter side of the coarsest grid, at most
_SMOOTHING = 1.0  # Jacobi's damping: the stencil's eigenvalues are in (0, 4/3], so 1 is safe
_FULL_WEIGHTING = torch.tensor([[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]])


@dataclass(frozen=True)
class FaithfulnessSettings:
    """How the scores are computed; the defaults are documented in the module docstring."""

    steps: int = 32
    deletion_baseline: str = "zero"
    insertion_baseline: str = "blur"
    blur_sigma: float = 5.0
    blur_kernel: int = 11
    road_percentiles: tuple[int, ...] = (20, 30, 40, 50, 60, 70, 80)
    road_noise: float = 0.01
    seed: int = 0
    batch_size: int | None = None  # None: the device's best, ``devices.images_per_forward``

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise InvalidArgument("steps", f"must be at least 1, got {self.steps}")
        if self.batch_size is not None and self.batch_size < 1:
            raise InvalidArgument("batch_size", f"must be at least 1, got {self.batch_size}")
        for name in ("deletion_baseline", "insertion_baseline"):
            if getattr(self, name) not in BASELINES:
                raise InvalidArgument(name, f"choose one of {', '.join(BASELINES)}")
        if not self.road_percentiles or not all(0 < p < 100 for p in self.road_percentiles):
            raise InvalidArgument("road_percentiles", "need one or more between 0 and 100")


def checked_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """``metrics`` without repeats, or ``InvalidArgument`` naming the valid ones."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    unknown = [m for m in metrics if m not in FAITHFULNESS_METRICS]
    if unknown:
        raise InvalidArgument(
            "metrics", f"unknown metric {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(FAITHFULNESS_METRICS)}")
    return tuple(dict.fromkeys(metrics))


def faithfulness_scores(
    network: Logits,
    x: Tensor,
    class_index: int,
    saliency: np.ndarray,
    metrics: Sequence[str],
    settings: FaithfulnessSettings = FaithfulnessSettings(),
    progress: ProgressCallback | None = None,
    cancel: CancelCheck | None = None,
    curves: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """``{metric: score}`` of ``saliency`` (h, w), finite, over the model input ``x``
    (1, 3, h, w), for ``class_index``. ``network``: the model, or any function from a batch
    of inputs to their logits (the classifier passes its fused forward).
    ``progress(done, total)`` counts perturbed images through the network; once ``cancel()``
    returns True, ``Cancelled`` is raised.
    ``curves``, when given, receives the deletion and insertion probability curves
    (``steps + 1`` values each, whose ``auc`` is the score), for plotting."""
    metrics = checked_metrics(metrics)
    if saliency.shape != tuple(x.shape[-2:]):
        raise ValueError(f"saliency {saliency.shape} does not match the input {x.shape}")
    s = np.asarray(saliency, dtype=np.float32)
    image = x[0]
    plans: list[tuple[str, int]] = []  # (metric, number of images)
    if "deletion" in metrics:
        plans.append(("deletion", settings.steps + 1))
    if "insertion" in metrics:
        plans.append(("insertion", settings.steps + 1))
    if "road" in metrics:
        plans.append(("road", 2 * len(settings.road_percentiles)))
    total = sum(n for _, n in plans)
    makers: list[Callable[[], Tensor]] = []
    for metric, _ in plans:
        makers += _image_makers(metric, image, s, settings)
    probabilities = _probabilities(network, makers, class_index,
                                   settings.batch_size or images_per_forward(x.device),
                                   progress, cancel, total)
    scores, start = {}, 0
    for metric, n in plans:
        curve = probabilities[start : start + n]
        start += n
        if metric == "road":
            half = n // 2  # LeRF images first, then MoRF
            scores[metric] = float(np.mean((curve[:half] - curve[half:]) / 2))
        else:
            scores[metric] = auc(curve)
            if curves is not None:
                curves[metric] = curve
    return {m: scores[m] for m in metrics}


def auc(curve: np.ndarray) -> float:
    """RISE's area under a curve sampled at equal steps over [0, 1] (trapezoid rule)."""
    return float((curve.sum() - curve[0] / 2 - curve[-1] / 2) / (len(curve) - 1))


def removal_counts(pixels: int, steps: int) -> list[int]:
    """Pixels removed (deletion) or restored (insertion) after each of ``steps`` steps."""
    return [round(i * pixels / steps) for i in range(steps + 1)]


def salience_ranks(saliency: np.ndarray) -> np.ndarray:
    """Each pixel's place (h, w) in the most-salient-first order, ties by position."""
    order = np.argsort(-saliency.ravel(), kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(order.size)
    return ranks.reshape(saliency.shape)


def road_keep_masks(saliency: np.ndarray, percentiles: Sequence[int]) -> list[np.ndarray]:
    """The pixels ROAD keeps: LeRF for every percentile, then MoRF (pytorch-grad-cam's
    ``RemoveLeastRelevantFirst``/``RemoveMostRelevantFirst``, float32 as there)."""
    s = saliency.astype(np.float32)
    inverse = np.float32(1.0) - s
    lerf = [inverse < np.percentile(inverse, p) for p in percentiles]
    morf = [s < np.percentile(s, p) for p in percentiles]
    return lerf + morf


def _image_makers(
    metric: str, image: Tensor, saliency: np.ndarray, settings: FaithfulnessSettings
) -> list[Callable[[], Tensor]]:
    """One function per perturbed image, in curve order; each builds its image when called,
    so that only a batch's worth is held at a time."""
    if metric == "road":
        generator = torch.Generator().manual_seed(settings.seed)
        masks = road_keep_masks(saliency, settings.road_percentiles)

        def imputed(keep: np.ndarray) -> Callable[[], Tensor]:
            unknown = torch.from_numpy(~keep).to(image.device)
            return lambda: noisy_linear_imputation(image, unknown, settings.road_noise,
                                                   generator)

        return [imputed(keep) for keep in masks]
    ranks = torch.from_numpy(salience_ranks(saliency)).to(image.device)
    baseline_name = settings.deletion_baseline if metric == "deletion" else \
        settings.insertion_baseline
    baseline = _baseline(image, baseline_name, settings)
    first, second = (baseline, image) if metric == "deletion" else (image, baseline)

    def step(count: int) -> Callable[[], Tensor]:
        return lambda: torch.where(ranks < count, first, second)

    return [step(n) for n in removal_counts(saliency.size, settings.steps)]


def _baseline(image: Tensor, name: str, settings: FaithfulnessSettings) -> Tensor:
    if name == "zero":
        return torch.zeros_like(image)
    return gaussian_blur(image, [settings.blur_kernel] * 2, [settings.blur_sigma] * 2)


def _probabilities(
    network: Logits,
    makers: list[Callable[[], Tensor]],
    class_index: int,
    batch_size: int,
    progress: ProgressCallback | None,
    cancel: CancelCheck | None,
    total: int,
) -> np.ndarray:
    out: list[Tensor] = []
    mode = eval_mode(network) if isinstance(network, torch.nn.Module) else nullcontext()
    with torch.inference_mode(), mode:
        for batch in _batches(makers, batch_size, cancel):
            logits = network(batch).float()
            out.append(torch.softmax(logits, dim=1)[:, class_index].cpu())
            if progress is not None:
                progress(sum(len(o) for o in out), total)
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def _batches(makers: list[Callable[[], Tensor]], size: int,
             cancel: CancelCheck | None) -> Iterator[Tensor]:
    for start in range(0, len(makers), size):
        images = []
        for make in makers[start : start + size]:
            raise_if_cancelled(cancel, "scoring")
            images.append(make())
        yield torch.stack(images)


def noisy_linear_imputation(image: Tensor, unknown: Tensor, noise: float,
                            generator: torch.Generator) -> Tensor:
    """``image`` (C, H, W) with the ``unknown`` (H, W) pixels replaced by ROAD's noisy
    linear imputation; ``generator`` (CPU) supplies the noise."""
    with one_torch_thread():
        return _imputed(image, unknown, noise, generator)


def _imputed(image: Tensor, unknown: Tensor, noise: float,
             generator: torch.Generator) -> Tensor:
    out = image.clone()
    rows = unknown.any(dim=1).nonzero()[:, 0]
    cols = unknown.any(dim=0).nonzero()[:, 0]
    if len(rows) == 0:
        return out
    height, width = unknown.shape
    # Every removed pixel and its neighbours lie in this window; outside it nothing changes.
    r0, r1 = max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, height)
    c0, c1 = max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, width)
    weight_sum = _neighbour_sum(torch.ones(1, height, width, device=image.device))
    window = (slice(None), slice(r0, r1), slice(c0, c1))
    hole = unknown[r0:r1, c0:c1]
    solved = _harmonic_fill(image[window].float(), hole, weight_sum[window])
    values = solved[:, hole]
    draw = torch.randn(values.shape, generator=generator).to(values.device)
    patch = out[window]
    patch[:, hole] = (values + noise * draw).to(out.dtype)
    return out


def _neighbour_sum(x: Tensor) -> Tensor:
    """Σ w·x over each pixel's 8 neighbours (1/6 side, 1/12 corner), zero outside:
    ([1 2 1]ᵀ[1 2 1] − 4·centre) / 12, computed separably (shifted adds: half the time of
    the same sum as a 3 x 3 convolution on one thread)."""
    p = F.pad(x, (1, 1, 1, 1))
    v = p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]
    s = v[..., :, :-2] + 2 * v[..., :, 1:-1] + v[..., :, 2:]
    return (s - 4 * x) / 12


class _Level:
    """One grid of the multigrid preconditioner: the unknown pixels ``u`` (1, h, w), their
    stencil's weight sums, and the next grid, half as fine, over the pixels whose whole
    neighbourhood is unknown (the coarse system keeps the known ones as fixed zeros, so it
    stays positive definite)."""

    def __init__(self, unknown: Tensor, weight_sum: Tensor) -> None:
        self.u = unknown[None]
        self.weight_sum = weight_sum
        self.inverse_diagonal = self.u / weight_sum
        h, w = unknown.shape
        self.coarse: _Level | None = None
        if min(h, w) > _COARSEST:
            coarse_unknown = _restrict((1 - unknown)[None])[0] == 0
            if bool(coarse_unknown.any()):
                ones = torch.ones((1, *coarse_unknown.shape), dtype=unknown.dtype,
                                  device=unknown.device)
                self.coarse = _Level(coarse_unknown.to(unknown.dtype), _neighbour_sum(ones))

    def apply(self, v: Tensor) -> Tensor:
        """The system's matrix ``D − W_uu`` times ``v`` (zero off the unknown pixels)."""
        return self.u * (self.weight_sum * v - _neighbour_sum(v * self.u))

    def precondition(self, r: Tensor) -> Tensor:
        """One V-cycle from zero: a damped Jacobi sweep, the coarse grid's correction, a
        sweep again. Symmetric and positive definite, as conjugate gradients need."""
        z = _SMOOTHING * self.inverse_diagonal * r
        if self.coarse is not None:
            coarse_r = self.coarse.u * _restrict(r - self.apply(z))
            z = z + self.u * _prolong(self.coarse.precondition(coarse_r), r.shape[-2:])
        return z + _SMOOTHING * self.inverse_diagonal * (r - self.apply(z))


def _restrict(r: Tensor) -> Tensor:
    """Full weighting onto the grid half as fine (``_prolong``'s transpose), (C, h, w)."""
    return F.conv2d(r[:, None], _FULL_WEIGHTING.to(r)[None, None], stride=2, padding=1)[:, 0]


def _prolong(coarse: Tensor, size: torch.Size) -> Tensor:
    """Bilinear interpolation from the coarse grid (its points on the even pixels) to
    ``size``; an even side's last line has one coarse neighbour, at half weight."""
    hc, wc = coarse.shape[-2:]
    fine = F.interpolate(coarse[:, None], size=(2 * hc - 1, 2 * wc - 1), mode="bilinear",
                         align_corners=True)[:, 0]
    if size[0] > 2 * hc - 1:
        fine = torch.cat([fine, 0.5 * fine[:, -1:]], dim=1)
    if size[1] > 2 * wc - 1:
        fine = torch.cat([fine, 0.5 * fine[:, :, -1:]], dim=2)
    return fine


def _harmonic_fill(values: Tensor, unknown: Tensor, weight_sum: Tensor) -> Tensor:
    """``values`` (C, h, w) with the ``unknown`` (h, w) pixels set so that each equals the
    weighted mean of its neighbours (``weight_sum`` their total weight, (1, h, w)): the
    system ``(D − W_uu) x = W_uk v`` by multigrid-preconditioned conjugate gradients, one
    system per channel."""
    level = _Level(unknown.to(values.dtype), weight_sum)
    u = level.u
    rhs = u * _neighbour_sum(values * (1 - u))
    x = torch.zeros_like(values)
    r = rhs
    z = level.precondition(r)
    p = z
    rz = (r * z).sum(dim=(1, 2))
    limit = (_SOLVER_TOLERANCE * rhs.square().sum(dim=(1, 2)).sqrt()).square()
    # 10-25 iterations at 224 x 224, whatever the holes; the bound only guards against a
    # system that rounding has made indefinite.
    for _ in range(_MAX_ITERATIONS):
        if bool(((r * r).sum(dim=(1, 2)) <= limit).all()):
            break
        ap = level.apply(p)
        alpha = rz / (p * ap).sum(dim=(1, 2)).clamp_min(1e-30)
        x = x + alpha[:, None, None] * p
        r = r - alpha[:, None, None] * ap
        z = level.precondition(r)
        rz_next = (r * z).sum(dim=(1, 2))
        p = z + (rz_next / rz.clamp_min(1e-30))[:, None, None] * p
        rz = rz_next
    return torch.where(unknown[None], x, values)
