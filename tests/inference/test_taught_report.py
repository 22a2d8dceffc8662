"""A taught model's report read back: from where the files are now (a project folder moves
as a whole), with the report's time or, for an older report, its file's; a damaged report
or one of other classes is a ReportError, a missing one nothing."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

import pytest
from support.teach_data import solid_image

from desktop_app.core.evaluation import HOLD_OUT, Evaluation, Mistake
from desktop_app.core.teach_recipe import DEFAULT_RECIPE
from desktop_app.inference.taught_files import TaughtFiles, files_for, write_report
from desktop_app.inference.taught_report import ReportError, read_saved

MADE = datetime(2026, 11, 30, 18, 5, 12).astimezone()


def _saved(folder: Path) -> TaughtFiles:
    files = files_for(folder / "model" / "parts.safetensors")
    files.checkpoint.parent.mkdir(parents=True)
    files.checkpoint.write_bytes(b"weights")
    files.labels.write_text("bolt\nnut\n")
    maps = folder / "model" / "parts.mistakes"
    png = solid_image(maps / "1-nut3.png", 90)
    evaluation = Evaluation(
        ("bolt", "nut"), HOLD_OUT, {"bolt": 10, "nut": 12}, {"bolt": 2, "nut": 3}, 0.8,
        {"bolt": 1.0, "nut": 2 / 3}, [[2, 0], [1, 2]],
        (Mistake(str(folder / "images" / "nut3.png"), "nut", "bolt", 0.7),), ())
    write_report(files, {
        "trained_at": MADE.isoformat(), "checkpoint": str(files.checkpoint),
        "recipe": {"name": "linear probe", **asdict(DEFAULT_RECIPE)},
        "result": {"best_stage": "linear probe", "best_epoch": 0, "stopped": "completed",
                   "probe_val_accuracy": 0.8},
        **evaluation.to_dict(), "mistake_maps": [str(png)], "mistake_maps_trained_on": 0})
    return files


def test_a_moved_folders_report_is_read_with_its_maps_where_they_are_now(
        tmp_path: Path) -> None:
    _saved(tmp_path / "before")
    shutil.move(tmp_path / "before", tmp_path / "after")

    saved = read_saved(tmp_path / "after" / "model" / "parts.safetensors")

    assert saved is not None
    assert saved.evaluation.classes == ("bolt", "nut")
    assert saved.evaluation.confusion_matrix == [[2, 0], [1, 2]]
    assert saved.best == "the linear probe" and saved.stopped == "completed"
    assert saved.recipe == DEFAULT_RECIPE.describe()
    assert saved.trained_at == MADE
    [(mistake, png)] = saved.mistake_maps
    assert mistake.true == "nut" and png == tmp_path / "after" / "model" / "parts.mistakes" / (
        "1-nut3.png")


def test_an_older_report_without_its_time_has_its_files(tmp_path: Path) -> None:
    files = _saved(tmp_path)
    report = json.loads(files.report.read_text())
    del report["trained_at"]
    files.report.write_text(json.dumps(report))
    os.utime(files.report, (MADE.timestamp(), MADE.timestamp()))

    saved = read_saved(files.checkpoint)

    assert saved is not None and saved.trained_at == MADE


def test_a_model_without_its_report_or_labels_has_nothing_to_read(tmp_path: Path) -> None:
    files = _saved(tmp_path)
    files.report.unlink()
    assert read_saved(files.checkpoint) is None
    files = _saved(tmp_path / "again")
    files.labels.unlink()
    assert read_saved(files.checkpoint) is None


@pytest.mark.parametrize(("damage", "said"), [
    (lambda r: "[1, 2]", "damaged (not a training report)"),
    (lambda r: json.dumps({**r, "result": {}}), "damaged (no 'best_stage')"),
    (lambda r: json.dumps({**r, "confusion_matrix": [[1]]}), "does not match the classes"),
    (lambda r: json.dumps({**r, "mistake_maps": []}), "damaged"),
    (lambda r: json.dumps({**r, "classes": ["nut", "bolt"]}), "not those of parts.txt"),
])
def test_a_damaged_report_is_a_report_error_that_says_what(
        tmp_path: Path, damage: object, said: str) -> None:
    files = _saved(tmp_path)
    files.report.write_text(damage(json.loads(files.report.read_text())))  # type: ignore[operator]

    with pytest.raises(ReportError, match=str(files.report).replace(".", r"\.")) as caught:
        read_saved(files.checkpoint)
    assert said in str(caught.value)
