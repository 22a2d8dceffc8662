"""ResNet Lens: top-k ImageNet predictions with Grad-CAM overlays."""

__version__ = "0.1.0"
