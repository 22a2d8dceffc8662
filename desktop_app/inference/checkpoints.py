"""Loading state dicts safely and working out which torchvision ResNet they belong to."""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop_app.core.errors import WeightsError

if TYPE_CHECKING:
    import torch

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
LABEL_SUFFIXES = (".txt", ".json")
# Wrappers that training scripts commonly save around the state dict.
_CONTAINER_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")
_BLOCK_KEY = re.compile(r"^layer([1-4])\.(\d+)\.")

# (block type, blocks per stage, groups, width per group) -> torchvision builder name
_KNOWN_ARCHS = {
    ("basic", (2, 2, 2, 2), 1, 64): "resnet18",
    ("basic", (3, 4, 6, 3), 1, 64): "resnet34",
    ("bottleneck", (3, 4, 6, 3), 1, 64): "resnet50",
    ("bottleneck", (3, 4, 23, 3), 1, 64): "resnet101",
    ("bottleneck", (3, 8, 36, 3), 1, 64): "resnet152",
    ("bottleneck", (3, 4, 6, 3), 1, 128): "wide_resnet50_2",
    ("bottleneck", (3, 4, 6, 3), 32, 4): "resnext50_32x4d",
}


@dataclass(frozen=True)
class Architecture:
    """A torchvision ``ResNet`` configuration, as read from a state dict's tensors."""

    block: str  # "basic" or "bottleneck"
    layers: tuple[int, int, int, int]
    groups: int
    width_per_group: int
    num_classes: int

    @property
    def name(self) -> str:
        known = _KNOWN_ARCHS.get((self.block, self.layers, self.groups, self.width_per_group))
        if known:
            return known
        blocks = "BasicBlock" if self.block == "basic" else "Bottleneck"
        return f"ResNet({blocks}, {list(self.layers)})"

    def build(self) -> torch.nn.Module:
        from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

        block = BasicBlock if self.block == "basic" else Bottleneck
        return ResNet(
            block,
            list(self.layers),
            num_classes=self.num_classes,
            groups=self.groups,
            width_per_group=self.width_per_group,
        )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a torch checkpoint, never executing pickled code."""
    import torch

    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    safetensors = path.suffix.lower() == ".safetensors"
    if not safetensors and not _is_torch_save_file(path):
        # Else torch's unpickler fails on the first byte, which reads as "pickled code".
        raise WeightsError(f"{path.name}: not a PyTorch checkpoint (torch.save writes a zip "
                           "archive) nor a .safetensors file")
    try:
        if safetensors:
            from safetensors.torch import load_file

            loaded: Any = load_file(str(path), device="cpu")
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise WeightsError(
            f"{path.name}: refused: it holds pickled Python objects beyond tensors, which could "
            "run code, so it was not loaded; save a plain state dict "
            "(torch.save(model.state_dict()))"
        ) from exc
    except Exception as exc:
        # A damaged file can make the zip reader, the unpickler or safetensors raise almost
        # anything (IndexError, KeyError, struct.error, …); all of it means "unreadable".
        reason = str(exc).strip().split("\n")[0][:160] or type(exc).__name__
        raise WeightsError(f"{path.name}: not a readable checkpoint ({reason})") from exc
    return _unwrap(loaded, path)


def _is_torch_save_file(path: Path) -> bool:
    """Whether ``path`` starts as torch.save's files do: a zip archive, or (before PyTorch
    1.6) a pickle stream, which opens with the PROTO opcode."""
    with path.open("rb") as file:
        head = file.read(4)
    return head == b"PK\x03\x04" or head[:1] == b"\x80"


def _unwrap(loaded: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    for _ in range(3):  # {"model": {"state_dict": {...}}} happens
        if isinstance(loaded, Mapping) and not _has_tensors(loaded):
            inner = next((loaded[k] for k in _CONTAINER_KEYS if k in loaded), None)
            if inner is None:
                break
            loaded = inner
    if not isinstance(loaded, Mapping) or not _has_tensors(loaded):
        raise WeightsError(f"{path.name}: holds no state dict of tensors")
    state = {}
    for key, value in loaded.items():
        if isinstance(value, torch.Tensor):
            # DataParallel and torch.compile prefix every key.
            state[str(key).removeprefix("module.").removeprefix("_orig_mod.")] = value
    return state


def _has_tensors(mapping: Mapping[Any, Any]) -> bool:
    import torch

    return any(isinstance(v, torch.Tensor) for v in mapping.values())


def infer_architecture(state: Mapping[str, torch.Tensor], source: str) -> Architecture:
    """Block type, blocks per stage, grouping and class count from the tensors' names and shapes."""
    if "fc.weight" not in state or "conv1.weight" not in state:
        raise WeightsError(f"{source}: not a torchvision ResNet state dict (no conv1/fc weights)")
    counts = [0, 0, 0, 0]
    for key in state:
        match = _BLOCK_KEY.match(key)
        if match:
            stage, index = int(match.group(1)) - 1, int(match.group(2))
            counts[stage] = max(counts[stage], index + 1)
    if 0 in counts:
        raise WeightsError(f"{source}: not a torchvision ResNet state dict (a stage has no blocks)")
    block = "bottleneck" if "layer1.0.conv3.weight" in state else "basic"
    groups, width_per_group = 1, 64
    if block == "bottleneck":
        width = state["layer1.0.conv2.weight"].shape[0]  # planes * width_per_group/64 * groups
        groups = width // state["layer1.0.conv2.weight"].shape[1]
        width_per_group = width // groups  # layer1 has 64 planes, so this is width_per_group
    return Architecture(
        block,
        tuple(counts),
        groups,
        width_per_group,  # type: ignore[arg-type]
        int(state["fc.weight"].shape[0]),
    )


