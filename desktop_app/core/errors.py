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


class Cancelled(LensError):
    """The user cancelled a long computation (e.g. Score-CAM's forwards); nothing was kept."""


class CaptureError(LensError):
    """A camera or video source failed to open or stopped delivering frames."""


class InvalidArgument(LensError, ValueError):
    """An argument the loaded model cannot take (a layer it lacks, a class out of range).

    ``argument`` is the parameter's name (``cam_layer``), so that the command line can name
    its option (``--cam-layer``) and a window its control.
    """

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(message)
        self.argument = argument


def one_line(error: BaseException) -> str:
    """The one line a user sees for ``error``, in the window, the CLI and exported results.

    Our own errors are written for the user and shown as they are. An ``OSError`` gives its
    reason ("No space left on device"), after the file it concerns when it names one.
    Anything else is unexpected: its type stays in front, so that a report can be traced.
    """
    if isinstance(error, LensError):
        text = str(error)
    elif isinstance(error, OSError) and error.strerror:
        text = f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    else:
        text = f"{type(error).__name__}: {str(error).strip() or 'no details'}"
    return " ".join(text.split()) or type(error).__name__
