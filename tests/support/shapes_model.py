"""A small torchvision ResNet trained on synthetic shapes, for tests that need a model that
looks at the picture (its Grad-CAM must land on the shape, not just anywhere).

Images are non-square; one shape sits off-centre on a mottled, scribbled, noisy background.
Each class has its own outline and its own fill pattern (circle: dots, square: checks,
triangle: horizontal stripes, cross: vertical stripes) in two random colours, at a random
size and place. The patterns are there because a from-scratch network learns outlines
alone far too slowly for a test's time budget (near chance after 3,000 images); with them it
learns in three epochs, and nothing outside the shape carries any class evidence.

Training uses the engine's own preprocessing (short side to 232, centre crop 224, ImageNet
normalisation) and keeps every shape inside that crop. The model is
``torchvision.models.resnet.ResNet`` with one BasicBlock per stage, so the engine can load its
state_dict as a custom checkpoint. Training takes about two CPU-minutes on one core;
``trained_shapes_model`` caches the result under a key derived from this file's source, so
editing this file retrains. ``python tests/support/shapes_model.py --out DIR`` trains and writes the
files explicitly.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

if __name__ == "__main__":  # run as a script: make the repository's package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop_app.core.geometry import CropGeometry

if TYPE_CHECKING:
    import pytest
    import torch

logger = logging.getLogger(__name__)

CLASSES = ("circle", "square", "triangle", "cross")
RESIZE_SIZE = 232
CROP_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TRAIN_SEED = 0
HELDOUT_SEED = 20240611
EDGE_SEED = 20261130
TRAIN_IMAGES = 1536
EPOCHS = 3
BATCH_SIZE = 16
LEARNING_RATE = 1e-3
CELL_LOSS_WEIGHT = 1.0
# The first epochs train on windows around the shapes (cheaper), the last on whole crops.
PATCH_EPOCHS = 2
PATCH_SIZE = 160
# One thread: on a busy machine two threads wait on each other and train four times slower;
# on an idle one two threads would be at most twice as fast.
TRAIN_THREADS = 1
MAX_TILT_DEGREES = 15.0

WEIGHTS_NAME = "shapes_resnet.pth"
LABELS_NAME = "shapes_labels.txt"

# Shape extent in model-input (crop) pixels, and the gap kept to the crop's border. A shape
# at least two 32-pixel layer4 cells wide always contains a cell centre, where a bilinearly
# upsampled 7x7 CAM peaks; the border gap keeps the peak off the edge-replicated rim.
_SHAPE_CROP_PX = (80.0, 130.0)
_BORDER_CROP_PX = 20.0
_PATTERN_PERIOD_CROP_PX = (10.0, 16.0)


@dataclass(frozen=True)
class Sample:
    """One synthetic image: the shape's class index and its tight box in original pixels."""

    image: Image.Image
    label: int
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class ShapesModel:
    """A trained checkpoint the engine can load with ``load_classifier(weights=, labels=)``."""

    weights: Path
    labels: Path
    classes: tuple[str, ...]


def crop_geometry(width: int, height: int) -> CropGeometry:
    return CropGeometry.for_transform(width, height, RESIZE_SIZE, CROP_SIZE)


def _random_canvas_size(rng: np.random.Generator) -> tuple[int, int]:
    short = int(rng.integers(240, 401))
    long = int(short * rng.uniform(1.25, 1.8))
    return (long, short) if rng.random() < 0.5 else (short, long)


