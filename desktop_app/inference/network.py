"""A torchvision ResNet seen as a chain of named stages.

Splitting the network at a block boundary lets Grad-CAM run the part before the target
layer without autograd and differentiate only the part after it, with no hooks at all.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.models.resnet import ResNet

from desktop_app.core.errors import InvalidArgument

STEM = "stem"


def block_names(model: ResNet) -> tuple[str, ...]:
    """Every residual block, as ``layer<stage>.<index>``."""
    return tuple(
        f"{stage}.{i}"
        for stage in ("layer1", "layer2", "layer3", "layer4")
        for i in range(len(getattr(model, stage)))
    )


def cam_layer_names(model: ResNet) -> tuple[str, ...]:
    """Layers a CAM can target: whole stages first, then single blocks."""
    return ("layer1", "layer2", "layer3", "layer4", *block_names(model))


def layer_choices(model: ResNet) -> str:
    """The CAM layers of ``model`` in words: stages, then the range of blocks in each."""
    stages = ("layer1", "layer2", "layer3", "layer4")
    blocks = ", ".join(f"{s}.0-{s}.{len(getattr(model, s)) - 1}" for s in stages)
    return f"{', '.join(stages)}, or a block: {blocks}"


def canonical_layer(model: ResNet, layer: str) -> str:
    """The block whose output *is* ``layer``'s output (a stage ends with its last block)."""
    if layer in ("layer1", "layer2", "layer3", "layer4"):
        return f"{layer}.{len(getattr(model, layer)) - 1}"
    if layer not in block_names(model):
        raise InvalidArgument(
            "cam_layer", f"unknown CAM layer {layer!r}; choose {layer_choices(model)}"
        )
    return layer


def run_stem(model: ResNet, x: Tensor) -> Tensor:
    return model.maxpool(model.relu(model.bn1(model.conv1(x))))


def run_head(model: ResNet, features: Tensor) -> Tensor:
    return model.fc(model.avgpool(features).flatten(1))


def run_blocks(model: ResNet, x: Tensor, start: str | None, stop: str | None) -> Tensor:
    """Run the blocks after ``start`` (exclusive) up to ``stop`` (inclusive); None = the ends."""
    names = block_names(model)
    first = names.index(start) + 1 if start else 0
    last = names.index(stop) if stop else len(names) - 1
    for name in names[first : last + 1]:
        x = model.get_submodule(name)(x)
    return x


class LogitsAndFeatures(nn.Module):
    """Forward returning ``(logits, layer4 output)``: one pass gives top-k and layer-4 CAMs."""

    def __init__(self, model: ResNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        # Written out (not via run_stem/run_head) so that TorchScript can script it.
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        features = m.layer4(m.layer3(m.layer2(m.layer1(x))))
        return m.fc(torch.flatten(m.avgpool(features), 1)), features
