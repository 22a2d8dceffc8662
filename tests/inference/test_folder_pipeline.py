"""Folder runs: streamed inputs, the decode/forward/write pipeline, compact map files and
--resume."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from support.processes import run_cli, start_cli

from desktop_app.core.geometry import CropGeometry
from desktop_app.core.image_io import decode_for_overlay
from desktop_app.core.map_files import SavedMap, load_map, read_map, save_map
from desktop_app.core.result_log import ResultLog
from desktop_app.core.results import CamMaps, ClassScore, Prediction
from desktop_app.core.sources import MissingInput, iter_inputs


def _photo(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def test_inputs_stream_folders_globs_and_lists_in_a_stable_order(tmp_path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "empty").mkdir()
    for name in ("a/2.png", "a/1.jpg", "b/x.png", "a/.hidden.png", "a/notes.txt"):
        (tmp_path / name).write_bytes(b"")
    listing = tmp_path / "list.txt"
    listing.write_text(f"# photos\n{tmp_path / 'b/x.png'}\n\n{tmp_path / 'nope.png'}\n")
    got = list(iter_inputs([str(tmp_path / "a"), str(tmp_path / "*" / "*.png"),
                            f"@{listing}", str(tmp_path / "empty"), "@missing-list.txt"]))
    names = [p.relative_to(tmp_path).as_posix() if isinstance(p, Path) else p.reason
             for p in got]
    assert names == ["a/1.jpg", "a/2.png", "a/2.png", "b/x.png", "b/x.png",
                     "no such file or folder", "folder holds no images",
                     "cannot read the list (No such file or directory)"]
    assert isinstance(got[-1], MissingInput) and got[-1].item == "@missing-list.txt"


def test_inputs_are_consumed_lazily(tmp_path) -> None:
    for i in range(50):
        (tmp_path / f"{i:03}.png").write_bytes(b"")
    stream = iter_inputs([str(tmp_path)])
    assert next(stream).name == "000.png"  # nothing decoded or listed beyond one folder


def test_npz_map_round_trips_to_the_full_resolution_map() -> None:
    geometry = CropGeometry.for_transform(200, 130, 232, 224)
    grid = np.random.default_rng(1).random((7, 7), dtype=np.float32)
    maps = CamMaps({3: grid}, geometry, (400, 260))  # decoded at half size, as a JPEG draft
    path = Path(os.environ["TORCH_HOME"]).parent / "map.npz"
    save_map(path, SavedMap(maps.grid(3), maps.geometry, maps.size, 3, "gradcam", "layer4"))
    assert path.stat().st_size < 2000
    full = load_map(path)
    assert full.shape == (260, 400) and full.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(full), np.isnan(maps[3]))
    np.testing.assert_allclose(full, maps[3], atol=5e-4, equal_nan=True)
    saved = read_map(path)
    assert (saved.class_index, saved.method, saved.layer) == (3, "gradcam", "layer4")
    import desktop_app

    assert desktop_app.load_map is load_map  # the documented one-call way


def test_overlay_picture_is_capped_and_keeps_the_original_size(tmp_path) -> None:
    path = _photo(tmp_path / "big.jpg", (2000, 1000))
    small = decode_for_overlay(path, 500)
    assert small.image.size == (500, 250) and small.original_size == (2000, 1000)
    assert decode_for_overlay(path, None).image.size == (2000, 1000)
    assert decode_for_overlay(path, 4000).image.size == (2000, 1000)  # never enlarged


def test_result_log_resumes_past_a_cut_line_and_checks_map_files(tmp_path) -> None:
    out, kept = tmp_path / "out.jsonl", tmp_path / "a.npz"
    kept.write_bytes(b"x")
    lines = [{"file": "a", "topk": [], "cam_methods": ["gradcam"], "cam_layer": "layer4",
              "maps": [{"path": str(kept)}]},
             {"file": "b", "topk": [], "cam_methods": ["gradcam"], "cam_layer": "layer4",
              "maps": [{"path": str(tmp_path / "gone.npz")}]},
             {"file": "c", "error": "c: broken"}]
    out.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"file": "d", "to')
    with ResultLog(out, resume=True) as log:
        assert log.done("a", ["gradcam"], "layer4", ".npz")
        assert not log.done("a", ["gradcam"], "layer3", ".npz")  # other options: redo
        assert not log.done("a", ["gradcam"], "layer4", ".jpg")
        assert not log.done("b", ["gradcam"], "layer4", ".npz")  # its map is gone
        assert not log.done("c", [], None, None) and not log.done("d", [], None, None)
        log.append({"file": "d"})
    assert out.read_text().splitlines()[-1] == '{"file": "d"}'  # the cut line was dropped
    assert len(out.read_text().splitlines()) == 4


class _FakeClassifier:
    """Prepares by decoding; predicts by the image's mean colour. Records batch sizes."""

    device = "cpu"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def prepare(self, path: Path) -> SimpleNamespace:
        from desktop_app.core.image_io import decode_for_model

        return SimpleNamespace(decoded=decode_for_model(path, 32))

    def predict_batch(self, inputs, topk, cam, *args, **kwargs) -> list[Prediction]:
        self.batches.append(len(inputs))
        return [Prediction((ClassScore("mean", 0, float(i.decoded.array.mean()), 0.0),), None,
                           {}, i.decoded.original_size, "fake", "cpu", source=i.decoded.name)
                for i in inputs]


