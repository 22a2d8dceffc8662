"""What a folder run writes for each image: its map files and its JSON line, named and
skipped as ``resnet-lens predict --out FILE --cam-dir DIR --resume`` does.

The command line and the window's *Classify all* both write through :class:`FolderOutputs`,
so a folder written by one can be resumed by the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from desktop_app.core.atomic import remove_leftovers
from desktop_app.core.map_outputs import MapOptions, write_maps
from desktop_app.core.result_log import ResultLog
from desktop_app.core.results import Prediction
from desktop_app.core.sources import MissingInput
from desktop_app.inference.pipeline import Outcome


def failure_line(item: str, reason: str) -> str:
    """``reason`` as one line that names ``item`` once."""
    return reason if reason.startswith(item) else f"{item}: {reason}"


class FolderOutputs:
    """Names each image's map files, skips what ``log`` already holds (``resume``), and
    writes each finished image's maps and JSON line.

    ``pending`` runs on the thread that feeds ``run_folder``, ``write`` on its writer
    thread; they share only the names of the images in flight."""

    def __init__(self, log: ResultLog | None, maps: MapOptions | None,
                 methods: tuple[str, ...], cam_layer: str, *, resume: bool = False,
                 with_metrics: bool = False) -> None:
        self._log = log
        self._maps = maps
        self._methods = methods
        self._cam_layer = cam_layer
        self._resume = resume and log is not None
        self._with_metrics = with_metrics
        self._suffix = f".{maps.format}" if maps is not None and methods else None
        self._stems: dict[int, str] = {}  # for the images in flight only
        self._used_stems: set[str] = set()
        self.skipped = 0
        if self._resume and maps is not None:
            # A run killed mid-write leaves a temporary file beside the maps; this run
            # writes those maps again.
            remove_leftovers(maps.folder)

    def pending(self, inputs: Iterable[Path | MissingInput],
                on_skip: Callable[[Path], None] | None = None
                ) -> Iterator[Path | MissingInput]:
        """``inputs`` less those done in an earlier run (each one passed to ``on_skip``),
        numbered as ``run_folder`` numbers what it is given."""
        index = 0
        for item in inputs:
            if isinstance(item, Path):
                # Every file takes its name in the same order, done or not, so that a
                # resumed run names the rest as the first run did.
                stem = _free_stem(item, self._used_stems)
                if self._resume and self._is_done(item):
                    self.skipped += 1
                    if on_skip is not None:
                        on_skip(item)
                    continue
                self._stems[index] = stem
            yield item
            index += 1

    def write(self, outcome: Outcome) -> dict[str, Any] | None:
        """Write ``outcome``'s maps and its line in the log; returns its record (None for
        an image that failed: ``outcome.error`` says why). Raises ``LensError`` or
        ``OSError`` when a map cannot be written; the log then does not list the image."""
        stem = self._stems.pop(outcome.index, outcome.path.stem)
        if outcome.error is not None:
            return None
        written = (write_maps(self._maps, outcome.path, stem, outcome.predictions)
                   if self._maps is not None else [])
        pred = outcome.predictions[0]
        record = {"file": str(outcome.path), **pred.to_dict()}
        del record["cam_method"]  # one line per image, possibly several methods
        record["cam_methods"] = list(self._methods)
        record["timings_ms"] = _summed_timings(outcome.predictions)
        record["maps"] = written
        # {method: {class: {metric: score}}}
        record["metrics"] = {p.cam_method: p.to_dict()["metrics"] for p in outcome.predictions
                             if self._with_metrics}
        if self._log is not None:
            self._log.append(record)
        return record

    def _is_done(self, path: Path) -> bool:
        assert self._log is not None
        return self._log.done(str(path), self._methods, self._cam_layer, self._suffix)


def _summed_timings(predictions: tuple[Prediction, ...]) -> dict[str, float]:
    """The line's timings, each stage summed over its methods' predictions: every method
    runs its own forward, maps and scores, and the line is the cost of all of them."""
    summed: dict[str, float] = {}
    for pred in predictions:
        for stage, ms in pred.timings.items():
            summed[stage] = summed.get(stage, 0.0) + ms
    return {stage: round(ms, 3) for stage, ms in summed.items()}


def _free_stem(path: Path, used_stems: set[str]) -> str:
    """The file name stem for ``path``'s maps; two inputs with one name must not overwrite
    each other."""
    stem, n = path.stem, 2
    while stem in used_stems:
        stem, n = f"{path.stem}-{n}", n + 1
    used_stems.add(stem)
    return stem