def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Smooth colour blotches, as float32 (H, W, 3) in [0, 255]."""
    coarse = rng.uniform(40, 215, size=(int(rng.integers(3, 7)), int(rng.integers(3, 7)), 3))
    blotches = Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BICUBIC)
    return np.asarray(blotches, dtype=np.float32)


def _scribble(rng: np.random.Generator, draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    """Thin random lines all over the canvas: clutter that belongs to no class."""
    for _ in range(int(rng.integers(4, 10))):
        points = [
            (float(rng.uniform(0, width)), float(rng.uniform(0, height)))
            for _ in range(int(rng.integers(2, 4)))
        ]
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.line(points, fill=colour, width=int(rng.integers(1, 4)))


def _outline(label: int, tilt: float) -> np.ndarray | None:
    """The shape as a polygon whose outermost vertices lie on the unit circle, or None for
    the circle.

    Shapes stay roughly upright (a small random tilt): a from-scratch network learns
    upright outlines within the few epochs the time budget allows.
    """
    name = CLASSES[label]
    if name == "circle":
        return None
    if name == "square":
        t = math.pi / 4 + np.arange(4) * math.pi / 2
        base = np.stack([np.cos(t), np.sin(t)], axis=1)
    elif name == "triangle":  # apex up (image y grows downwards)
        t = -math.pi / 2 + np.arange(3) * 2 * math.pi / 3
        base = np.stack([np.cos(t), np.sin(t)], axis=1)
    else:  # cross: a plus sign whose arms are a third of its span wide
        a, b = 1 / 3, 1.0
        base = np.array([(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a),
                         (a, b), (-a, b), (-a, a), (-b, a), (-b, -a), (-a, -a)])
        base /= np.hypot(b, a)  # outermost corners on the unit circle
    rotation = np.array([[math.cos(tilt), -math.sin(tilt)], [math.sin(tilt), math.cos(tilt)]])
    return base @ rotation.T


def _distinct_colour(rng: np.random.Generator, *others: np.ndarray) -> np.ndarray:
    """A random colour far (L1 >= 150) from each of ``others``."""
    while True:
        colour = rng.integers(0, 256, size=3).astype(np.float32)
        if all(np.abs(colour - other).sum() >= 150 for other in others):
            return colour


def _pattern(label: int, u: np.ndarray, v: np.ndarray, period: float) -> np.ndarray:
    """Where the second colour goes, over shape-aligned coordinates in crop pixels."""
    name = CLASSES[label]
    if name == "circle":  # polka dots
        du, dv = u % period - period / 2, v % period - period / 2
        return du * du + dv * dv < (0.3 * period) ** 2
    if name == "square":  # checkerboard
        return (np.floor(u / (period / 2)) + np.floor(v / (period / 2))) % 2 == 1
    if name == "triangle":  # horizontal stripes
        return np.floor(v / (period / 2)) % 2 == 1
    return np.floor(u / (period / 2)) % 2 == 1  # cross: vertical stripes


def make_sample(
    rng: np.random.Generator,
    label: int,
    canvas: tuple[int, int] | None = None,
    shape_crop_px: tuple[float, float] = _SHAPE_CROP_PX,
    edge_slack_crop_px: float | None = None,
    pattern: int | None = None,
) -> Sample:
    """One image of class ``label``: on a random canvas, the shape anywhere in the crop; or
    on ``canvas`` (width, height), with the shape within ``edge_slack_crop_px`` of the
    border gap at one end of the crop's long axis (a random end). ``pattern`` fills the
    shape with another class's pattern: combinations the model never saw (transfer tests)."""
    width, height = canvas or _random_canvas_size(rng)
    geometry = crop_geometry(width, height)
    scale = min(geometry.scale_x, geometry.scale_y)  # original -> crop pixels (about equal)
    sx0, sy0, sx1, sy1 = geometry.seen_box()

    radius = rng.uniform(*shape_crop_px) / 2 / scale
    tilt = math.radians(rng.uniform(-MAX_TILT_DEGREES, MAX_TILT_DEGREES))
    unit = _outline(label, tilt)
    lo, hi = (np.array([-1.0, -1.0]), np.array([1.0, 1.0])) if unit is None else (
        unit.min(axis=0), unit.max(axis=0))
    border = _BORDER_CROP_PX / scale
    x_range = [sx0 + border - lo[0] * radius, sx1 - border - hi[0] * radius]
    y_range = [sy0 + border - lo[1] * radius, sy1 - border - hi[1] * radius]
    if edge_slack_crop_px is not None:
        along = x_range if width >= height else y_range
        slack = edge_slack_crop_px / scale
        if rng.random() < 0.5:
            along[1] = along[0] + slack
        else:
            along[0] = along[1] - slack
    cx = rng.uniform(*x_range)
    cy = rng.uniform(*y_range)
    box = (cx + lo[0] * radius, cy + lo[1] * radius, cx + hi[0] * radius, cy + hi[1] * radius)

    pixels = _background(rng, width, height)
    background = Image.fromarray(pixels.astype(np.uint8))
    _scribble(rng, ImageDraw.Draw(background), width, height)

    # The pattern is drawn only over the shape's box: whole-canvas grids would cost more.
    left, top = math.floor(box[0]), math.floor(box[1])
    size = (math.ceil(box[2]) + 1 - left, math.ceil(box[3]) + 1 - top)
    mask = Image.new("L", size, 0)
    if unit is None:
        ImageDraw.Draw(mask).ellipse([box[0] - left, box[1] - top, box[2] - left, box[3] - top],
                                     fill=255)
    else:
        corners = [(cx - left + x * radius, cy - top + y * radius) for x, y in unit]
        ImageDraw.Draw(mask).polygon(corners, fill=255)
    # Two random colours, distinct from each other and from the background under the shape.
    under = pixels[top:top + size[1], left:left + size[0]].reshape(-1, 3).mean(axis=0)
    first = _distinct_colour(rng, under)
    second = _distinct_colour(rng, under, first)
    ys, xs = np.mgrid[top:top + size[1], left:left + size[0]].astype(np.float32)
    dx, dy = (xs - cx) * scale, (ys - cy) * scale
    u = dx * math.cos(tilt) + dy * math.sin(tilt)
    v = -dx * math.sin(tilt) + dy * math.cos(tilt)
    period = rng.uniform(*_PATTERN_PERIOD_CROP_PX)
    drawn = _pattern(label if pattern is None else pattern, u, v, period)
    fill = np.where(drawn[..., None], second, first)
    background.paste(Image.fromarray(fill.astype(np.uint8)), (left, top), mask)

    # Uniform integer noise: as good as Gaussian here, and ten times cheaper to make.
    noise = rng.integers(-24, 25, size=(height, width, 3), dtype=np.int16)
    noisy = np.asarray(background, dtype=np.int16) + noise
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    return Sample(image, label, tuple(float(v) for v in box))


