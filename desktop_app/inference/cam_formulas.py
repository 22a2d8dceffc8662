"""The formulas of the eight CAM methods, as pytorch-grad-cam 1.5 computes them.

Pure tensor functions of one image's activation ``A`` (C, H, W) at the target layer and, for
gradient methods, the gradients ``G`` (K, C, H, W) of the K target logits with respect to
``A``. Each returns the maps *before* ReLU and min-max scaling (``gradcam.normalise``).

Where pytorch-grad-cam departs from the papers we follow it, for parity:

- Grad-CAM++: weights ``Σ ReLU(g)·g²/(2g² + ΣA·g³ + 1e-6)`` (its eq. 19 with the exponential
  dropped, as the paper's own code does), zero where ``g`` is 0.
- XGrad-CAM: weights ``Σ g·A / (ΣA + 1e-7)``.
- Eigen-CAM: the projection of the position-centred activations on their first principal
  component. SVD's sign is arbitrary; pytorch-grad-cam leaves it so (its maps can come out
  inverted or blank after ReLU). We choose the sign for which the projection correlates
  positively with the mean over channels of the projected matrix — for Eigen-CAM the mean
  activation, for ``eigen_smooth`` the unsmoothed map. The same rule serves ``eigen_smooth``.
- Ablation-CAM: weights ``(s − s_k)/s`` with ``s`` the target logit and ``s_k`` the logit
  with channel k ablated — divided by ``s``, so a negative logit inverts the map. The ablated
  channel is set to 0 when the activation's minimum is 0 (always so after a block's final
  ReLU, unless no unit is zero), else to ``min − 1e7``. pytorch-grad-cam's loop writes that
  value in place and reads the minimum again for the next channel in the batch, so its k-th
  channel of each batch gets ``min − k·1e7``; we use ``min − 1e7`` for every channel (weights
  must not depend on a batch size), and claim parity only for the zeroing case.
- Score-CAM: weights are a softmax over channels of the target logit for the input masked by
  each channel's activation, upsampled (bilinear, corners aligned) and min-max scaled
  (``+1e-8``).

Layer4 in closed form. After layer4 a ResNet has only global average pooling and ``fc``:
``y_c = b_c + Σ_k W[c,k]·mean(A_k)``. Hence

- ``∂y_c/∂A_k(i,j) = g_ck = W[c,k]/(H·W)`` at every position: every gradient method needs
  no backward pass there, and since ``g`` is constant over positions each reduces to one
  weight per channel (``head_channel_weights``), the map being ``Σ_k w_ck·A_k``:
  Grad-CAM and HiResCAM ``w = g`` (the mean of a constant; ``Σ_k g·A_k`` summed per
  position), LayerCAM ``ReLU(g)``, XGrad-CAM ``g·ΣA_k/(ΣA_k + 1e-7)``, Grad-CAM++
  ``H·W·ReLU(g)·g²/(2g² + ΣA_k·g³ + 1e-6)`` (zero where g is 0). No (K, C, H, W) gradient
  stack is built.
- Ablating channel k to a constant ``v`` changes the mean of A_k from ``mean(A_k)`` to ``v``
  and nothing else, so ``s_k = s − W[c,k]·(mean(A_k) − v)`` exactly: Ablation-CAM needs no
  extra forward there either (``ablation_weights_at_head``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

GRADIENT_METHODS: tuple[str, ...] = ("gradcam", "hirescam", "gradcam++", "xgradcam", "layercam")
_SPATIAL = (2, 3)


def head_channel_weights(method: str, activation: Tensor, fc_weight: Tensor,
                         classes: list[int]) -> Tensor:
    """(K, C) weights of a gradient method at layer4, from the closed-form gradient (module
    docstring): the maps equal ``gradient_weighted``'s with that gradient at every position."""
    _, h, w = activation.shape
    g = fc_weight[classes].float() / (h * w)  # (K, C)
    if method in ("gradcam", "hirescam"):
        return g
    if method == "layercam":
        return torch.relu(g)
    sum_a = activation.float().sum(dim=(1, 2))[None]  # (1, C)
    if method == "xgradcam":
        return g * sum_a / (sum_a + 1e-7)
    if method == "gradcam++":
        g2 = g * g
        aij = torch.where(g != 0, g2 / (2 * g2 + sum_a * g2 * g + 1e-6), torch.zeros_like(g))
        return (h * w) * torch.relu(g) * aij
    raise ValueError(f"{method!r} is not a gradient CAM method")


