"""When building the fused forward pays (a script, not a test): its build time against the
time it saves per forward, per model, on this machine.

    .venv/bin/python tests/bench/bench_backends.py [--models resnet18 resnet50] [--runs 3]

For each model: ``load_classifier(backend="auto")`` minus ``load_classifier(backend="eager")``
(the build: trace, freeze, the profiling executor's warm-up runs, the check against eager),
medians of ``--runs`` alternated loads; then one 224 px image at a time through each forward
(alternating blocks). Printed: the build's seconds, each forward's milliseconds and the
break-even count, the forwards after which the build has paid for itself. The CLI compiles
only for runs expected to need at least that many forwards (``cli.FORWARDS_TO_COMPILE``).
Weights are seeded random tensors in a temporary TORCH_HOME.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np  # first, as a host program would (see bench_engine.py)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_engine import alternating_blocks, cpu_name, write_fake_weights


def bench(model: str, runs: int) -> None:
    import torch

    from desktop_app.inference import load_classifier

    write_fake_weights(model)
    seconds: dict[str, list[float]] = {"eager": [], "auto": []}
    loaded = {}
    for _ in range(runs):
        for backend in seconds:
            start = time.perf_counter()
            loaded[backend] = load_classifier(model, device="cpu", backend=backend,
                                              download=False)
            seconds[backend].append(time.perf_counter() - start)
    build = statistics.median(seconds["auto"]) - statistics.median(seconds["eager"])
    x = loaded["eager"].prepare(np.zeros((224, 224, 3), dtype=np.uint8))
    times = alternating_blocks({
        name: (lambda clf=clf: clf.predict_batch([x], topk=5, cam=None))
        for name, clf in loaded.items()
    }, blocks=4, per_block=10)
    saved = times["eager"] - times["auto"]
    even = f"{build * 1000 / saved:.0f} forwards" if saved > 0 else "never"
    print(f"{model}: build {build:.2f} s ({loaded['auto'].backend}); one image: eager "
          f"{times['eager']:.1f} ms, fused {times['auto']:.1f} ms; pays after {even} "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(cpu_name())
    for model in args.models:
        bench(model, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
