"""Opening things: files, folders and videos from dialogs, a paste or a drop. Each thing
that cannot be opened gets its own message, and the rest still opens."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QWidget

from desktop_app.core.image_io import IMAGE_EXTENSIONS, iter_image_files
from desktop_app.ui.controllers.image_list import Entry, ImageList
from desktop_app.ui.controllers.live_controller import LiveController
from desktop_app.ui.controllers.live_source import VIDEO_EXTENSIONS, is_video_file
from desktop_app.ui.controllers.mime_sources import MimeContent, can_accept, read_mime
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.settings import Settings


class OpenController(QObject):
    message = Signal(str, str)  # text, level
    changed = Signal()  # the opened images changed

    def __init__(self, window: QWidget, settings: Settings, images: ImageList,
                 live: LiveController) -> None:
        super().__init__(window)
        self._window = window
        self._settings = settings
        self._images = images
        self._live = live

    @Slot()
    def ask_files(self) -> None:
        suffixes = " ".join(f"*{s}" for s in sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
        paths, _ = QFileDialog.getOpenFileNames(
            self._window, "Open images", self._settings.last_dir,
            f"Images and videos ({suffixes});;All files (*)")
        if paths:
            self._settings.last_dir = str(Path(paths[0]).parent)
            self.open_paths(paths)

    @Slot()
    def ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._window, "Open a folder",
                                                  self._settings.last_dir)
        if folder:
            self._settings.last_dir = folder
            self.open_paths([folder])

    @Slot()
    def ask_video(self) -> None:
        suffixes = " ".join(f"*{s}" for s in sorted(VIDEO_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(self._window, "Open a video",
                                              self._settings.last_dir,
                                              f"Videos ({suffixes});;All files (*)")
        if path:
            self._settings.last_dir = str(Path(path).parent)
            self._live.start_video(path)

    @Slot()
    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not can_accept(mime):
            self._error("The clipboard holds no image, file or folder")
            return
        self.open_content(read_mime(mime, "pasted"))

    def open_paths(self, paths: Sequence[str | os.PathLike[str]]) -> None:
        self.open_content(MimeContent(paths=[Path(p) for p in paths]))

    def open_content(self, content: MimeContent) -> None:
        """Files, folders, videos and image data, as from a drop or a paste."""
        opened = next((p for p in content.paths if p.exists()), None)
        if opened is not None:  # the next file dialog starts there, as after File > Open
            self._settings.last_dir = str(opened if opened.is_dir() else opened.parent)
        for message in content.messages:
            self._error(message)
        videos = [p for p in content.paths if is_video_file(p) and p.is_file()]
        others = [p for p in content.paths if p not in videos]
        entries = [Entry(p.name, path=p) for p in iter_image_files(others)]
        for folder in (p for p in others if p.is_dir()):
            if not any(e.path is not None and folder in e.path.parents for e in entries):
                self._error(f"{folder}: no images found in this folder")
        pasted = [Entry(name, data=data) for name, data in content.images]
        if entries or pasted:
            self._live.stop()
            if not entries and self._images.entries:
                # Image data alone (a paste, an image dragged from a browser) joins the
                # opened files instead of closing a whole folder.
                self._images.append(pasted)
                emit(self.message, f"Added the {pasted[0].name} to the opened images", "info")
            else:
                self._images.set_entries(entries + pasted)
            emit(self.changed)
        if videos and (entries or pasted):
            # A video plays in place of the images: both cannot be shown at once.
            names = ", ".join(v.name for v in videos)
            self._error(f"{names} not opened: a video plays on its own, without images "
                        "(File > Open video…)")
        elif videos:
            if len(videos) > 1:
                emit(self.message, f"Only one video plays at a time: opening {videos[0].name}",
                     "info")
            self._live.start_video(videos[0])

    def _error(self, text: str) -> None:
        emit(self.message, text, "error")