def gradient_weighted(method: str, activation: Tensor, grads: Tensor) -> Tensor:
    """The weighted activations (K, C, H, W) whose sum over channels is the map."""
    a = activation.float()[None]  # (1, C, H, W)
    g = grads.float()
    if method == "hirescam":
        return g * a
    if method == "layercam":
        return torch.relu(g) * a
    if method == "gradcam":
        weights = g.mean(dim=_SPATIAL)
    elif method == "gradcam++":
        g2 = g * g
        g3 = g2 * g
        sum_a = a.sum(dim=_SPATIAL, keepdim=True)
        aij = g2 / (2 * g2 + sum_a * g3 + 1e-6)
        aij = torch.where(g != 0, aij, torch.zeros_like(aij))
        weights = (torch.relu(g) * aij).sum(dim=_SPATIAL)
    elif method == "xgradcam":
        sum_a = a.sum(dim=_SPATIAL, keepdim=True)
        weights = (g * a / (sum_a + 1e-7)).sum(dim=_SPATIAL)
    else:
        raise ValueError(f"{method!r} is not a gradient CAM method")
    return weights[:, :, None, None] * a


def weighted_by_channel(weights: Tensor, activation: Tensor) -> Tensor:
    """(K, C) channel weights times the (C, H, W) activation: (K, C, H, W)."""
    return weights.float()[:, :, None, None] * activation.float()[None]


def combine(weighted: Tensor, eigen_smooth: bool) -> Tensor:
    """Sum over channels, or with ``eigen_smooth`` the first principal component: (K, H, W)."""
    if eigen_smooth:
        return torch.stack([first_component(m) for m in weighted])
    return weighted.sum(dim=1)


def channel_weighted_maps(weights: Tensor, activation: Tensor, eigen_smooth: bool) -> Tensor:
    """``combine`` of ``weighted_by_channel``; without ``eigen_smooth`` one matrix product,
    never building the (K, C, H, W) stack."""
    if eigen_smooth:
        return combine(weighted_by_channel(weights, activation), True)
    c, h, w = activation.shape
    return (weights.float() @ activation.float().reshape(c, h * w)).reshape(-1, h, w)


def first_component(maps: Tensor) -> Tensor:
    """pytorch-grad-cam's ``get_2d_projection`` of one (C, H, W) stack, sign resolved.

    Positions are samples, channels features; after centring each channel over positions the
    positions are projected on the first right singular vector. The sign is chosen so that the
    projection correlates positively with the channels' mean (the projection has zero mean,
    so the sign of its dot product with that mean map decides). numpy's SVD, as
    pytorch-grad-cam's: single-threaded under ``engine_threads`` it took 3 ms for layer4 of
    ResNet-18 where torch's, with two intra-op threads on a loaded 2-core CPU, took 0.9 s.
    """
    c, h, w = maps.shape
    x = np.nan_to_num(maps.detach().float().cpu().numpy()).reshape(c, h * w).T
    mean_map = x.mean(axis=1)
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    projection = x @ vt[0]
    if float(projection @ mean_map) < 0:
        projection = -projection
    return torch.from_numpy(projection.reshape(h, w)).to(maps.device)


def ablation_value(activation: Tensor) -> float:
    """What an ablated channel is set to: 0 if the activation's minimum is 0, else min − 1e7."""
    low = float(activation.min())
    return 0.0 if low == 0.0 else low - 1e7


def ablation_weights(scores: Tensor, ablated: Tensor) -> Tensor:
    """``(s − s_k)/s``: ``scores`` (K,), ``ablated`` (K, C) the scores with channel k ablated."""
    s = scores.float()[:, None]
    return (s - ablated.float()) / s


def ablation_weights_at_head(
    activation: Tensor, fc_weight: Tensor, classes: list[int], scores: Tensor
) -> Tensor:
    """Ablation-CAM's (K, C) weights at layer4 without a forward: ``W[c,k]·(mean A_k − v)/s``."""
    v = ablation_value(activation)
    drop = fc_weight[classes].float() * (activation.float().mean(dim=(1, 2)) - v)[None]
    return drop / scores.float()[:, None]


def score_masks(activation: Tensor, size: tuple[int, int]) -> Tensor:
    """Score-CAM's masks for (C', H, W) channels: upsampled with corners aligned, min-max
    scaled per channel as pytorch-grad-cam does (``/(max − min + 1e-8)``): (C', *size)."""
    up = torch.nn.functional.interpolate(
        activation.float()[None], size=size, mode="bilinear", align_corners=True
    )[0]
    flat = up.reshape(up.shape[0], -1)
    low = flat.min(dim=1).values[:, None, None]
    high = flat.max(dim=1).values[:, None, None]
    return (up - low) / (high - low + 1e-8)