def test_a_resumed_run_removes_what_a_killed_writer_left_in_the_map_folder(tmp_path) -> None:
    """SIGKILL mid-write leaves the atomic writer's temporary file; the resumed run, which
    writes those maps again, removes it (and nothing else)."""
    from desktop_app.core.atomic import _LEFTOVER, write_atomically
    from desktop_app.core.map_outputs import MapOptions
    from desktop_app.inference.folder_outputs import FolderOutputs

    maps = tmp_path / "maps"
    maps.mkdir()
    left = maps / ".2.top1-238.gradcam.layer4.npz.2b1b9b96.part"
    left.write_bytes(b"half a map")
    kept = [maps / "2.top1-238.gradcam.layer4.npz", maps / "notes.part", maps / ".hidden"]
    for path in kept:
        path.write_bytes(b"the user's")
    log = ResultLog(tmp_path / "out.jsonl", resume=True)
    FolderOutputs(log, MapOptions(maps, "npz"), ("gradcam",), "layer4", resume=False)
    assert left.exists()  # not resuming: the folder may be another run's
    FolderOutputs(log, MapOptions(maps, "npz"), ("gradcam",), "layer4", resume=True)
    assert sorted(maps.iterdir()) == sorted(kept)
    # The pattern is the writer's own: the file it is writing when killed matches it.
    seen: list[Path] = []

    def killed(_stream: object) -> None:
        seen.extend(maps.iterdir())
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(maps / "x.npz", killed)
    assert sum(1 for p in seen if _LEFTOVER.match(p.name)) == 1


def test_a_line_with_several_methods_times_all_of_them(tmp_path) -> None:
    """``--cam gradcam,scorecam``: one line per image, whose timings add up every method's
    (each runs its own forward, maps and scores), not the first method's alone."""
    from desktop_app.inference.folder_outputs import FolderOutputs
    from desktop_app.inference.pipeline import Outcome

    top = (ClassScore("cat", 0, 0.9, 2.0),)
    fast = Prediction(top, None, {"decode": 40.0, "forward": 30.0, "cam": 0.5, "total": 70.5},
                      (64, 48), "fake", "cpu", cam_method="gradcam")
    slow = Prediction(top, None, {"decode": 0.01, "forward": 30.0, "cam": 9000.0,
                                  "total": 9030.01}, (64, 48), "fake", "cpu",
                      cam_method="scorecam")
    outputs = FolderOutputs(None, None, ("gradcam", "scorecam"), "layer4")
    record = outputs.write(Outcome(0, tmp_path / "a.png", (fast, slow)))
    assert record is not None
    assert record["cam_methods"] == ["gradcam", "scorecam"]
    assert record["timings_ms"] == {"decode": 40.01, "forward": 60.0, "cam": 9000.5,
                                    "total": 9100.51}


def test_pipeline_keeps_order_reports_bad_files_and_reads_ahead_boundedly(tmp_path) -> None:
    from desktop_app.inference.pipeline import FolderRequest, run_folder

    paths = [_photo(tmp_path / f"{i:02}.png", seed=i) for i in range(40)]
    (tmp_path / "05.png").write_bytes(b"broken")
    consumed = []

    def stream():
        for p in paths:
            consumed.append(p)
            yield p

    seen = []

    def write(outcome) -> None:
        if not seen:
            seen.append(len(consumed))  # how far the run had read when the first was written
        seen.append(outcome)

    clf = _FakeClassifier()
    assert run_folder(clf, stream(), FolderRequest(), write, batch_size=4)
    first_read, outcomes = seen[0], seen[1:]
    # In flight at most: 2 batches decoded ahead, 1 in the model, 2 waiting for the writer.
    assert first_read <= 4 * 6 < len(paths)
    assert [o.path for o in outcomes] == paths and [o.index for o in outcomes] == list(range(40))
    assert outcomes[5].error.startswith(str(paths[5])) and outcomes[5].predictions == ()
    assert all(o.error is None for i, o in enumerate(outcomes) if i != 5)
    assert sum(clf.batches) == 39 and max(clf.batches) == 4


