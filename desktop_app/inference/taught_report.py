"""A taught model read back from its files (see ``taught_files``): what an earlier session's
training found, for the window to show again after a relaunch.

The report holds the evaluation, the recipe and how the training ended; the mistakes' maps
are PNGs beside the checkpoint. The gallery of each class's maps is drawn only right after a
training and not saved. Paths are taken from where the checkpoint is now, never from the
report: a project folder may have moved as a whole since. No torch here: nothing is loaded
to read a report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop_app.core.errors import LensError
from desktop_app.core.evaluation import Evaluation, Mistake
from desktop_app.core.teach_recipe import Recipe, best_in_words
from desktop_app.inference.taught_files import TaughtFiles, files_for


class ReportError(LensError):
    """A taught model whose report cannot be read back (damaged, or not this model's)."""


@dataclass(frozen=True)
class SavedTraining:
    files: TaughtFiles
    evaluation: Evaluation
    recipe: str  # in words; "" when the report's recipe is not one this version takes
    best: str  # the stage and epoch whose model was kept, e.g. "fine-tune epoch 3"
    stopped: str  # "completed", "early stopping" or "cancelled"
    probe_accuracy: float
    trained_at: datetime  # when the training listed its images (what the results describe)
    mistake_maps: tuple[tuple[Mistake, Path], ...]  # the mistakes whose map is still there


def read_saved(checkpoint: Path) -> SavedTraining | None:
    """The training saved as ``checkpoint``: None when there is none (no checkpoint, labels
    or report); ``ReportError`` when its report is damaged or describes other classes."""
    files = files_for(checkpoint)
    if not all(path.is_file() for path in (files.checkpoint, files.labels, files.report)):
        return None
    try:
        data = json.loads(files.report.read_text(encoding="utf-8"))
        labels = files.labels.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{files.report}: cannot be read ({_reason(exc)})") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{files.report}: damaged (not a training report)")
    try:
        evaluation = Evaluation.from_dict(data)
        result = data["result"]
        best = best_in_words(str(result["best_stage"]), int(result["best_epoch"]))
        stopped = str(result["stopped"])
        probe = float(result["probe_val_accuracy"])
        folder = files.checkpoint.with_name(f"{files.checkpoint.stem}.mistakes")
        maps = [(m, folder / Path(p).name)
                for m, p in zip(evaluation.mistakes, data["mistake_maps"], strict=True)]
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{files.report}: damaged ({_reason(exc)})") from exc
    if list(evaluation.classes) != labels:
        raise ReportError(f"{files.report}: its classes are not those of {files.labels.name}")
    return SavedTraining(
        files, evaluation, _recipe(data.get("recipe")), best, stopped, probe,
        _trained_at(data.get("trained_at"), files.report),
        tuple((m, png) for m, png in maps if png.is_file()))


def _recipe(record: Any) -> str:
    try:
        return Recipe(**{f.name: record[f.name] for f in fields(Recipe)}).describe()
    except (LensError, KeyError, TypeError):
        return ""


def _trained_at(value: Any, report: Path) -> datetime:
    """The report's time; for a report written before it recorded one, its file's."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone()
        except ValueError:
            pass
    return datetime.fromtimestamp(report.stat().st_mtime).astimezone()


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg}, line {exc.lineno}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    return f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
