"""Shared fixtures. No test may reach the network: sockets are blocked for the session."""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from support.shapes_model import ShapesModel

# Before anything imports Qt or torch: headless Qt, and a private torch cache so no test
# reads or writes the user's real one.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="resnet-lens-tests-"))
os.environ["TORCH_HOME"] = str(_SESSION_HOME / "torch")
os.environ.pop("RESNET_LENS_WEIGHTS_DIR", None)


class NetworkBlocked(OSError):
    """Raised by any socket connect made during the tests."""


def _refuse(*_args: object, **_kwargs: object) -> None:
    raise NetworkBlocked("tests must not touch the network")


# Unix sockets stay usable (Qt and multiprocessing use them); every inet connect is refused.
_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _refuse()
    _real_connect(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.create_connection = _refuse  # type: ignore[assignment]
socket.getaddrinfo = _refuse  # type: ignore[assignment]


def write_fake_weights(model_name: str, seed: int = 0) -> Path:
    """Seeded random weights for an official torchvision model, saved where torchvision's
    own cache would keep the real file (``$TORCH_HOME/hub/checkpoints/<url basename>``)."""
    import torch
    import torchvision

    weights = torchvision.models.get_model_weights(model_name).DEFAULT
    path = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints" / Path(weights.url).name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(seed)
        model = torchvision.models.get_model(model_name, weights=None)
        # Random BN statistics, so that activations differ between inputs like a real net's.
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.1, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
        tmp = path.with_suffix(".part")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
    return path


@pytest.fixture(scope="session")
def resnet18_weights() -> Path:
    return write_fake_weights("resnet18")


@pytest.fixture(scope="session")
def resnet50_weights() -> Path:
    return write_fake_weights("resnet50")


# Training the shapes model took 260 s on CI's machine and over 300 s (the suite's per-test
# timeout) on another of the same kind: whichever test sets it up first may take this long.
SHAPES_TRAINING_TIMEOUT = 1200


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "shapes_model" not in getattr(item, "fixturenames", ()):
            continue
        own = item.get_closest_marker("timeout")
        if own is None or (own.args and own.args[0] < SHAPES_TRAINING_TIMEOUT):
            item.add_marker(pytest.mark.timeout(SHAPES_TRAINING_TIMEOUT), append=False)


@pytest.fixture(scope="session")
def shapes_model(request: pytest.FixtureRequest) -> ShapesModel:
    """A small ResNet trained on synthetic shapes: a model that learned something. Trained
    once (a few minutes), then reused from pytest's cache across runs."""
    from support.shapes_model import shapes_model_fixture

    return shapes_model_fixture(request)