def test_pipeline_stops_on_cancel_and_reraises_what_write_raised(tmp_path) -> None:
    from desktop_app.inference.pipeline import FolderRequest, run_folder

    paths = [_photo(tmp_path / f"{i}.png", seed=i) for i in range(12)]
    written = []
    assert not run_folder(_FakeClassifier(), paths, FolderRequest(), written.append,
                          batch_size=2, cancel=lambda: len(written) >= 2)
    assert 2 <= len(written) < 12

    def failing(outcome) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        run_folder(_FakeClassifier(), paths, FolderRequest(), failing, batch_size=2)


class _SlowMaps(_FakeClassifier):
    """Each image's map asks ``cancel`` between its "forwards", as Score-CAM does."""

    def predict_batch(self, inputs, topk, cam, *args, cancel=None, **kwargs):
        from desktop_app.core.errors import Cancelled

        if cancel is not None and cancel():
            raise Cancelled("scorecam cancelled")
        return super().predict_batch(inputs, topk, cam, *args, **kwargs)


def test_a_map_cancelled_inside_an_image_ends_the_run_without_that_image(tmp_path) -> None:
    from desktop_app.inference.pipeline import FolderRequest, run_folder

    paths = [_photo(tmp_path / f"{i}.png", seed=i) for i in range(6)]
    clf = _SlowMaps()
    written = []
    request = FolderRequest(cams=("scorecam",), cam_cancel=lambda: len(clf.batches) >= 3)
    assert not run_folder(clf, paths, request, written.append, batch_size=1)
    # The three images done are written; the fourth, stopped in its map, is neither written
    # nor reported as a broken file (a resumed run does it whole), and the run went no further.
    assert [o.path for o in written] == paths[:3] and all(o.error is None for o in written)


@pytest.mark.slow
def test_batched_predictions_equal_one_at_a_time(tmp_path, resnet18_weights) -> None:
    from desktop_app.inference import load_classifier

    clf = load_classifier("resnet18", backend="auto")
    paths = [_photo(tmp_path / f"{i}.png", (90 + 7 * i, 70), seed=i) for i in range(3)]
    batch = clf.predict_batch([clf.prepare(p) for p in paths], topk=3, cam_classes="top1")
    for path, got in zip(paths, batch, strict=True):
        want = clf.predict(path, topk=3, cam_classes="top1")
        assert [s.index for s in got.topk] == [s.index for s in want.topk]
        np.testing.assert_allclose([s.probability for s in got.topk],
                                   [s.probability for s in want.topk], atol=1e-4)
        assert list(got.cams) == [want.topk[0].index] == list(want.cams)
        np.testing.assert_allclose(got.cams.grid(want.topk[0].index),
                                   want.cams.grid(want.topk[0].index), atol=1e-3)
        assert got.backend == clf.backend and got.cams.size == want.cams.size


def _cli_args(photos: Path, out: Path, maps: Path) -> list[str]:
    return ["predict", str(photos), "--model", "resnet18", "--topk", "2", "--cam-dir",
            str(maps), "--cam-format", "npz", "--out", str(out), "--batch-size", "1"]


@pytest.mark.slow
def test_an_interrupted_run_resumes_without_losing_or_repeating(tmp_path,
                                                                 resnet18_weights) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(8):
        _photo(photos / f"{i}.jpg", (160, 120), seed=i)
    (photos / "sub").mkdir()
    _photo(photos / "sub" / "0.jpg", (160, 120), seed=99)  # same name: its own map names
    out, maps = tmp_path / "out.jsonl", tmp_path / "maps"
    args = _cli_args(photos, out, maps)
    child = start_cli(*args)
    deadline = time.monotonic() + 240
    while child.poll() is None and time.monotonic() < deadline:
        if out.exists() and len(out.read_bytes().splitlines()) >= 2:
            child.send_signal(signal.SIGKILL)  # no chance to clean up
            break
        time.sleep(0.02)
    child.wait(60)
    before = out.read_text().splitlines()
    assert len(before) >= 2
    result = run_cli(*args, "--resume")
    assert result.returncode == 0, result.stderr
    after = out.read_text().splitlines()
    assert after[:len(before)] == before  # what was written stays
    records = [json.loads(line) for line in after]
    assert sorted(Path(r["file"]).relative_to(photos).as_posix() for r in records) == sorted(
        [f"{i}.jpg" for i in range(8)] + ["sub/0.jpg"])
    names = sorted(Path(m["path"]).name for r in records for m in r["maps"])
    assert names == sorted(p.name for p in maps.iterdir())  # one map each, nothing stray
    assert len(names) == 9 and len({n.split(".")[0] for n in names}) == 9
    if len(before) < 9:
        assert f"resumed: {len(before)} image(s) already done" in result.stderr
    # A third run finds everything done and writes nothing new.
    again = run_cli(*args, "--resume")
    assert again.returncode == 0 and out.read_text().splitlines() == after
    assert "resumed: 9 image(s) already done" in again.stderr
