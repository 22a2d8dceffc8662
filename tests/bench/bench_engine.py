"""Engine benchmark: ratios measured in one process, interleaved, so machine noise cancels.

    .venv/bin/python tests/bench/bench_engine.py [--runs 20] [--models resnet18 resnet50]

Weights are seeded random tensors under torchvision's cache names in a temporary TORCH_HOME
(speed does not depend on the values). Goals (issue 2): predict with top-5 and layer-4 Grad-CAM
for all five classes ≤ 0.85 × a plain eager forward; ≤ 0.30 × pytorch-grad-cam's GradCAM for
one class; decoding a 6000×4000 JPEG to model input ≤ 0.4 × Pillow open + weights.transforms().
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import write_fake_weights


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _interleaved(fns: dict[str, Callable[[], object]], warmup: int, runs: int) -> dict[str, float]:
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: _median_ms(s) for name, s in samples.items()}


def bench_model(model_name: str, runs: int, warmup: int) -> None:
    import torch
    import torchvision
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from desktop_app.inference import load_classifier

    weights_file = write_fake_weights(model_name)
    clf = load_classifier(model_name, device="cpu")
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    from PIL import Image

    x = clf.preprocessor(Image.fromarray(frame))

    reference = torchvision.models.get_model(model_name, weights=None).eval()
    reference.load_state_dict(torch.load(weights_file, weights_only=True))
    oracle = GradCAM(model=reference, target_layers=[reference.layer4[-1]])
    target = [ClassifierOutputTarget(int(clf.predict(frame, cam=None).topk[0].index))]

    def ours() -> None:
        pred = clf.predict(frame, topk=5, cam="gradcam", cam_layer="layer4")
        for index in pred.cams:  # full-resolution maps are part of the cost
            pred.cams[index]

    def eager() -> None:
        with torch.inference_mode():
            reference(x)

    def pytorch_grad_cam() -> None:
        oracle(input_tensor=x, targets=target)

    times = _interleaved(
        {"predict": ours, "eager": eager, "gradcam": pytorch_grad_cam}, warmup, runs
    )
    stages = clf.predict(frame, topk=5).timings
    print(
        f"{model_name:<10} backend={clf.backend:<11} predict {times['predict']:7.1f} ms | "
        f"eager forward {times['eager']:7.1f} ms | pytorch-grad-cam 1 class "
        f"{times['gradcam']:7.1f} ms | predict/eager {times['predict'] / times['eager']:.2f} "
        f"(goal ≤ 0.85) | predict/grad-cam {times['predict'] / times['gradcam']:.2f} "
        f"(goal ≤ 0.30) | grad-cam/eager {times['gradcam'] / times['eager']:.2f}"
    )
    print("           one predict's stages (ms): "
          + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    oracle.__exit__(None, None, None)


def bench_decode(runs: int, warmup: int) -> None:
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

        times = _interleaved({"ours": ours, "reference": reference}, warmup, runs)
    print(
        f"6000x4000 JPEG -> model input: ours {times['ours']:.1f} ms | Pillow open + "
        f"weights.transforms() {times['reference']:.1f} ms | ratio "
        f"{times['ours'] / times['reference']:.2f} (goal ≤ 0.4)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 1, 224 px crop "
          f"of a 640x480 frame; medians of {args.runs} interleaved runs after {args.warmup}")
    for model in args.models:
        bench_model(model, args.runs, args.warmup)
    bench_decode(max(15, args.runs // 2), 2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
