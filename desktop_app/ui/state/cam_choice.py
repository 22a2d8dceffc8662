"""Which CAM method the window may run where, and what it calls each one.

Live frames must keep their frame rate, so a live source runs only a method that costs
about what Grad-CAM costs at the same layer (issue 10: at most 1.15×). What the engine does
decides it (``inference/cam_methods.py``):

- Grad-CAM, HiResCAM, Grad-CAM++, XGrad-CAM and LayerCAM need one forward and, off layer4,
  one backward — what Grad-CAM itself needs there; Eigen-CAM needs no backward at all.
- Ablation-CAM is closed-form at layer4 (``fc.weight[c, k] · mean(A_k)``), but off layer4
  it runs one forward per channel; Score-CAM always runs one forward per channel.

A method that is too slow for live frames runs on a frozen frame or a still; while frames
arrive they show Grad-CAM, and the window says why.
"""

from __future__ import annotations

METHOD_TITLES: dict[str, str] = {
    "gradcam": "Grad-CAM",
    "hirescam": "HiResCAM",
    "gradcam++": "Grad-CAM++",
    "xgradcam": "XGrad-CAM",
    "layercam": "LayerCAM",
    "eigencam": "Eigen-CAM",
    "ablationcam": "Ablation-CAM",
    "scorecam": "Score-CAM",
}
# In inference.catalog.CAM_METHODS's order (a test checks; ui.state cannot import it).
HEAD_LAYER = "layer4"  # the only layer where Ablation-CAM is closed-form

LIVE_FALLBACK = "gradcam"


def method_title(method: str | None) -> str:
    return METHOD_TITLES.get(method or "", method or "no map")


def live_capable(method: str, layer: str | None) -> bool:
    """Whether ``method`` at ``layer`` keeps up with live frames (see the module doc)."""
    if method == "scorecam":
        return False
    if method == "ablationcam":
        return (layer or HEAD_LAYER) == HEAD_LAYER
    return True


def live_method(method: str, layer: str | None) -> str:
    """The method live frames run when ``method`` is chosen."""
    return method if live_capable(method, layer) else LIVE_FALLBACK


def why_not_live(method: str, layer: str | None) -> str:
    """One line for the user: why live frames do not show ``method``."""
    return (f"{method_title(method)} runs one forward pass per channel at {layer or 'layer4'}: "
            f"too slow for live frames, which show {method_title(LIVE_FALLBACK)}. "
            f"Freeze (Space) or open a still to see {method_title(method)}.")
