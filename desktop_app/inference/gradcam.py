"""Grad-CAM (Selvaraju et al.), computed with as little autograd as the layer allows.

At layer4 — followed only by global average pooling and ``fc`` — the gradient of logit c
with respect to every activation is ``fc.weight[c] / (H·W)``, so Grad-CAM's channel weights
are exactly that ("Grad-CAM generalizes CAM") and top-k maps need no backward pass. For an
earlier layer, only the network after that layer is differentiated, with respect to its
input activation, never into the parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torchvision.models.resnet import ResNet

from desktop_app.inference.cam_formulas import channel_weighted_maps, head_channel_weights
from desktop_app.inference.network import block_names, run_blocks, run_head, run_stem


def cams_from_fc(features: Tensor, fc_weight: Tensor, classes: Sequence[int]) -> np.ndarray:
    """Layer-4 Grad-CAM for ``classes`` from one image's (1, C, H, W) features."""
    weights = head_channel_weights("gradcam", features[0], fc_weight, list(classes))
    return normalise(channel_weighted_maps(weights, features[0], eigen_smooth=False))


def split_forward(model: ResNet, x: Tensor, layer: str) -> tuple[Tensor, Tensor]:
    """``(logits, activation at layer)`` for one image, without recording any graph."""
    with torch.no_grad(), eval_mode(model):
        activation = run_blocks(model, run_stem(model, x), None, layer)
        logits = run_head(model, run_blocks(model, activation, layer, None))
    return logits, activation


def cams_by_autograd(
    model: ResNet, activation: Tensor, layer: str, classes: Sequence[int]
) -> np.ndarray:
    """Grad-CAM at ``layer`` (a block name) for ``classes``, given that layer's activation."""
    grads = layer_gradients(model, activation, layer, classes)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    return normalise((weights * activation.detach()).sum(dim=1))


def layer_gradients(
    model: ResNet, activation: Tensor, layer: str, classes: Sequence[int]
) -> Tensor:
    """``∂logit_c/∂activation`` for each of ``classes``: (K, C, H, W), one backward pass.

    The activation is replicated once per class so one backward pass yields every class's
    gradient; ``torch.autograd.grad`` leaves parameters' ``.grad`` untouched.
    """
    if layer not in block_names(model):
        raise ValueError(f"unknown block {layer!r}")
    k = len(classes)
    with torch.enable_grad(), eval_mode(model):
        leaf = activation.detach().repeat(k, 1, 1, 1).requires_grad_(True)
        logits = run_head(model, run_blocks(model, leaf, layer, None))
        picked = logits[torch.arange(k), torch.as_tensor(list(classes), device=logits.device)]
        (grads,) = torch.autograd.grad(picked.sum(), leaf)
    return grads


def normalise(cams: Tensor) -> np.ndarray:
    """ReLU, then min-max to [0, 1] per map, exactly as pytorch-grad-cam scales its maps."""
    out = torch.relu(cams).float().cpu().numpy()
    out -= out.min(axis=(1, 2), keepdims=True)
    out /= 1e-7 + out.max(axis=(1, 2), keepdims=True)
    return out


def rescale(grids: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1] per map (after averaging maps that were each scaled already)."""
    out = grids - grids.min(axis=(1, 2), keepdims=True)
    return out / (1e-7 + out.max(axis=(1, 2), keepdims=True))


class eval_mode:
    """Put a model in eval mode for a block and restore whatever mode it was in."""

    def __init__(self, model: torch.nn.Module) -> None:
        self._model = model
        self._was_training = model.training

    def __enter__(self) -> None:
        self._model.eval()

    def __exit__(self, *_exc: object) -> None:
        self._model.train(self._was_training)
