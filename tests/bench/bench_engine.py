"""Engine benchmark: each contender timed alone, in alternating blocks, in its best setting.

    .venv/bin/python tests/bench/bench_engine.py [--blocks 6] [--per-block 5] [--models ...]

numpy is imported first on purpose, as in a notebook or any program that uses the engine as
a library: its BLAS pool then runs at full size, and the engine must keep it from fighting
torch's threads by itself (desktop_app/inference/threads.py).

Contenders, each on its own model instance (never on a model carrying another tool's hooks):
``predict`` (top-5, layer-4 Grad-CAM, all five maps made at full resolution, 640×480 frame),
a plain torchvision eager forward under ``inference_mode``, and pytorch-grad-cam's
``GradCAM`` for one class. The baselines get their best setting: each is timed with numpy's
BLAS pool as the host left it and limited to one thread, and the faster one is reported.
``predict`` runs only as the host left things. A block times one contender ``--per-block``
times after one untimed warm-up call; blocks rotate through the contenders; medians over all
blocks. Weights are seeded random tensors under torchvision's cache names in a temporary
TORCH_HOME (speed does not depend on the values).

Goals (issue 8): predict ≤ 0.85 × eager and ≤ 0.30 × pytorch-grad-cam, ResNet-18 and -50.
Also: decoding a 6000×4000 JPEG to model input ≤ 0.4 × Pillow open + weights.transforms().
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import numpy as np  # first: see the module docstring

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="bench-torch-"))

from conftest import write_fake_weights


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def alternating_blocks(
    fns: dict[str, Callable[[], object]], blocks: int, per_block: int
) -> dict[str, float]:
    """Median milliseconds per contender; each block runs one contender alone."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for block in range(blocks):
        rotated = names[block % len(names):] + names[:block % len(names)]
        for name in rotated:
            fns[name]()  # untimed: caches and thread pools settle for this contender
            for _ in range(per_block):
                start = time.perf_counter()
                fns[name]()
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(s) * 1000 for name, s in samples.items()}


def _blas_setting(fn: Callable[[], object], limit: bool) -> Callable[[], object]:
    from threadpoolctl import threadpool_limits

    def run() -> object:
        with threadpool_limits(1, user_api="blas") if limit else nullcontext():
            return fn()

    return run


def bench_model(model_name: str, blocks: int, per_block: int) -> dict[str, float]:
    import torch
    import torchvision
    from PIL import Image
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from desktop_app.inference import load_classifier

    weights_file = write_fake_weights(model_name)
    clf = load_classifier(model_name, device="cpu")
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    x = clf.preprocessor(Image.fromarray(frame))

    def fresh_model() -> torch.nn.Module:
        model = torchvision.models.get_model(model_name, weights=None).eval()
        model.load_state_dict(torch.load(weights_file, weights_only=True))
        return model

    plain = fresh_model()  # eager baseline: no hooks on it, ever
    hooked = fresh_model()  # pytorch-grad-cam registers its hooks on this one only
    oracle = GradCAM(model=hooked, target_layers=[hooked.layer4[-1]])
    target = [ClassifierOutputTarget(int(clf.predict(frame, cam=None).topk[0].index))]

    def ours() -> None:
        pred = clf.predict(frame, topk=5, cam="gradcam", cam_layer="layer4")
        for index in pred.cams:  # full-resolution maps are part of the cost
            pred.cams[index]

    def eager() -> None:
        with torch.inference_mode():
            plain(x)

    def grad_cam() -> None:
        oracle(input_tensor=x, targets=target)

    times = alternating_blocks({
        "predict": ours,
        "eager": eager,
        "eager, BLAS 1 thread": _blas_setting(eager, True),
        "grad-cam": grad_cam,
        "grad-cam, BLAS 1 thread": _blas_setting(grad_cam, True),
    }, blocks, per_block)
    oracle.__exit__(None, None, None)
    best_eager = min(times["eager"], times["eager, BLAS 1 thread"])
    best_cam = min(times["grad-cam"], times["grad-cam, BLAS 1 thread"])
    print(f"{model_name:<10} backend={clf.backend}: "
          + " | ".join(f"{k} {v:.1f} ms" for k, v in times.items()))
    print(f"{'':<10} predict/eager {times['predict'] / best_eager:.2f} (goal ≤ 0.85) | "
          f"predict/grad-cam {times['predict'] / best_cam:.2f} (goal ≤ 0.30) | "
          f"grad-cam/eager {best_cam / best_eager:.2f}")
    stages = clf.predict(frame, topk=5).timings
    print(f"{'':<10} one predict's stages (ms): "
          + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    return {"predict": times["predict"], "eager": best_eager, "grad-cam": best_cam}


def bench_decode(blocks: int, per_block: int) -> None:
    import torchvision
    from PIL import Image

    from desktop_app.core.image_io import decode_image
    from desktop_app.inference.preprocess import Preprocessor

    spec = torchvision.models.ResNet50_Weights.DEFAULT
    pre = Preprocessor(spec.transforms())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        rng = np.random.default_rng(1)
        yy, xx = np.mgrid[0:4000, 0:6000]
        pixels = np.stack([(xx // 7) % 256, (yy // 5) % 256, (xx + yy) // 40 % 256], -1)
        noisy = pixels + rng.integers(-20, 20, pixels.shape)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(path, quality=90)

        def ours() -> None:
            pre(decode_image(path, min_side=pre.resize_size).image)

        def reference() -> None:
            with Image.open(path) as im:
                spec.transforms()(im.convert("RGB"))

        times = alternating_blocks({"ours": ours, "reference": reference}, blocks, per_block)
    print(
        f"6000x4000 JPEG -> model input: ours {times['ours']:.1f} ms | Pillow open + "
        f"weights.transforms() {times['reference']:.1f} ms | ratio "
        f"{times['ours'] / times['reference']:.2f} (goal ≤ 0.4)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--per-block", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--skip-decode", action="store_true")
    args = parser.parse_args()
    import torch
    from threadpoolctl import threadpool_info

    blas = ", ".join(f"{i['internal_api']} {i['num_threads']} threads" for i in threadpool_info()
                     if i["user_api"] == "blas")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; numpy imported first ({blas}); batch 1; "
          f"medians of {args.blocks} blocks x {args.per_block} runs per contender")
    for model in args.models:
        bench_model(model, args.blocks, args.per_block)
    if not args.skip_decode:
        bench_decode(max(3, args.blocks // 2), 3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
