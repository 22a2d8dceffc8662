"""The engine owns its threading, whatever the host program imported first.

A program that imports numpy before the engine (a notebook, any library user) has numpy's
OpenBLAS pool at full size; its threads spin after each BLAS call and fight torch's for the
cores. Each check runs in a fresh interpreter that imports numpy first, with no
OPENBLAS_NUM_THREADS in its environment, as such a program would.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.processes import run_python

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads Linux /proc")

_CHILD = r"""
import json, os, sys
import numpy as np  # first, as a notebook would
from threadpoolctl import threadpool_info

def blas_threads():
    return sorted(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")

def cpu_ticks(tids):
    total = 0
    for tid in tids:
        try:
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total

# numpy's own BLAS workers: every thread but this one, right after importing numpy.
blas_workers = [t for t in os.listdir("/proc/self/task") if int(t) != os.getpid()]
host_blas = blas_threads()

import desktop_app
from desktop_app.inference import classifier as engine
import torch

seen = {}
real = engine.cams_from_fc
def spy(*args, **kwargs):
    seen["torch"] = torch.get_num_threads()
    seen["blas"] = blas_threads()
    return real(*args, **kwargs)
engine.cams_from_fc = spy

clf = engine.load_classifier("resnet18", device="cpu", num_threads=1)
frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
clf.predict(frame, topk=5)
before = cpu_ticks(blas_workers)
for _ in range(40):  # full-resolution maps are made lazily, outside predict
    pred = clf.predict(frame, topk=5)
    for index in pred.cams:
        pred.cams[index]
print(json.dumps({
    "env": os.environ.get("OPENBLAS_NUM_THREADS"),
    "host_blas": host_blas,
    "blas_after": blas_threads(),
    "inside": seen,
    "engine_threads": clf.num_threads,
    "blas_workers": len(blas_workers),
    "blas_worker_ticks": cpu_ticks(blas_workers) - before,
}))
"""


@pytest.fixture(scope="module")
def child_report(resnet18_weights: Path) -> dict:
    out = run_python(_CHILD, drop_env=["OPENBLAS_NUM_THREADS"], check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_importing_the_package_sets_no_environment_variable(child_report: dict) -> None:
    assert child_report["env"] is None


def test_the_engine_runs_with_its_own_torch_threads_and_single_threaded_blas(
        child_report: dict) -> None:
    assert child_report["inside"] == {"torch": 1, "blas": [1] * len(child_report["host_blas"])}
    assert child_report["engine_threads"] == 1


def test_the_host_programs_blas_settings_are_restored(child_report: dict) -> None:
    assert child_report["blas_after"] == child_report["host_blas"]


def test_making_maps_never_wakes_numpys_blas_threads(child_report: dict) -> None:
    """40 predictions with five full-resolution maps each: numpy's BLAS worker threads use
    no CPU at all (a BLAS product would leave them spinning for milliseconds each time)."""
    if child_report["blas_workers"] == 0:
        pytest.skip("numpy's BLAS started no worker threads on this machine")
    assert child_report["blas_worker_ticks"] <= 1, child_report
