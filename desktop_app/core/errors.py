"""Exceptions whose message is a complete one-line explanation for the user."""

from __future__ import annotations


class LensError(Exception):
    """Base class: ``str(error)`` is shown to the user as is, on one line."""


class ImageDecodeError(LensError):
    """A file or buffer that is not an image we can read."""


class WeightsError(LensError):
    """Weights that are missing, unreadable, unsafe or do not fit the model."""


class WeightsUnavailableError(WeightsError):
    """Official weights are not cached and cannot be downloaded (offline)."""


class DownloadCancelled(LensError):
    """The user cancelled a weights download; nothing was written."""


class CaptureError(LensError):
    """A camera or video source failed to open or stopped delivering frames."""
