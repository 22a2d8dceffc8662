"""CAM-method and faithfulness benchmark for issue 10: contenders timed alone, in
alternating blocks (``bench_engine.alternating_blocks``), ratios from one run.

    .venv/bin/python tests/bench/bench_cams.py [--blocks 4] [--per-block 3] [--quick]
        [--metrics-only] [--parts layer4 layer3 scorecam metrics]

numpy is imported first (see bench_engine.py). Weights are seeded random tensors under
torchvision's cache names in a temporary TORCH_HOME. Each pytorch-grad-cam contender gets
its own model instance, so that no model carries another tool's hooks.

Goals (issue 10):
- layer4, ResNet-50, top-5 maps of a 640×480 frame: every method except Score-CAM
  ≤ 1.15 × ``predict(cam="gradcam")``;
- layer3, ResNet-50: Grad-CAM++ for the top class ≤ 0.6 × pytorch-grad-cam's
  ``GradCAMPlusPlus``;
- layer4, ResNet-18: Score-CAM at the device default batch ≤ 0.6 × pytorch-grad-cam's ``ScoreCAM``
  at batch 32 (the issue's setting); pytorch-grad-cam at batch 1 printed too;
- deletion + insertion + ROAD (default settings) of one ResNet-50 map: seconds, goal ≤ 4 s;
  printed beside the time of the same number of forwards alone, its floor (80 ResNet-50
  forwards at the default 32 steps and 7 percentiles).

``--quick`` is a smoke test (one block of one run; Score-CAM and the metrics skipped).
``--metrics-only`` runs the scoring alone (with ``--quick``: 4 deletion/insertion steps).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np  # first: see the module docstring

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("TORCH_HOME", tempfile.mkdtemp(prefix="bench-torch-"))

from bench_engine import alternating_blocks, cpu_name
from conftest import write_fake_weights

FRAME = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
PARTS = ["layer4", "layer3", "scorecam", "metrics"]
NOT_SCORE_CAM = ("gradcam", "hirescam", "gradcam++", "xgradcam", "layercam", "eigencam",
                 "ablationcam")


def _oracle_model(model_name: str, weights_file: Path):
    import torch
    import torchvision

    model = torchvision.models.get_model(model_name, weights=None).eval()
    model.load_state_dict(torch.load(weights_file, weights_only=True))
    return model


def bench_methods_at_layer4(blocks: int, per_block: int) -> None:
    from desktop_app.inference import load_classifier

    write_fake_weights("resnet50")
    clf = load_classifier("resnet50", device="cpu")

    def method(name: str):
        def run() -> None:
            pred = clf.predict(FRAME, topk=5, cam=name, cam_layer="layer4")
            for index in pred.cams:  # full-resolution maps are part of the cost
                pred.cams[index]
        return run

    times = alternating_blocks({m: method(m) for m in NOT_SCORE_CAM}, blocks, per_block)
    base = times["gradcam"]
    print("resnet50 layer4 top-5 (ms, ratio to gradcam; goal ≤ 1.15): " + " | ".join(
        f"{m} {t:.1f} ({t / base:.2f})" for m, t in times.items()))


def bench_gradcampp_layer3(blocks: int, per_block: int) -> None:
    from PIL import Image
    from pytorch_grad_cam import GradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from desktop_app.inference import load_classifier

    weights_file = write_fake_weights("resnet50")
    clf = load_classifier("resnet50", device="cpu")
    x = clf.preprocessor(Image.fromarray(FRAME))
    top = clf.predict(FRAME, cam=None).topk[0].index
    hooked = _oracle_model("resnet50", weights_file)
    oracle = GradCAMPlusPlus(model=hooked, target_layers=[hooked.layer3[-1]])
    times = alternating_blocks({
        "predict": lambda: clf.predict(FRAME, topk=1, cam="gradcam++", cam_layer="layer3"),
        "grad-cam": lambda: oracle(input_tensor=x, targets=[ClassifierOutputTarget(top)]),
    }, blocks, per_block)
    oracle.__exit__(None, None, None)
    print(f"resnet50 layer3 Grad-CAM++ top-1: ours {times['predict']:.1f} ms, pytorch-grad-cam "
          f"{times['grad-cam']:.1f} ms, ratio {times['predict'] / times['grad-cam']:.2f} "
          "(goal ≤ 0.6)")


def bench_scorecam(blocks: int, per_block: int) -> None:
    from PIL import Image
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from desktop_app.inference import load_classifier
    from desktop_app.inference.devices import images_per_forward

    weights_file = write_fake_weights("resnet18")
    clf = load_classifier("resnet18", device="cpu")
    x = clf.preprocessor(Image.fromarray(FRAME))
    top = clf.predict(FRAME, cam=None).topk[0].index
    hooked = _oracle_model("resnet18", weights_file)
    oracle = ScoreCAM(model=hooked, target_layers=[hooked.layer4[-1]])

    def oracle_at(batch_size: int):
        def run() -> None:
            oracle.batch_size = batch_size
            oracle(input_tensor=x, targets=[ClassifierOutputTarget(top)])
        return run

    times = alternating_blocks({
        "predict": lambda: clf.predict(FRAME, topk=1, cam="scorecam"),
        "grad-cam 32": oracle_at(32),
        "grad-cam 1": oracle_at(1),
    }, blocks, per_block)
    oracle.__exit__(None, None, None)
    ours = times["predict"]
    print(f"resnet18 layer4 Score-CAM: ours (batches of {images_per_forward(x.device)}, the "
          f"device default) {ours / 1000:.2f} s | pytorch-grad-cam batch 32 "
          f"{times['grad-cam 32'] / 1000:.2f} s, ratio {ours / times['grad-cam 32']:.2f} "
          f"(goal ≤ 0.6) | pytorch-grad-cam batch 1 {times['grad-cam 1'] / 1000:.2f} s, "
          f"ratio {ours / times['grad-cam 1']:.2f}")


def bench_metrics(blocks: int, per_block: int, steps: int | None = None) -> None:
    """Deletion + insertion + ROAD of one ResNet-50 Grad-CAM map in one ``score_map`` call
    (as *Score this map* runs it), each metric alone to show the split, and the floor: as
    many perturbed images as the scoring sends through the same forward, nothing else."""
    from desktop_app.inference import load_classifier
    from desktop_app.inference.catalog import FAITHFULNESS_METRICS
    from desktop_app.inference.devices import images_per_forward
    from desktop_app.inference.faithfulness import FaithfulnessSettings

    write_fake_weights("resnet50")
    clf = load_classifier("resnet50", device="cpu")
    pred = clf.predict(FRAME, topk=1)
    index = pred.topk[0].index
    cam = pred.cams[index]
    settings = FaithfulnessSettings() if steps is None else FaithfulnessSettings(steps=steps)
    images = 2 * (settings.steps + 1) + 2 * len(settings.road_percentiles)
    prepared = clf.prepare(FRAME)
    batch_size = settings.batch_size or images_per_forward(clf.device)
    batches = [[prepared] * min(batch_size, images - start)
               for start in range(0, images, batch_size)]

    def forwards_only() -> None:  # the classifier's own batched forward, no CAM
        for batch in batches:
            clf.predict_batch(batch, topk=1, cam=None)

    def metrics(names):
        return lambda: clf.score_map(FRAME, index, cam, names, settings=settings)

    contenders = {"all three": metrics(FAITHFULNESS_METRICS), "forwards only": forwards_only}
    contenders |= {m: metrics([m]) for m in FAITHFULNESS_METRICS}
    seconds = {k: v / 1000 for k, v in alternating_blocks(contenders, blocks, per_block).items()}
    print(f"resnet50 one map, {images} perturbed images in batches of {batch_size}, "
          f"{clf.backend} forward (s): deletion + insertion + road {seconds['all three']:.2f} "
          f"(goal ≤ 4) | " + " | ".join(f"{m} alone {seconds[m]:.2f}"
                                        for m in FAITHFULNESS_METRICS)
          + f" | the same forwards alone {seconds['forwards only']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--per-block", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny settings")
    parser.add_argument("--metrics-only", action="store_true",
                        help="only the faithfulness scoring of one map (with --quick: 4 steps)")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS,
                        help="which measurements to run (default: all)")
    args = parser.parse_args()
    import torch

    blocks, per_block = (1, 1) if args.quick else (args.blocks, args.per_block)
    print(f"{cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"medians of {blocks} blocks x {per_block} runs per contender")
    parts = {"metrics"} if args.metrics_only else set(args.parts)
    if "layer4" in parts:
        bench_methods_at_layer4(blocks, per_block)
    if "layer3" in parts:
        bench_gradcampp_layer3(blocks, per_block)
    if "scorecam" in parts and not args.quick:
        bench_scorecam(max(1, blocks // 2), 1)
    if "metrics" in parts and (args.metrics_only or not args.quick):
        bench_metrics(*((1, 1, 4) if args.quick else (max(1, blocks // 2), 1)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
