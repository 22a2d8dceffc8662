"""One image's maps by any of the eight CAM methods, with no hooks on the model.

The target layer's activation comes from a split forward (``gradcam.split_forward``) or, at
layer4, from the compiled forward. What each method then needs:

- gradient methods: at layer4 channel weights from the closed-form gradient
  (``cam_formulas.head_channel_weights``), no backward; elsewhere one backward of the rest
  of the network for all classes.
- Eigen-CAM: the activation alone (one map, the same for every class).
- Ablation-CAM: at layer4 closed form, no extra forward; elsewhere one forward of the rest of
  the network per channel, batched.
- Score-CAM: one forward of the whole network per channel's masked input, batched. Channels
  whose normalised mask is all zero (their upsampled activation is constant) mask the input
  to all zeros: they all score as the blank image, which is run once instead.

``aug_smooth`` averages the maps of pytorch-grad-cam's six test-time augmentations
(horizontal flip or not × intensity factor 1, 0.9, 1.1, as ttach applies them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor
from torchvision.models.resnet import ResNet

from desktop_app.core.errors import Cancelled
from desktop_app.inference.cam_formulas import (
    GRADIENT_METHODS,
    ablation_value,
    ablation_weights,
    ablation_weights_at_head,
    channel_weighted_maps,
    combine,
    first_component,
    gradient_weighted,
    head_channel_weights,
    score_masks,
)
from desktop_app.inference.catalog import AUGMENTATIONS
from desktop_app.inference.devices import images_per_forward
from desktop_app.inference.gradcam import eval_mode, layer_gradients, normalise, rescale
from desktop_app.inference.network import run_blocks, run_head

ProgressCallback = Callable[[int, int], None]
ABLATION_BATCH = 32
CancelCheck = Callable[[], bool]


@dataclass(frozen=True)
class CamRequest:
    """What to compute: ``layer`` is a block name (``layer4.1``), ``at_head`` whether it is
    the last block, so that closed forms apply."""

    method: str
    layer: str
    classes: tuple[int, ...]
    at_head: bool
    eigen_smooth: bool = False
    # Images per forward; None: Score-CAM's the device's best (``images_per_forward``),
    # Ablation-CAM's (the network after the layer, eager) ``ABLATION_BATCH``.
    batch_size: int | None = None
    progress: ProgressCallback | None = None
    # Asked between two batches of forwards (``raise_if_cancelled``); it may use the model.
    cancel: CancelCheck | None = None
    # The whole network's logits of a batch, for Score-CAM's masked inputs (the classifier
    # passes its fused forward); None: the model itself.
    logits_of: Callable[[Tensor], Tensor] | None = None


def method_cams(model: ResNet, x: Tensor, logits: Tensor, activation: Tensor,
                request: CamRequest) -> Tensor:
    """Raw maps (K, H, W), before ReLU and scaling, for one image ``x`` (1, 3, h, w) whose
    ``logits`` (1, N) and target-layer ``activation`` (1, C, H, W) are already known."""
    method, classes = request.method, list(request.classes)
    needs_graph = method in GRADIENT_METHODS and not request.at_head
    with contextlib.nullcontext() if needs_graph else torch.inference_mode():
        a = activation[0].detach()
        if method in GRADIENT_METHODS:
            if request.at_head:
                weights = head_channel_weights(method, a, model.fc.weight, classes)
                return channel_weighted_maps(weights, a, request.eigen_smooth)
            grads = layer_gradients(model, activation, request.layer, classes)
            return combine(gradient_weighted(method, a, grads), request.eigen_smooth)
        if method == "eigencam":
            return first_component(a)[None].expand(len(classes), -1, -1)
        if method == "ablationcam":
            scores = logits[0, classes]
            weights = (
                ablation_weights_at_head(a, model.fc.weight, classes, scores)
                if request.at_head
                else ablation_weights(scores, _ablated_scores(model, a, request))
            )
        elif method == "scorecam":
            weights = torch.softmax(_masked_scores(model, x, a, request), dim=1)
        else:
            raise ValueError(f"unknown CAM method {method!r}")
        return channel_weighted_maps(weights, a, request.eigen_smooth)


def augmented_grids(run: Callable[[Tensor, CamRequest], Tensor], x: Tensor,
                    request: CamRequest) -> np.ndarray:
    """``aug_smooth``: the mean of the scaled maps of the six augmented inputs, each mapped
    back (unflipped), then min-max scaled again. ``run(x, request)`` gives raw maps."""
    total: np.ndarray | None = None
    n = len(AUGMENTATIONS)
    for i, (flip, factor) in enumerate(AUGMENTATIONS):
        xa = x.flip(-1) if flip else x
        if factor != 1.0:
            xa = xa * factor
        grids = normalise(run(xa, _share_progress(request, i, n)))
        if flip:
            grids = grids[..., ::-1]
        total = grids if total is None else total + grids
    assert total is not None
    return rescale(total / n)


def _share_progress(request: CamRequest, index: int, parts: int) -> CamRequest:
    """The request with progress scaled so that ``parts`` runs report one rising count."""
    report = request.progress
    if report is None:
        return request

    def scaled(done: int, total: int) -> None:
        report(index * total + done, parts * total)

    return replace(request, progress=scaled)


def raise_if_cancelled(cancel: CancelCheck | None, what: str) -> None:
    """Raise ``Cancelled`` once ``cancel()`` says so. The check runs with gradients on and
    outside inference mode, not in the torch state of the map asking: between two of its
    batches the caller may run other work on the same model (the window's worker serves
    the photo on screen there during a folder run, a gradient method's map included)."""
    if cancel is None:
        return
    with torch.inference_mode(False), torch.enable_grad():
        stop = cancel()
    if stop:
        raise Cancelled(f"{what} cancelled")


def _check_cancel(request: CamRequest) -> None:
    raise_if_cancelled(request.cancel, request.method)


def _ablated_scores(model: ResNet, a: Tensor, request: CamRequest) -> Tensor:
    """(K, C): the target logits with each channel of ``a`` (C, H, W) ablated in turn,
    from batched forwards of the network after the target layer."""
    channels = a.shape[0]
    value = ablation_value(a)
    classes = torch.as_tensor(request.classes, device=a.device)
    out = torch.empty(len(request.classes), channels, device=a.device)
    step = request.batch_size or ABLATION_BATCH
    with eval_mode(model):
        for start in range(0, channels, step):
            _check_cancel(request)
            stop = min(channels, start + step)
            batch = a[None].repeat(stop - start, 1, 1, 1)
            batch[torch.arange(stop - start), torch.arange(start, stop)] = value
            logits = run_head(model, run_blocks(model, batch, request.layer, None))
            out[:, start:stop] = logits[:, classes].T.float()
            if request.progress is not None:
                request.progress(stop, channels)
    return out


def _masked_scores(model: ResNet, x: Tensor, a: Tensor, request: CamRequest) -> Tensor:
    """(K, C): the target logits for the input masked by each channel's normalised map."""
    channels, size = a.shape[0], (x.shape[-2], x.shape[-1])
    step = request.batch_size or images_per_forward(x.device)
    logits_of = request.logits_of or model
    active = torch.cat([
        score_masks(a[i : i + ABLATION_BATCH], size).flatten(1).amax(dim=1) > 0
        for i in range(0, channels, ABLATION_BATCH)
    ]).nonzero()[:, 0]
    blank = len(active) < channels
    total = len(active) + int(blank)
    classes = torch.as_tensor(request.classes, device=x.device)
    out = torch.empty(len(request.classes), channels, device=x.device)
    with eval_mode(model):
        if blank:
            # An all-zero mask blanks the input: every such channel scores as the blank image.
            _check_cancel(request)
            out[:] = logits_of(torch.zeros_like(x))[0, classes].float()[:, None]
            if request.progress is not None:
                request.progress(1, total)
        for start in range(0, len(active), step):
            _check_cancel(request)
            picked = active[start : start + step]
            masked = x * score_masks(a[picked], size)[:, None]
            out[:, picked] = logits_of(masked)[:, classes].T.float()
            if request.progress is not None:
                request.progress(int(blank) + start + len(picked), total)
    return out
