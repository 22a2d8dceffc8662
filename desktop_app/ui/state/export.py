"""Results as text, CSV and JSON. Files are written atomically (temp file + rename), so an
interrupted export never leaves half a file under the user's chosen name."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.atomic import write_text_atomically
from desktop_app.core.results import Prediction

CSV_COLUMNS = ("source", "rank", "label", "class_index", "probability", "model", "device", "error")


@dataclass(frozen=True)
class BatchEntry:
    """One image of a folder run: a prediction, or the one-line reason it has none."""

    source: str
    prediction: Prediction | None = None
    error: str | None = None


_FRAME_MARK = "#frame-"


def frame_name(source: str, index: int) -> str:
    """How a frame of a video or camera is named: "clip.avi#frame-123"."""
    return f"{source}{_FRAME_MARK}{index}"


def file_stem(source: str | None) -> str:
    """A file-name stem for what ``source`` names: "photo" for "/x/photo.jpg",
    "clip_frame-123" for "clip.avi#frame-123"; characters a file name may not hold
    become "_"."""
    base, mark, frame = (source or "image").rpartition(_FRAME_MARK)
    stem = f"{Path(base).stem}_frame-{frame}" if mark else Path(frame).stem
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60] or "image"


def map_file_name(prediction: Prediction, index: int, suffix: str) -> str:
    """The name an exported map of class ``index`` is offered under, as the CLI names its
    maps: "photo.top1-281.gradcam++.layer3.png" (rank among the top-k, class, method,
    layer); a class outside the top-k is "photo.class-281.…"."""
    ranks = [s.index for s in prediction.topk]
    place = f"top{ranks.index(index) + 1}" if index in ranks else "class"
    parts = [file_stem(prediction.source), f"{place}-{index}",
             prediction.cam_method or "gradcam", prediction.cam_layer or "layer4"]
    return ".".join(p.replace("/", "_") for p in parts) + suffix


def predictions_text(prediction: Prediction) -> str:
    """Tab-separated lines that paste into a spreadsheet and read well in a chat."""
    lines = [f"{prediction.source or 'image'}\t{prediction.model}\t{prediction.device}"]
    lines += [
        f"{rank}\t{score.label}\t{score.probability * 100:.2f} %"
        for rank, score in enumerate(prediction.topk, start=1)
    ]
    return "\n".join(lines) + "\n"


def results_csv(entries: Iterable[BatchEntry]) -> str:
    """One row per (image, rank); a failed image gets one row holding its error."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        pred = entry.prediction
        if pred is None:
            writer.writerow([entry.source, "", "", "", "", "", "", entry.error or ""])
            continue
        for rank, score in enumerate(pred.topk, start=1):
            writer.writerow([entry.source, rank, score.label, score.index,
                             f"{score.probability:.6f}", pred.model, pred.device, ""])
    return buffer.getvalue()


def results_json(entries: Sequence[BatchEntry]) -> str:
    items = []
    for entry in entries:
        if entry.prediction is not None:
            item = entry.prediction.to_dict()
            item["source"] = entry.source
        else:
            item = {"source": entry.source, "error": entry.error}
        items.append(item)
    return json.dumps({"count": len(items), "results": items}, indent=2) + "\n"


def write_results(path: str | os.PathLike[str], entries: Sequence[BatchEntry]) -> Path:
    """CSV or JSON by the file's suffix (.json, else CSV)."""
    path = Path(path)
    text = results_json(entries) if path.suffix.lower() == ".json" else results_csv(entries)
    write_text_atomically(path, text)
    return path
