"""Frames from cameras and video files, read on a background thread (OpenCV; no torch, no Qt)."""

from desktop_app.capture.cameras import CameraInfo, list_cameras, open_camera, probe_camera
from desktop_app.capture.frame import Frame
from desktop_app.capture.frame_source import CaptureLike, FrameSource, SourceState
from desktop_app.capture.video import open_video

__all__ = [
    "CameraInfo",
    "CaptureLike",
    "Frame",
    "FrameSource",
    "SourceState",
    "list_cameras",
    "open_camera",
    "open_video",
    "probe_camera",
]
