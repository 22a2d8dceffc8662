"""Choosing a device, and recognising the errors that justify falling back to the CPU."""

from __future__ import annotations

import torch

from desktop_app.core.errors import LensError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

# Images per forward where a run has many (a folder, Score-CAM's masked inputs, the scoring's
# perturbed images). On a 2-core CPU (AMD EPYC, AVX2, idle) the fused forward is fastest one
# image at a time: ResNet-50 66 ms an image at batch 1, 87 ms at 8, 100 ms at 16; ResNet-18
# 28 / 43 / 46 ms (activations that fit the caches beat larger matrix products), and batch 1
# is the shape it is already compiled for. GPUs want large batches.
_IMAGES_PER_FORWARD = {"cpu": 1, "cuda": 32, "mps": 16}


def available_devices() -> tuple[str, ...]:
    """Devices usable in this process, in the order ``auto`` tries them."""
    found = []
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        found.append("mps")
    found.append("cpu")
    return tuple(found)


def images_per_forward(device: torch.device | str) -> int:
    """The batch size at which ``device`` runs the most images a second."""
    return _IMAGES_PER_FORWARD.get(torch.device(device).type, 1)


def resolve_device(choice: str) -> torch.device:
    """``auto`` = CUDA, then Apple MPS, then CPU; an explicit choice must be available."""
    if choice == "auto":
        return torch.device(available_devices()[0])
    try:
        device = torch.device(choice)
    except RuntimeError as exc:
        raise LensError(
            f"unknown device {choice!r}; choose one of {', '.join(DEVICE_CHOICES)}"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LensError("CUDA was asked for, but no CUDA GPU is usable here (use --device cpu)")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise LensError(f"{choice}: only {torch.cuda.device_count()} CUDA device(s) here")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise LensError("Apple MPS was asked for, but it is not available here (use --device cpu)")
    return device


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA/MPS allocation failures, whatever class this torch version raises them as."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
