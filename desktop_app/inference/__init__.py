"""Models, weights, preprocessing and Grad-CAM (torch, no Qt).

Importing this package does not import torch: ``load_classifier`` imports it on first call,
so the window can show before the ~4 s torch import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.inference.classifier import Classifier


def load_classifier(*args: Any, **kwargs: Any) -> Classifier:
    from desktop_app.inference.classifier import load_classifier as _load

    return _load(*args, **kwargs)


load_classifier.__doc__ = "See desktop_app.inference.classifier.load_classifier."

__all__ = ["load_classifier"]
