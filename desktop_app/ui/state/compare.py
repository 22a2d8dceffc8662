"""The Compare grid as plain data: methods × classes, each cell a map and its scores,
ranked within its class, written out as CSV.

Cells fill one at a time, cheapest method first (``COST_ORDER``), so that a cancelled
comparison keeps the cells most worth having for the time it took.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field

# Cheapest first, by what the engine does (cam_choice's module doc): closed forms, the
# gradient family (one backward off layer4), the SVD, then one forward per channel.
COST_ORDER: tuple[str, ...] = ("gradcam", "hirescam", "xgradcam", "gradcam++", "layercam",
                               "eigencam", "ablationcam", "scorecam")
METRICS: tuple[str, ...] = ("deletion", "insertion", "road")
CSV_COLUMNS = ("method", "class_index", "label", "layer", *METRICS, "rank")


@dataclass
class CompareCell:
    method: str
    class_index: int
    label: str
    mapped: bool = False  # its map has come (the controller keeps the method's maps)
    scores: dict[str, float] | None = None
    rank: int | None = None  # 1 = most faithful map of its class

    @property
    def merit(self) -> float:
        """One number to rank by: insertion − deletion (both areas in [0, 1]) plus ROAD;
        higher is better for all three terms."""
        s = self.scores or {}
        return s.get("insertion", 0.0) - s.get("deletion", 0.0) + s.get("road", 0.0)


@dataclass
class CompareGrid:
    methods: tuple[str, ...]
    classes: tuple[tuple[int, str], ...]  # (index, label), the prediction's order
    layer: str
    cells: dict[tuple[str, int], CompareCell] = field(default_factory=dict)

    @classmethod
    def plan(cls, methods: Sequence[str], classes: Sequence[tuple[int, str]],
             layer: str) -> CompareGrid:
        ordered = tuple(m for m in COST_ORDER if m in methods)
        grid = cls(ordered, tuple(classes), layer)
        for method in ordered:
            for index, label in classes:
                grid.cells[method, index] = CompareCell(method, index, label)
        return grid

    def next_map(self) -> str | None:
        """The cheapest method with no maps yet (one request makes all its classes')."""
        return next((m for m in self.methods
                     if not all(self.cells[m, c].mapped for c, _ in self.classes)), None)

    def next_score(self) -> CompareCell | None:
        """The first cell (in method order) with a map but no scores."""
        return next((cell for cell in self.cells.values()
                     if cell.mapped and cell.scores is None), None)

    def set_scores(self, method: str, class_index: int, scores: dict[str, float]) -> None:
        self.cells[method, class_index].scores = dict(scores)
        scored = sorted((c for c in self.cells.values()
                         if c.class_index == class_index and c.scores is not None),
                        key=lambda c: -c.merit)
        for rank, cell in enumerate(scored, start=1):
            cell.rank = rank

    @property
    def done(self) -> int:
        return sum(c.scores is not None for c in self.cells.values())

    def csv_text(self) -> str:
        """One row per cell (unscored cells too: empty scores)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for cell in self.cells.values():
            s = cell.scores or {}
            writer.writerow([cell.method, cell.class_index, cell.label, self.layer,
                             *(f"{s[m]:.6f}" if m in s else "" for m in METRICS),
                             cell.rank or ""])
        return buffer.getvalue()