def make_dataset(n: int, seed: int) -> list[Sample]:
    """``n`` samples with the classes in turn; the same seed gives the same images."""
    streams = np.random.SeedSequence(seed).spawn(n)
    return [make_sample(np.random.default_rng(s), i % len(CLASSES)) for i, s in enumerate(streams)]


def make_heldout_set(n: int, seed: int = HELDOUT_SEED) -> list[Sample]:
    """Images the model never trained on (a seed other than the training one)."""
    if seed == TRAIN_SEED:
        raise ValueError("held-out images need a seed other than the training seed")
    return make_dataset(n, seed)


def make_edge_set(n: int, seed: int = EDGE_SEED) -> list[Sample]:
    """Held-out images where a wrong crop mapping shows: very wide or very tall canvases
    (3.5-4.5 times as long as high) with a smallish shape near one end of the crop. There,
    a map stretched over the whole image, ignoring resize and crop, puts the shape three or
    more layer-4 cells away from where the crop had it; with the crop's offset forgotten,
    nine or more."""
    if seed == TRAIN_SEED:
        raise ValueError("held-out images need a seed other than the training seed")
    streams = np.random.SeedSequence(seed).spawn(n)
    samples = []
    for i, stream in enumerate(streams):
        rng = np.random.default_rng(stream)
        short = int(rng.integers(240, 321))
        long = int(short * rng.uniform(3.5, 4.5))
        canvas = (long, short) if i % 2 == 0 else (short, long)
        samples.append(make_sample(rng, (i // 2) % len(CLASSES), canvas,
                                   shape_crop_px=(80.0, 96.0), edge_slack_crop_px=8.0))
    return samples


def crop_uint8(image: Image.Image) -> torch.Tensor:
    """The engine's resize + centre crop, as a (3, 224, 224) uint8 tensor."""
    from torchvision.transforms import v2

    transform = v2.Compose([v2.Resize(RESIZE_SIZE, antialias=True), v2.CenterCrop(CROP_SIZE),
                            v2.PILToTensor()])
    return transform(image.convert("RGB"))


def normalise(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float, ImageNet-normalised, like ToTensor + Normalize."""
    import torch

    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (batch_uint8.float() / 255.0 - mean) / std


def build_model() -> torch.nn.Module:
    from torchvision.models.resnet import BasicBlock, ResNet

    # Residual branches start at zero (every block an identity): trains faster from scratch.
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=len(CLASSES), zero_init_residual=True)


def train(out_dir: Path) -> ShapesModel:
    """Train from scratch (deterministically) and write the weights and labels to ``out_dir``."""
    import torch

    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(TRAIN_THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        state = _train_state_dict()
    finally:  # training must not change the settings of the process that asked for it
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)

    out_dir.mkdir(parents=True, exist_ok=True)
    weights, labels = out_dir / WEIGHTS_NAME, out_dir / LABELS_NAME
    torch.save(state, weights)
    labels.write_text("".join(f"{c}\n" for c in CLASSES), encoding="utf-8")
    return ShapesModel(weights, labels, CLASSES)


def _box_in_crop(sample: Sample) -> tuple[float, float, float, float]:
    g = crop_geometry(*sample.image.size)
    x0, y0, x1, y1 = sample.box
    return (x0 * g.scale_x - g.left, y0 * g.scale_y - g.top,
            x1 * g.scale_x - g.left, y1 * g.scale_y - g.top)


def _cell_logits(model: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The classifier applied at every layer4 cell: (N, 7, 7, classes). Their mean over the
    cells is exactly the model's output (average pooling, then an affine layer)."""
    x = model.maxpool(model.relu(model.bn1(model.conv1(batch))))
    features = model.layer4(model.layer3(model.layer2(model.layer1(x))))
    return model.fc(features.permute(0, 2, 3, 1))


def _cell_targets(labels: torch.Tensor, boxes: torch.Tensor, size: int, grid: int) -> torch.Tensor:
    """Soft targets per cell: the class on the shape, uniform (no vote) elsewhere.

    A cell counts as on the shape when the point where upsampling the CAM puts that cell
    (its centre in the input) lies in the shape's box. Teaching the cells this way gives 49
    labels per image instead of one, which speeds learning a lot, and makes the CAM peak on
    the shape even though a layer4 cell's receptive field is centred half a cell up-left
    of that point.
    """
    import torch

    centres = (torch.arange(grid) + 0.5) * size / grid
    in_x = (centres >= boxes[:, 0:1]) & (centres <= boxes[:, 2:3])
    in_y = (centres >= boxes[:, 1:2]) & (centres <= boxes[:, 3:4])
    inside = (in_y[:, :, None] & in_x[:, None, :])[..., None]
    n_classes = len(CLASSES)
    one_hot = torch.nn.functional.one_hot(labels, n_classes).float()[:, None, None, :]
    return torch.where(inside, one_hot, torch.full_like(one_hot, 1.0 / n_classes))


def _windows_around_shapes(
    batch: torch.Tensor, boxes: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random PATCH_SIZE windows of the crops, each holding its whole shape, and the boxes in
    them. Same pixel scale as the crop, about half the cost per image."""
    import torch

    windows, offsets = [], []
    for image, (x0, y0, x1, y1) in zip(batch, boxes.tolist(), strict=True):
        lo_x, hi_x = max(0, math.ceil(x1) - PATCH_SIZE), min(CROP_SIZE - PATCH_SIZE, int(x0))
        lo_y, hi_y = max(0, math.ceil(y1) - PATCH_SIZE), min(CROP_SIZE - PATCH_SIZE, int(y0))
        left = int(torch.randint(lo_x, hi_x + 1, (1,), generator=generator))
        top = int(torch.randint(lo_y, hi_y + 1, (1,), generator=generator))
        windows.append(image[:, top:top + PATCH_SIZE, left:left + PATCH_SIZE])
        offsets.append((left, top, left, top))
    return torch.stack(windows), boxes - torch.tensor(offsets, dtype=boxes.dtype)


def _train_state_dict() -> dict[str, torch.Tensor]:
    import torch
    from torch.nn.functional import cross_entropy

    started = time.perf_counter()
    samples = make_dataset(TRAIN_IMAGES, TRAIN_SEED)
    images = torch.stack([crop_uint8(s.image) for s in samples])
    targets = torch.tensor([s.label for s in samples])
    boxes = torch.tensor([_box_in_crop(s) for s in samples])
    logger.info("made %d training crops in %.1f s", len(samples), time.perf_counter() - started)

    torch.manual_seed(TRAIN_SEED)
    # Channels-last convolutions are about 30% faster on CPU; the saved tensors are made
    # contiguous again below.
    model = build_model().to(memory_format=torch.channels_last)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    steps_per_epoch = math.ceil(len(samples) / BATCH_SIZE)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=LEARNING_RATE, total_steps=EPOCHS * steps_per_epoch, pct_start=0.15)
    generator = torch.Generator().manual_seed(TRAIN_SEED)
    model.train()
    for epoch in range(EPOCHS):
        order = torch.randperm(len(samples), generator=generator)
        correct, total_loss = 0, 0.0
        for start in range(0, len(samples), BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            batch, batch_boxes, labels = images[idx], boxes[idx], targets[idx]
            if epoch < PATCH_EPOCHS:
                batch, batch_boxes = _windows_around_shapes(batch, batch_boxes, generator)
            # Mirroring keeps every class what it is (the patterns too): free extra variety.
            flip = torch.rand(len(idx), generator=generator) < 0.5
            batch[flip] = batch[flip].flip(-1)
            size = batch.shape[-1]
            batch_boxes[flip] = torch.stack(
                [size - batch_boxes[flip, 2], batch_boxes[flip, 1],
                 size - batch_boxes[flip, 0], batch_boxes[flip, 3]], dim=1)
            cells = _cell_logits(model, normalise(batch).contiguous(
                memory_format=torch.channels_last))
            logits = cells.mean(dim=(1, 2))
            cell_targets = _cell_targets(labels, batch_boxes, size, cells.shape[1])
            loss = cross_entropy(logits, labels) + CELL_LOSS_WEIGHT * cross_entropy(
                cells.reshape(-1, len(CLASSES)), cell_targets.reshape(-1, len(CLASSES)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == labels).sum())
        logger.info("epoch %d: loss %.3f, train accuracy %.3f, %.0f s elapsed", epoch + 1,
                    total_loss / len(samples), correct / len(samples),
                    time.perf_counter() - started)
    model.eval()
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def source_key() -> str:
    """Changes whenever this file (the data and the recipe) or torch's version changes."""
    import torch

    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(torch.__version__.encode())
    return digest.hexdigest()[:16]


def trained_shapes_model(cache_dir: Path) -> ShapesModel:
    """The trained model, from ``cache_dir`` when this recipe was trained before."""
    key = source_key()
    final = cache_dir / key
    if not ((final / WEIGHTS_NAME).is_file() and (final / LABELS_NAME).is_file()):
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Models from older recipes (~20 MB each), and this one's if it lost a file.
        for stale in cache_dir.iterdir():
            if stale.is_dir() and not stale.name.startswith("."):
                shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=".training-", dir=cache_dir))
        try:
            train(staging)
            try:
                os.replace(staging, final)
            except OSError:  # another process finished first; its files are the same
                if not (final / WEIGHTS_NAME).is_file():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return ShapesModel(final / WEIGHTS_NAME, final / LABELS_NAME, CLASSES)


def shapes_model_fixture(request: pytest.FixtureRequest) -> ShapesModel:
    """Body for a session fixture: trains once, then reuses pytest's cache across runs."""
    cache = getattr(request.config, "cache", None)
    if cache is None:  # cacheprovider disabled (-p no:cacheprovider): train into a temp dir
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        return trained_shapes_model(factory.mktemp("shapes-model"))
    return trained_shapes_model(Path(cache.mkdir("shapes-model")))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for weights and labels")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    started = time.perf_counter()
    model = train(args.out)
    print(f"trained in {time.perf_counter() - started:.1f} s")
    print(f"weights: {model.weights}")
    print(f"labels:  {model.labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