def build_loaded(
    build: Callable[[], torch.nn.Module], state: Mapping[str, torch.Tensor], source: str
) -> torch.nn.Module:
    """The network ``build`` makes, holding ``state`` (``strict``), with an error that names
    what does not fit.

    The network is built on the meta device and the state's tensors are assigned to it: a
    ResNet-50's random initialisation (0.5 s on a 2-core CPU) would be overwritten at once,
    and it is a third of what a one-photo ``predict`` spends after importing torch.
    """
    import torch

    with torch.device("meta"):
        model = build()
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [
        f"{k} is {tuple(state[k].shape)}, the model needs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and state[k].shape != v.shape
    ]
    problems = []
    if wrong:
        problems.append(
            "; ".join(wrong[:3]) + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")
        )
    if missing:
        problems.append(f"missing {', '.join(missing[:3])}" + (" …" if len(missing) > 3 else ""))
    if unexpected:
        problems.append(
            f"unexpected {', '.join(unexpected[:3])}" + (" …" if len(unexpected) > 3 else "")
        )
    if problems:
        raise WeightsError(f"{source} does not fit the model: {'; '.join(problems)}")
    # assign=True keeps the state's dtype, so cast to the model's own (a half-precision
    # checkpoint still gives a float32 network, as copying into it did).
    model.load_state_dict(
        {k: state[k].to(v.dtype).contiguous() for k, v in expected.items()},
        strict=True,
        assign=True,
    )
    return model


def find_labels_file(checkpoint: Path) -> Path | None:
    """A labels file beside the checkpoint: same stem first, then the usual names."""
    candidates = [checkpoint.with_suffix(s) for s in LABEL_SUFFIXES]
    candidates += [
        checkpoint.parent / f"{n}{s}" for n in ("labels", "classes") for s in LABEL_SUFFIXES
    ]
    return next((c for c in candidates if c.is_file()), None)


def read_labels(source: str | Path | Sequence[str]) -> tuple[str, ...]:
    """Labels from a list, a ``.txt`` (one per line) or a ``.json`` list / {index: label} map."""
    if not isinstance(source, (str, Path)):
        return tuple(str(label) for label in source)
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"{path.name}: cannot read labels ({exc.__class__.__name__})") from exc
    if path.suffix.lower() != ".json":
        return tuple(line.strip() for line in text.splitlines() if line.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{path.name}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    if isinstance(data, list):
        return tuple(str(x) for x in data)
    if isinstance(data, dict):
        try:
            items = sorted((int(k), str(v)) for k, v in data.items())
        except ValueError as exc:
            raise WeightsError(f"{path.name}: JSON label keys must be class indices") from exc
        if [i for i, _ in items] != list(range(len(items))):
            raise WeightsError(f"{path.name}: JSON label indices must run 0…{len(items) - 1}")
        return tuple(v for _, v in items)
    raise WeightsError(f"{path.name}: JSON labels must be a list or an {{index: label}} object")
