"""The one teaching recipe (engine, CLI and window): its checks and its description."""

from __future__ import annotations

from dataclasses import replace

import pytest

from desktop_app.core.errors import InvalidArgument
from desktop_app.core.teach_recipe import DEFAULT_RECIPE


@pytest.mark.parametrize(("argument", "value"), [
    ("epochs", 0), ("learning_rate", 0.0), ("val_split", 1.0), ("val_split", 0.0),
    ("seed", -1)])
def test_a_value_the_recipe_cannot_take_is_refused_naming_its_argument(
        argument: str, value: float) -> None:
    with pytest.raises(InvalidArgument) as refused:
        replace(DEFAULT_RECIPE, **{argument: value})
    assert refused.value.argument == argument


def test_the_description_says_what_is_trained() -> None:
    assert DEFAULT_RECIPE.describe().startswith("linear probe, then fine-tuning layer4")
    assert replace(DEFAULT_RECIPE, linear_only=True, seed=3).describe() == (
        f"linear probe only; {DEFAULT_RECIPE.val_split:.0%} of each class for validation, "
        "seed 3")
