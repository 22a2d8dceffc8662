"""How well a taught model does on its validation images, and warnings in plain words.

Validation is one stratified hold-out split (every class keeps at least one image on each
side) or, when a class has fewer than ``FEW_IMAGES`` images, k-fold cross-validation (every
image predicted by a model that did not train on it; see ``inference.training``). Either way
the scores come in as probabilities per image; ``validation`` names which it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.dataset import Duplicate

FEW_IMAGES = 10
HOLD_OUT = "hold-out split"
UNBALANCED_RATIO = 3.0
MAX_MISTAKES = 5
_MAX_DUPLICATES_NAMED = 3


@dataclass(frozen=True)
class Mistake:
    path: str
    true: str
    predicted: str
    confidence: float  # the model's probability for the wrong class


@dataclass(frozen=True)
class Evaluation:
    classes: tuple[str, ...]
    validation: str  # HOLD_OUT or "K-fold cross-validation"
    counts: dict[str, int]  # usable images per class
    val_counts: dict[str, int]
    accuracy: float
    per_class_accuracy: dict[str, float]
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted class
    mistakes: tuple[Mistake, ...]  # the most confident first
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Evaluation:
        """The evaluation a report saved (``to_dict``'s keys; null for a class's accuracy
        without validation images). ``ValueError`` when it is not one this version wrote."""
        try:
            classes = tuple(str(name) for name in data["classes"])
            k = len(classes)
            confusion = [[int(n) for n in row] for row in data["confusion_matrix"]]
            if k < 2 or len(confusion) != k or any(len(row) != k for row in confusion):
                raise ValueError("the confusion matrix does not match the classes")
            return cls(
                classes, str(data["validation"]),
                {name: int(data["counts"][name]) for name in classes},
                {name: int(data["val_counts"][name]) for name in classes},
                _rate(data["accuracy"]),
                {name: _rate(data["per_class_accuracy"][name]) for name in classes},
                confusion,
                tuple(Mistake(str(m["path"]), str(m["true"]), str(m["predicted"]),
                              float(m["confidence"])) for m in data["mistakes"]),
                tuple(str(w) for w in data["warnings"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a saved evaluation ({type(exc).__name__}: {exc})") from exc


def _rate(value: object) -> float:
    """An accuracy as saved: a number, or null where there was nothing to score."""
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def evaluate(
    classes: Sequence[str],
    counts: dict[str, int],
    y_true: np.ndarray,
    probabilities: np.ndarray,
    paths: Sequence[Path],
    duplicates: Sequence[Duplicate] = (),
    validation: str = HOLD_OUT,
) -> Evaluation:
    """Scores of validation images (``probabilities``: (N, classes)) with labels ``y_true``."""
    k = len(classes)
    predicted = probabilities.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (y_true, predicted), 1)
    val_counts = confusion.sum(axis=1)
    per_class = {
        name: float(confusion[c, c] / val_counts[c]) if val_counts[c] else float("nan")
        for c, name in enumerate(classes)
    }
    wrong = np.flatnonzero(predicted != y_true)
    wrong = wrong[np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")]
    mistakes = tuple(
        Mistake(str(paths[i]), classes[y_true[i]], classes[predicted[i]],
                float(probabilities[i, predicted[i]]))
        for i in wrong[:MAX_MISTAKES]
    )
    return Evaluation(
        tuple(classes),
        validation,
        dict(counts),
        {name: int(val_counts[c]) for c, name in enumerate(classes)},
        float((predicted == y_true).mean()) if len(y_true) else float("nan"),
        per_class,
        confusion.tolist(),
        mistakes,
        tuple(warnings(classes, counts, predicted, duplicates)),
    )


def warnings(
    classes: Sequence[str],
    counts: dict[str, int],
    predicted: np.ndarray,
    duplicates: Sequence[Duplicate],
) -> list[str]:
    found = [
        f"only {counts[name]} images of {name}: aim for {FEW_IMAGES} or more; its "
        "validation accuracy rests on very few images"
        for name in classes if counts[name] < FEW_IMAGES
    ]
    most = max(classes, key=lambda name: counts[name])
    least = min(classes, key=lambda name: counts[name])
    if counts[least] and counts[most] / counts[least] >= UNBALANCED_RATIO:
        found.append(
            f"unbalanced classes: {most} has {counts[most]} images, {least} only "
            f"{counts[least]}; the model may favour {most}")
    for dup in duplicates[:_MAX_DUPLICATES_NAMED]:
        found.append(
            f"the same image is in {dup.classes[0]} ({dup.first}) and in {dup.classes[1]} "
            f"({dup.second}); keep it in one class only")
    if len(duplicates) > _MAX_DUPLICATES_NAMED:
        more = len(duplicates) - _MAX_DUPLICATES_NAMED
        found.append(f"… and {more} more {'image' if more == 1 else 'images'} in two classes")
    if len(classes) > 1 and len(predicted) > 1 and len(set(predicted.tolist())) == 1:
        found.append(
            f"the model predicts {classes[int(predicted[0])]} for every validation image: it "
            "has not learned to tell the classes apart (more, or more varied, images help)")
    return found
