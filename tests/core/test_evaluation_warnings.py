"""The plain-words warnings of a taught model's evaluation (desktop_app.core.evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.dataset import Duplicate
from desktop_app.core.evaluation import warnings

CLASSES = ("cat", "dog")
COUNTS = {"cat": 12, "dog": 12}


def duplicates(n: int) -> list[Duplicate]:
    return [Duplicate(f"cat/{i}.png", f"dog/{i}.png", CLASSES) for i in range(n)]


@pytest.mark.parametrize(("found", "last"), [
    (3, "the same image is in cat (cat/2.png) and in dog (dog/2.png); keep it in one class only"),
    (4, "… and 1 more image in two classes"),
    (6, "… and 3 more images in two classes"),
])
def test_duplicates_beyond_the_first_three_are_counted_in_one_line(found: int, last: str) -> None:
    lines = warnings(CLASSES, COUNTS, np.array([0, 1]), duplicates(found))
    assert lines[-1] == last
    assert len(lines) == min(found, 3) + (found > 3)
