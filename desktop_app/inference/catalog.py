"""The official models on offer. Importing this module does not import torch."""

from __future__ import annotations

# torchvision builder names; each uses its weights enum's DEFAULT (resnet50: IMAGENET1K_V2).
MODEL_NAMES: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "wide_resnet50_2",
    "resnext50_32x4d",
)
DEFAULT_MODEL = "resnet50"
DEFAULT_CAM_LAYER = "layer4"
# CAM methods, named as pytorch-grad-cam's classes (GradCAM, HiResCAM, GradCAMPlusPlus, …).
CAM_METHODS: tuple[str, ...] = (
    "gradcam",
    "hirescam",
    "gradcam++",
    "xgradcam",
    "layercam",
    "eigencam",
    "ablationcam",
    "scorecam",
)
DEFAULT_CAM_METHOD = "gradcam"
# aug_smooth's test-time augmentations (inference/cam_methods.py), (flip horizontally,
# intensity factor): ttach's HorizontalFlip × Multiply([0.9, 1, 1.1]).
AUGMENTATIONS: tuple[tuple[bool, float], ...] = tuple(
    (flip, factor) for flip in (False, True) for factor in (1.0, 0.9, 1.1)
)
# Faithfulness scores of a map (inference/faithfulness.py): RISE's deletion and insertion
# areas, ROAD's combined score.
FAITHFULNESS_METRICS: tuple[str, ...] = ("deletion", "insertion", "road")
