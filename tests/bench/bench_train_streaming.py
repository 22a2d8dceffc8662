"""Benchmark: ``resnet-lens train`` on 2 x 10,000 images streams with bounded memory (a
script, not a test).

    .venv/bin/python tests/bench/bench_train_streaming.py [--per-class 10000] [--epochs 1]

Writes two classes of tiny generated JPEGs (48 x 48: decoding is cheap, the network's work
per image is the same as for a photo), then trains the default recipe (ResNet-18, seeded
fake weights in a temporary TORCH_HOME) twice from an empty feature cache: on a tenth of
the images and on all of them, each in a fresh process, and prints both peak RSS figures.
Memory that grew with the image count would show as a second figure far above the first;
the cached layer-3 activations alone are ~100 KB an image (2 GB for 20,000), which the
engine reads from disk a batch at a time instead of holding. ``--epochs`` bounds the
fine-tuning time (the memory does not depend on it).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # before torch, as in a program that uses the engine
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_train import timed_child

_SIDE = 48


def write_tiny_images(root: Path, per_class: int, seed: int) -> None:
    """``per_class`` noisy JPEGs per class: class 0 reddish, class 1 bluish."""
    rng = np.random.default_rng(seed)
    for label in range(2):
        folder = root / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        tint = np.array([160, 60, 60] if label == 0 else [60, 60, 160])
        for i in range(per_class):
            pixels = np.clip(tint + rng.integers(-60, 61, size=(_SIDE, _SIDE, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"{i:05d}.jpg", quality=85)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    from conftest import write_fake_weights

    work = Path(tempfile.mkdtemp(prefix="bench-train-streaming-"))
    os.environ["TORCH_HOME"] = str(work / "torch")
    write_fake_weights("resnet18")
    print(f"{os.cpu_count()} CPUs; default recipe, ResNet-18, --epochs {args.epochs}, "
          f"empty feature cache each run; data and cache under {work}")
    for per_class in (max(2, args.per_class // 10), args.per_class):
        data = work / f"data-{per_class}"
        started = time.perf_counter()
        write_tiny_images(data, per_class, seed=per_class)
        written = time.perf_counter() - started
        seconds, rss = timed_child(data, work / f"model-{per_class}.safetensors", "resnet18",
                                   work / f"cache-{per_class}", "--epochs", str(args.epochs))
        print(f"2 x {per_class} images (written in {written:.0f} s): train {seconds:.0f} s, "
              f"peak RSS {rss:.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
