"""Teaching new classes (desktop_app.inference.training, ``resnet-lens train``).

The backbone is the small trained shapes model (tests/shapes_model.py). The classes it is
taught are shape/pattern combinations it never saw: its four classes each pair one outline
with one fill pattern; here the outlines get other classes' patterns.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run_cli
from shapes_model import CLASSES, Sample, ShapesModel, make_sample, shapes_model_fixture

from desktop_app.core.dataset import DatasetError, check_teachable, scan_dataset
from desktop_app.core.evaluation import evaluate
from desktop_app.inference import load_classifier
from desktop_app.inference.taught_files import files_for, save_checkpoint
from desktop_app.inference.training import FINE_TUNE, Recipe, stratified_split, teach

# name -> (outline class, pattern class): outlines with patterns of other classes.
NOVEL = {
    "striped circle": (CLASSES.index("circle"), CLASSES.index("triangle")),
    "dotted square": (CLASSES.index("square"), CLASSES.index("circle")),
    "checked triangle": (CLASSES.index("triangle"), CLASSES.index("square")),
    "dotted cross": (CLASSES.index("cross"), CLASSES.index("circle")),
}
TRAIN_PER_CLASS = 12
HELDOUT_PER_CLASS = 15


@dataclass(frozen=True)
class Written:
    path: Path
    label: int
    sample: Sample


def write_novel(root: Path, per_class: int, seed: int, first: int = 0) -> list[Written]:
    """``per_class`` PNGs per novel class under ``root/<class>/``, numbered from ``first``."""
    written = []
    for label, (name, (outline, pattern)) in enumerate(NOVEL.items()):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        streams = np.random.SeedSequence([seed, label]).spawn(first + per_class)[first:]
        for i, stream in enumerate(streams, start=first):
            sample = make_sample(np.random.default_rng(stream), outline, pattern=pattern)
            path = folder / f"{i:03d}.png"
            sample.image.save(path)
            written.append(Written(path, label, sample))
    return written


# -- the folder, the split and the evaluation (no model) ----------------------------------------
def _png(path: Path, value: int) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)
    return path


def test_scan_finds_classes_duplicates_across_classes_and_repeats_within_one(tmp_path) -> None:
    _png(tmp_path / "cat" / "a.png", 1)
    shutil.copy(tmp_path / "cat" / "a.png", tmp_path / "cat" / "copy.png")
    _png(tmp_path / "cat" / "nested" / "b.png", 2)
    _png(tmp_path / "dog" / "c.png", 3)
    shutil.copy(tmp_path / "cat" / "a.png", tmp_path / "dog" / "same-as-a.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image file name: not listed")
    (tmp_path / ".hidden").mkdir()

    dataset = scan_dataset(tmp_path)

    assert dataset.classes == ("cat", "dog")
    assert dataset.counts() == {"cat": 2, "dog": 2}  # the copy within cat counts once
    assert dataset.repeats == 1
    [dup] = dataset.duplicates
    assert (dup.first.name, dup.second.name, dup.classes) == ("a.png", "same-as-a.png",
                                                              ("cat", "dog"))


def test_too_few_classes_or_images_are_one_line_errors(tmp_path) -> None:
    with pytest.raises(DatasetError, match=r"at least two classes.*found 1 \(cat\)"):
        check_teachable(("cat",), {"cat": 5})
    with pytest.raises(DatasetError, match=r"at least two usable images; too few in dog \(1\)"):
        check_teachable(("cat", "dog"), {"cat": 5, "dog": 1})
    with pytest.raises(DatasetError, match="not a folder"):
        scan_dataset(tmp_path / "missing")


def test_stratified_split_keeps_every_class_on_both_sides_and_follows_the_seed() -> None:
    labels = np.array([0] * 2 + [1] * 10 + [2] * 31)
    train, val = stratified_split(labels, 0.2, seed=3)
    assert sorted([*train, *val]) == list(range(len(labels)))
    assert [int((labels[val] == c).sum()) for c in range(3)] == [1, 2, 6]
    again, _ = stratified_split(labels, 0.2, seed=3)
    other, _ = stratified_split(labels, 0.2, seed=4)
    assert again.tolist() == train.tolist() and other.tolist() != train.tolist()


def test_evaluation_counts_confusions_orders_mistakes_and_warns(tmp_path) -> None:
    from desktop_app.core.dataset import Duplicate

    classes = ("a", "b", "c")
    y_true = np.array([0, 0, 1, 1, 2])
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1],
                      [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    paths = [tmp_path / f"{i}.png" for i in range(5)]
    dup = Duplicate(tmp_path / "a" / "x.png", tmp_path / "b" / "x.png", ("a", "b"))
    result = evaluate(classes, {"a": 40, "b": 12, "c": 4}, y_true, probs, paths, [dup])

    assert result.confusion_matrix == [[1, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert result.per_class_accuracy == {"a": 0.5, "b": 0.5, "c": 1.0}
    assert result.accuracy == pytest.approx(0.6)
    assert [(m.path, m.true, m.predicted) for m in result.mistakes] == [
        (str(paths[1]), "a", "b"), (str(paths[3]), "b", "a")]  # 0.7 before 0.6
    text = " | ".join(result.warnings)
    assert "only 4 images of c" in text
    assert "unbalanced classes: a has 40 images, c only 4" in text
    assert "the same image is in a" in text and "x.png" in text
    assert "predicts" not in text

    everything_a = evaluate(classes, {"a": 10, "b": 10, "c": 10}, y_true,
                            np.tile([0.5, 0.3, 0.2], (5, 1)), paths)
    assert everything_a.warnings == (
        "the model predicts a for every validation image: it has not learned to tell the "
        "classes apart (more, or more varied, images help)",)
