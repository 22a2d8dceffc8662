"""Folder benchmark (a script, not a test): whole processes, alternated, vs a plain
torchvision DataLoader script; and one photo through the CLI vs importing torch.

    .venv/bin/python tests/bench/bench_folder.py [--photos 200] [--rounds 3] [--model resnet50]
    .venv/bin/python tests/bench/bench_folder.py --one-photo [--rounds 5]

Folder mode: ``--photos`` synthetic JPEGs of 1.6-3.1 megapixels (seeded: smooth shapes and
texture, so they compress like photos), seeded random weights in a temporary TORCH_HOME
(speed does not depend on the values), CPU. Contenders, each a fresh process, one after
the other in rotating order for ``--rounds`` rounds:

- ``baseline``: a plain torchvision script: ``DataLoader`` (2 worker processes, batch 16),
  ``Image.open(f).convert("RGB")`` + ``weights.transforms()``, eager forward under
  ``inference_mode``, top-5 as JSON lines;
- ``json``: ``resnet-lens predict FOLDER --json`` (top-5 JSON);
- ``overlay``: the same with ``--cam-dir`` (a top-1 Grad-CAM overlay, JPEG, per photo).

Reported: median seconds, images per second, ratio to the baseline, peak RSS (the largest
of the process and its reaped children, from wait4), bytes written.
Goals (issue 11): json <= 0.45x baseline; overlay <= 0.60x.

One-photo mode: ``resnet-lens predict photo.jpg`` vs ``python -c "import torch,
torchvision"``, interleaved, medians. Goal: <= 1.25x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np  # first, as in the other benchmarks

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
os.environ["TORCH_HOME"] = tempfile.mkdtemp(prefix="bench-folder-torch-")

from conftest import write_fake_weights  # noqa: E402  (after TORCH_HOME is set)

BASELINE = '''
import json, sys, torch, torchvision
from pathlib import Path
from PIL import Image
from torch.utils.data import DataLoader, Dataset

model_name, weights_file, folder = sys.argv[1:4]
weights = torchvision.models.get_model_weights(model_name).DEFAULT
model = torchvision.models.get_model(model_name)
model.load_state_dict(torch.load(weights_file, weights_only=True))
model.eval()
transform = weights.transforms()
files = sorted(str(p) for p in Path(folder).rglob("*.jpg"))

class Photos(Dataset):
    def __len__(self):
        return len(files)
    def __getitem__(self, i):
        return transform(Image.open(files[i]).convert("RGB")), i

categories = weights.meta["categories"]
if __name__ == "__main__":
    with torch.inference_mode():
        for x, idx in DataLoader(Photos(), batch_size=16, num_workers=2):
            probs = model(x).softmax(1)
            top = probs.topk(5)
            for row, i in enumerate(idx.tolist()):
                print(json.dumps({"file": files[i], "topk": [
                    {"label": categories[c], "index": c, "probability": p}
                    for p, c in zip(top.values[row].tolist(), top.indices[row].tolist())]}))
'''


def make_photos(folder: Path, count: int, seed: int = 0) -> None:
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        megapixels = rng.uniform(1.6, 3.1)
        aspect = rng.choice([4 / 3, 3 / 2, 16 / 9]) ** rng.choice([1, -1])
        width = round(float(megapixels * 1e6 * aspect) ** 0.5)
        height = round(float(megapixels) * 1e6 / width)
        low = rng.integers(0, 256, (height // 32 + 1, width // 32 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(low).resize((width, height), Image.Resampling.BICUBIC)
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
            size = int(rng.integers(width // 20, width // 4))
            draw.ellipse((x0, y0, x0 + size, y0 + size), fill=tuple(rng.integers(0, 256, 3)))
        image = image.filter(ImageFilter.GaussianBlur(1.5))
        noise = rng.normal(0, 6, (height, width, 3))
        pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"photo_{i:04}.jpg", quality=90)


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Seconds and peak RSS (MB) of one process (stdout discarded)."""
    start = time.perf_counter()
    child = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = child.stderr.read().decode() if child.stderr else ""
    if child.returncode != 0:
        raise SystemExit(f"{args[:4]} failed ({child.returncode}): {stderr[-2000:]}")
    return elapsed, usage.ru_maxrss // 1024


def folder_bench(options: argparse.Namespace, work: Path) -> None:
    weights = write_fake_weights(options.model)
    photos = work / "photos"
    make_photos(photos, options.photos)
    size = sum(p.stat().st_size for p in photos.iterdir()) / 1e6
    print(f"{options.photos} JPEGs, {size:.0f} MB; {options.model}, CPU, {os.cpu_count()} "
          f"logical cores; {options.rounds} rounds, rotating order")
    baseline_script = work / "baseline.py"
    baseline_script.write_text(BASELINE)
    cli = [sys.executable, "-m", "desktop_app", "predict", str(photos), "--model",
           options.model, "--device", "cpu", "--json"]
    contenders = {
        "baseline": lambda out: [sys.executable, str(baseline_script), options.model,
                                 str(weights), str(photos)],
        "json": lambda out: cli,
        "overlay": lambda out: [*cli, "--cam-dir", str(out)],
    }
    env = {"PYTHONPATH": str(REPO)}
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    peak: dict[str, int] = dict.fromkeys(contenders, 0)
    written: dict[str, float] = dict.fromkeys(contenders, 0.0)
    names = list(contenders)
    for round_ in range(options.rounds):
        for name in names[round_ % 3:] + names[:round_ % 3]:
            out = work / f"maps-{name}-{round_}"
            elapsed, rss = run(contenders[name](out), env)
            seconds[name].append(elapsed)
            peak[name] = max(peak[name], rss)
            if out.exists():
                written[name] = sum(p.stat().st_size for p in out.iterdir()) / 1e6
            print(f"  round {round_ + 1} {name:<9} {elapsed:7.1f} s  {rss:6d} MB", flush=True)
    base = statistics.median(seconds["baseline"])
    print(f"{'':<10}{'median s':>10}{'images/s':>10}{'ratio':>8}{'peak MB':>9}{'written MB':>12}")
    for name in contenders:
        median = statistics.median(seconds[name])
        print(f"{name:<10}{median:10.1f}{options.photos / median:10.2f}{median / base:8.2f}"
              f"{peak[name]:9d}{written[name]:12.1f}")


def one_photo_bench(options: argparse.Namespace, work: Path) -> None:
    write_fake_weights(options.model)
    make_photos(work / "one", 1)
    photo = next((work / "one").iterdir())
    env = {"PYTHONPATH": str(REPO)}
    contenders = {
        "import": [sys.executable, "-c", "import torch, torchvision"],
        "predict": [sys.executable, "-m", "desktop_app", "predict", str(photo), "--model",
                    options.model, "--device", "cpu"],
    }
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for name in contenders:  # warm the file cache; not counted
        run(contenders[name], env)
    for _ in range(options.rounds):
        for name, args in contenders.items():
            seconds[name].append(run(args, env)[0])
    medians = {name: statistics.median(s) for name, s in seconds.items()}
    print(f"{options.model}, one {photo.stat().st_size / 1e6:.1f} MB JPEG, "
          f"medians of {options.rounds}, interleaved")
    for name, median in medians.items():
        print(f"{name:<8} {median:6.2f} s")
    print(f"ratio    {medians['predict'] / medians['import']:6.2f}  (goal <= 1.25)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--one-photo", action="store_true")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-folder-") as tmp:
        (one_photo_bench if options.one_photo else folder_bench)(options, Path(tmp))


if __name__ == "__main__":
    main()
