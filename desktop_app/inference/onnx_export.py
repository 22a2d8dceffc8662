"""A taught (or any loaded) ResNet as ONNX, for runtimes without PyTorch.

The file holds the network from normalised image batch to logits, exactly as
``Classifier.network`` computes them: ``image`` (N, 3, crop, crop), float32, already resized,
cropped and normalised as the checkpoint's preprocessing says (ImageNet mean and std);
``logits`` (N, classes). The batch size is free. Labels stay in the ``.txt`` beside it.

Export uses PyTorch's own exporter (``torch.onnx.export``, the ``torch.export`` based one),
which needs the ``onnx`` and ``onnxscript`` packages: the optional ``onnx`` extra, which also
brings ONNX Runtime to run the result.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import logging
from pathlib import Path

import torch
from torch import nn

from desktop_app.core.atomic import write_atomically
from desktop_app.core.errors import LensError

ONNX_SUFFIX = ".onnx"
INPUT_NAME = "image"
OUTPUT_NAME = "logits"
# The batch dimension's largest value in the exported graph (any smaller batch runs).
_MAX_BATCH = 4096
_NEEDS = ("onnx", "onnxscript")


class OnnxUnavailable(LensError):
    """The optional ``onnx`` extra is not installed."""


def onnx_path_for(checkpoint: Path) -> Path:
    """``NAME.onnx`` beside ``NAME.safetensors``."""
    return checkpoint.with_suffix(ONNX_SUFFIX)


def check_onnx_available() -> None:
    """Raise ``OnnxUnavailable`` (one line, what to install) unless export can run."""
    missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise OnnxUnavailable(
            f"ONNX export needs {' and '.join(missing)}: pip install 'resnet-lens[onnx]'")


def export_onnx(network: nn.Module, target: Path, crop_size: int) -> Path:
    """Write ``network`` (in eval mode, on any device) to ``target`` as ONNX, atomically.
    Raises ``OnnxUnavailable`` without the ``onnx`` extra."""
    check_onnx_available()
    if network.training:
        raise ValueError("export a network in eval mode (batch-norm statistics frozen)")
    on_cpu = all(p.device.type == "cpu" for p in network.parameters())
    model = network if on_cpu else copy.deepcopy(network).cpu()
    example = torch.zeros(2, 3, crop_size, crop_size)
    batch = torch.export.Dim("batch", min=1, max=_MAX_BATCH)
    # The exporter reports each step on stdout and through logging; none of it is for a user.
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
            program = torch.onnx.export(
                model, (example,), input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},), dynamo=True, verbose=False)
    finally:
        quiet.setLevel(level)
    assert program is not None
    data = program.model_proto.SerializeToString()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, lambda stream: stream.write(data))
    return target
