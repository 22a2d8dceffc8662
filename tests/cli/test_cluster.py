"""``predict --cluster ray``: the same engine on Ray Data gives the local run's results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.processes import REPO, run_cli

from desktop_app.core.map_files import read_map

pytest.importorskip("ray")


def _records(path: Path) -> dict[str, dict]:
    """Results by file; probabilities to 5 decimals (a batch of another size may sum its
    floats in another order)."""
    keep = ("image_size", "cam_layer", "cam_classes", "cam_methods", "error")
    return {Path(r["file"]).name: {
        **{k: r[k] for k in keep if k in r},
        "topk": [(s["index"], s["label"], round(s["probability"], 5)) for s in r.get("topk", [])],
    } for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.slow
def test_a_local_ray_instance_gives_the_local_results(tmp_path, resnet18_weights) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(3)
    for i in range(5):
        Image.fromarray(rng.integers(0, 256, (80 + 9 * i, 100, 3), dtype=np.uint8)).save(
            photos / f"{i}.jpg")
    (photos / "bad.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    common = ["predict", str(photos), "--model", "resnet18", "--topk", "3", "--json",
              "--cam-format", "npz", "--batch-size", "2"]
    local = run_cli(*common, "--out", str(tmp_path / "local.jsonl"),
                    "--cam-dir", str(tmp_path / "local"))
    assert local.returncode == 1, local.stderr  # the bad file
    # Ray's own processes talk over local sockets: run without the tests' socket guard, in
    # a fresh session of its own (the test's TORCH_HOME holds the weights; nothing downloads).
    env = {"RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(REPO)}
    ray = run_cli(*common, "--cluster", "ray", "--out", str(tmp_path / "ray.jsonl"),
                  "--cam-dir", str(tmp_path / "ray"), network_guard=False, env=env, timeout=600)
    assert ray.returncode == 1, ray.stderr[-3000:]
    assert [line for line in ray.stderr.splitlines() if "bad.jpg" in line] == [
        line for line in local.stderr.splitlines() if "bad.jpg" in line]
    assert _records(tmp_path / "ray.jsonl") == _records(tmp_path / "local.jsonl")
    names = sorted(p.name for p in (tmp_path / "local").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "ray").iterdir()) and len(names) == 5
    for name in names:
        np.testing.assert_allclose(read_map(tmp_path / "ray" / name).grid,
                                   read_map(tmp_path / "local" / name).grid, atol=1e-3)
