"""How a model is taught new classes: the one recipe with its defaults, which the engine
(``inference.training``), ``resnet-lens train`` and the window's training settings share.

Here, free of torch and Qt, so that ``--help`` and the window can show and build a recipe
without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktop_app.core.errors import InvalidArgument

# The stages a training goes through, as its progress and its report name them.
PROBE = "linear probe"
FINE_TUNE = "fine-tune"


def best_in_words(stage: str, epoch: int) -> str:
    """The model kept, in words: "the linear probe" or "fine-tune epoch 3" (the probe
    counts as epoch 0, which means nothing to a reader)."""
    return "the linear probe" if stage == PROBE else f"{stage} epoch {epoch}"


@dataclass(frozen=True)
class Recipe:
    linear_only: bool = False  # the linear probe alone: no fine-tuning of layer4
    epochs: int = 15  # fine-tuning epochs at most (early stopping may end sooner)
    learning_rate: float = 3e-4  # AdamW, for layer4 and the head
    val_split: float = 0.2  # share of each class held out for validation
    seed: int = 0
    batch_size: int = 16
    patience: int = 4  # epochs without improvement before stopping

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InvalidArgument("epochs", f"must be at least 1, got {self.epochs}")
        if not self.learning_rate > 0:
            raise InvalidArgument("learning_rate", f"must be above 0, got {self.learning_rate}")
        if not 0 < self.val_split < 1:
            raise InvalidArgument("val_split", f"must be between 0 and 1, got {self.val_split}")
        if self.seed < 0:
            raise InvalidArgument("seed", f"must be 0 or more, got {self.seed}")

    def describe(self) -> str:
        """The recipe in a line for people: what is trained, then the split and seed."""
        what = ("linear probe only" if self.linear_only else
                f"linear probe, then fine-tuning layer4 and the head: at most {self.epochs} "
                f"epochs at learning rate {self.learning_rate:g}")
        return f"{what}; {self.val_split:.0%} of each class for validation, seed {self.seed}"


DEFAULT_RECIPE = Recipe()
