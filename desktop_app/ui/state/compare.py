"""The Compare grid as plain data: methods (rows) × columns, each cell a map and its scores,
ranked within its column, written out as CSV.

The columns are the top-k classes at one layer, or the layers for one class (``Columns``).
The work is done one job at a time, the cheapest first (``CompareGrid.next_job``): a job is
one map request (a method at a layer, for every class of the grid at that layer) or one
cell's scoring. Costs are counted in forward passes of the whole network (``map_cost``,
``SCORE_COST``), so that a cancelled comparison keeps the cells most worth having for the
time it took: every cheap map first, then their scores, then each expensive cell in turn.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

# Rows, and the order among maps of equal cost (at layer4: closed forms, the gradient
# family, the SVD, Ablation-CAM's closed form, then one forward per channel).
COST_ORDER: tuple[str, ...] = ("gradcam", "hirescam", "xgradcam", "gradcam++", "layercam",
                               "eigencam", "ablationcam", "scorecam")
METRICS: tuple[str, ...] = ("deletion", "insertion", "road")
CSV_COLUMNS = ("method", "class_index", "label", "layer", *METRICS, "rank")

# What the engine does (inference/cam_methods.py), in forwards of the whole network, with
# the stages of a ResNet costing about the same each (each halves the resolution and
# doubles the channels). Measured on a ResNet-18 on the CPU: Grad-CAM 2.3, 2.0, 1.6, 1.0 at
# layer1–4; Eigen-CAM 1.0–1.1; Ablation-CAM 32–39 off layer4, 1.0 at it; Score-CAM 44, 92,
# 179, 561. Bottleneck ResNets are 4× wider, which only makes per-channel methods dearer.
LAYER1_CHANNELS = 64
# One cell's deletion, insertion and ROAD: 2 × 33 perturbed forwards (batched) and ROAD's
# imputations and 14 forwards; measured at 36–40 forwards of a ResNet-18-sized network.
SCORE_COST = 40.0


class Columns(Enum):
    CLASSES = "classes"  # the top-k classes, at the layer on screen
    LAYERS = "layers"  # the layers, for one class


def share_after(layer: str, layers: Sequence[str]) -> float:
    """The share of the network's work after ``layer`` (``layerS`` or a block ``layerS.i``
    of the model whose CAM layers are ``layers``): a quarter per stage after it, and the
    blocks after it in its own stage."""
    stage, _, block = layer.partition(".")
    after = (4 - int(stage.removeprefix("layer"))) / 4
    if block:
        blocks = sum(name.startswith(f"{stage}.") for name in layers)
        after += (blocks - 1 - int(block)) / (4 * blocks)
    return after


def map_cost(method: str, layer: str, layers: Sequence[str]) -> float:
    """About how many forwards one map costs (see ``LAYER1_CHANNELS``)."""
    after = share_after(layer, layers)
    channels = LAYER1_CHANNELS * 2 ** (int(layer[len("layer")]) - 1)
    if method == "scorecam":  # one forward of the masked input per channel
        return 1.0 + channels
    if method == "ablationcam":  # one forward of the rest per channel; closed form at the head
        return 1.0 + channels * after
    if method == "eigencam":  # the activation's SVD: no backward
        return 1.0
    return 1.0 + 2.0 * after  # the gradient family: a backward of the rest


def layer_columns(layers: Sequence[str], current: str | None) -> tuple[str, ...]:
    """The layers a grid by layer shows, shallowest first: the picker's whole stages, and
    its current layer when that is an inner block (a stage's last block *is* the stage)."""
    chosen = [name for name in layers if "." not in name]
    stage_shares = {share_after(name, layers) for name in chosen}
    if current in layers and current not in chosen \
            and share_after(current, layers) not in stage_shares:
        chosen.append(current)
    return tuple(sorted(chosen, key=lambda name: -share_after(name, layers)))


@dataclass(frozen=True)
class CompareColumn:
    key: int | str  # the class index (by classes) or the layer (by layers)
    class_index: int
    label: str
    layer: str


@dataclass(frozen=True)
class MapJob:
    """One map request: ``method`` at ``layer`` for ``classes``."""

    method: str
    layer: str
    classes: tuple[int, ...]


@dataclass
class CompareCell:
    method: str
    column: CompareColumn
    mapped: bool = False  # its map has come (the controller keeps the maps)
    scores: dict[str, float] | None = None
    rank: int | None = None  # 1 = the most faithful map of its column

    @property
    def merit(self) -> float:
        """One number to rank by: insertion − deletion (both areas in [0, 1]) plus ROAD;
        higher is better for all three terms."""
        s = self.scores or {}
        return s.get("insertion", 0.0) - s.get("deletion", 0.0) + s.get("road", 0.0)


@dataclass
class CompareGrid:
    by: Columns
    methods: tuple[str, ...]
    columns: tuple[CompareColumn, ...]
    layers: tuple[str, ...]  # the model's CAM layers: what costs are reckoned from
    pinned: bool = False  # by layers: whether the class is the user's pin (else the top one)
    cells: dict[tuple[str, int | str], CompareCell] = field(default_factory=dict)
    map_order: tuple[tuple[str, str], ...] = ()  # (method, layer) maps, cheapest first

    @classmethod
    def by_classes(cls, methods: Sequence[str], classes: Sequence[tuple[int, str]],
                   layer: str, layers: Sequence[str]) -> CompareGrid:
        """Methods × ``classes`` ((index, label), the prediction's order) at ``layer``."""
        columns = tuple(CompareColumn(index, index, label, layer) for index, label in classes)
        return cls._plan(Columns.CLASSES, methods, columns, layers, pinned=False)

    @classmethod
    def by_layers(cls, methods: Sequence[str], class_index: int, label: str,
                  columns: Sequence[str], layers: Sequence[str], *,
                  pinned: bool) -> CompareGrid:
        """Methods × ``columns`` (layers) for one class."""
        return cls._plan(Columns.LAYERS, methods,
                         tuple(CompareColumn(layer, class_index, label, layer)
                               for layer in columns), layers, pinned=pinned)

    @classmethod
    def _plan(cls, by: Columns, methods: Sequence[str], columns: tuple[CompareColumn, ...],
              layers: Sequence[str], *, pinned: bool) -> CompareGrid:
        ordered = tuple(m for m in COST_ORDER if m in methods)
        grid = cls(by, ordered, columns, tuple(layers), pinned)
        for method in ordered:
            for column in columns:
                grid.cells[method, column.key] = CompareCell(method, column)
        depth = {c.layer: i for i, c in enumerate(columns)}
        pairs = {(m, c.layer) for m in ordered for c in columns}
        grid.map_order = tuple(sorted(pairs, key=lambda p: (
            grid.map_cost(*p), ordered.index(p[0]), depth[p[1]])))
        return grid

    def map_cost(self, method: str, layer: str) -> float:
        return map_cost(method, layer, self.layers)

    def _cells_of(self, method: str, layer: str) -> list[CompareCell]:
        return [self.cells[method, c.key] for c in self.columns if c.layer == layer]

    def next_job(self) -> MapJob | CompareCell | None:
        """The cheapest work left: a map not made yet, or a mapped cell's scoring."""
        missing = next(((m, layer) for m, layer in self.map_order
                        if not all(c.mapped for c in self._cells_of(m, layer))), None)
        ready = next((cell for m, layer in self.map_order for cell in self._cells_of(m, layer)
                      if cell.mapped and cell.scores is None), None)
        if ready is not None and (missing is None or self.map_cost(*missing) >= SCORE_COST):
            return ready
        if missing is None:
            return None
        method, layer = missing
        return MapJob(method, layer,
                      tuple(c.column.class_index for c in self._cells_of(method, layer)))

    def mapped(self, method: str, layer: str) -> list[CompareCell]:
        """Mark the cells of the map of ``method`` at ``layer`` as having it; returns them."""
        cells = self._cells_of(method, layer)
        for cell in cells:
            cell.mapped = True
        return cells

    def set_scores(self, method: str, key: int | str, scores: dict[str, float]) -> None:
        self.cells[method, key].scores = dict(scores)
        scored = sorted((c for c in self.cells.values()
                         if c.column.key == key and c.scores is not None),
                        key=lambda c: -c.merit)
        for rank, cell in enumerate(scored, start=1):
            cell.rank = rank

    @property
    def done(self) -> int:
        return sum(c.scores is not None for c in self.cells.values())

    def csv_text(self) -> str:
        """One row per cell, row by row as on screen (unscored cells too: empty scores)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for cell in self.cells.values():
            s, c = cell.scores or {}, cell.column
            writer.writerow([cell.method, c.class_index, c.label, c.layer,
                             *(f"{s[m]:.6f}" if m in s else "" for m in METRICS),
                             cell.rank or ""])
        return buffer.getvalue()
