"""The opened images: files, folders' contents, and dropped or pasted image data.

Decoding (for display and for thumbnails) happens in the background pool; results come
back as signals, and any that arrive after the user has moved on are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage, QPainter

from desktop_app.core.image_io import DecodedImage, decode_image
from desktop_app.ui.controllers.background import Background
from desktop_app.ui.qt_compat import emit
from desktop_app.ui.state.export import BatchEntry
from desktop_app.ui.widgets.filmstrip import THUMB_SIZE, Filmstrip
from desktop_app.ui.widgets.qt_image import qimage_to_rgb, rgb_to_qimage

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Entry:
    """One item of the filmstrip: a file, or image data that was dropped or pasted."""

    name: str
    path: Path | None = None
    data: bytes | QImage | None = None


@dataclass(frozen=True, eq=False)
class Still:
    """An image being looked at: a file, pasted data, or a frozen camera frame.

    ``decoded`` is the full-size picture, for the screen, overlays and exports; the model
    is handed ``model_source`` (the file, the encoded bytes or the pixels) and decodes it
    under the same policy as the command line and the API (``decode_for_model``), so a
    large JPEG gets the same numbers here as there."""

    decoded: DecodedImage
    qimage: QImage
    name: str
    model_source: Path | bytes | np.ndarray

    @property
    def pixels(self) -> np.ndarray:
        return self.decoded.array


def decode_entry(entry: Entry) -> Still:
    """Runs in the background pool."""
    source: Path | bytes | np.ndarray
    if isinstance(entry.data, QImage):
        decoded = decode_image(qimage_to_rgb(entry.data), name=entry.name)
        source = decoded.array
    elif entry.data is not None:
        decoded = decode_image(entry.data, name=entry.name)
        source = entry.data
    else:
        assert entry.path is not None
        decoded = decode_image(entry.path)  # messages and exports name the whole path
        source = entry.path
    return Still(decoded, rgb_to_qimage(decoded.array), entry.name, source)


def still_from_pixels(pixels: np.ndarray, name: str, title: str | None = None) -> Still:
    """``name`` names the image in predictions and exports; ``title`` (default: the name)
    heads the predictions."""
    return Still(decode_image(pixels, name=name), rgb_to_qimage(pixels), title or name, pixels)


def thumbnail(entry: Entry) -> QImage:
    """Runs in the background pool; a reduced JPEG decode keeps big folders quick. The
    picture is centred on a square, so that every name sits at the same height."""
    if isinstance(entry.data, QImage):
        small = entry.data.scaled(THUMB_SIZE, THUMB_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
    else:
        if entry.data is not None:
            decoded = decode_image(entry.data, min_side=THUMB_SIZE, name=entry.name)
        else:
            decoded = decode_image(entry.path, min_side=THUMB_SIZE)
        image = decoded.image.copy()
        image.thumbnail((THUMB_SIZE, THUMB_SIZE))
        small = rgb_to_qimage(np.asarray(image))
    square = QImage(THUMB_SIZE, THUMB_SIZE, QImage.Format.Format_ARGB32_Premultiplied)
    square.fill(Qt.GlobalColor.transparent)
    painter = QPainter(square)
    painter.drawImage((THUMB_SIZE - small.width()) // 2, (THUMB_SIZE - small.height()) // 2, small)
    painter.end()
    return square


class ImageList(QObject):
    still_ready = Signal(object)  # Still
    still_failed = Signal(int, str)  # row, message
    message = Signal(str, str)  # text, level
    entries_changed = Signal()

    def __init__(self, filmstrip: Filmstrip, background: Background,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._filmstrip = filmstrip
        self._background = background
        self._entries: list[Entry] = []
        self._row = -1
        self._generation = 0
        self._thumb_jobs: list[int] = []
        self._failed: set[int] = set()
        self._file_rows: list[int] = []  # the rows that hold files, in order

    @property
    def entries(self) -> list[Entry]:
        return list(self._entries)

    def paths(self) -> list[Path]:
        return [e.path for e in self._entries if e.path is not None]

    def show_result(self, position: int, entry: BatchEntry | None) -> None:
        """A folder run's result for the ``position``-th of ``paths()``: its top class in
        the tooltip, or its error marked as a broken file's (``None``: an earlier run into
        the same output folder did it)."""
        if not 0 <= position < len(self._file_rows):
            return
        row = self._file_rows[position]
        path = self._entries[row].path
        if entry is not None and entry.prediction is None:
            message = entry.error or "unreadable image"
            self._filmstrip.mark_failed(row, message)
            self._report(row, message)
            return
        if entry is None:
            self._filmstrip.set_tooltip(row, f"{path}\nalready done in the output folder")
            return
        assert entry.prediction is not None
        top = entry.prediction.topk[0]
        self._filmstrip.set_tooltip(row, f"{path}\n{top.label} {top.probability:.1%}")

    def set_entries(self, entries: list[Entry]) -> None:
        """Replace the list and show its first readable image."""
        for job in self._thumb_jobs:
            self._background.cancel(job)
        self._entries = list(entries)
        self._file_rows = [row for row, e in enumerate(self._entries) if e.path is not None]
        self._failed = set()
        self._thumb_jobs = []
        self._filmstrip.set_entries([], [])
        self._add(self._entries)
        self._show(0, skip_broken=True)

    def append(self, entries: list[Entry]) -> None:
        """Add to the list (e.g. a pasted image next to an opened folder) and show the first
        one added."""
        first = len(self._entries)
        self._entries.extend(entries)  # in place: pending thumbnails stay valid
        self._file_rows += [row for row, e in enumerate(entries, start=first)
                            if e.path is not None]
        if first == 1:
            self._thumb_jobs.append(self._background.run(
                thumbnail, self._entries[0], callback=self._thumbnail_done(0)))
        self._add(entries, first)
        self._show(first, skip_broken=False)

    def _add(self, entries: list[Entry], first: int = 0) -> None:
        self._filmstrip.add_entries(
            [e.name for e in entries],
            [str(e.path) if e.path is not None else e.name for e in entries])
        if len(self._entries) > 1:
            self._thumb_jobs += [
                self._background.run(thumbnail, entry, callback=self._thumbnail_done(row))
                for row, entry in enumerate(entries, start=first)
            ]
        emit(self.entries_changed)

    @Slot(int)
    def show(self, row: int) -> None:
        """Decode entry ``row`` in the background; ``still_ready`` follows."""
        self._show(row, skip_broken=False)

    def _show(self, row: int, *, skip_broken: bool) -> None:
        """``skip_broken``: the list was just opened, the user chose no file yet, so an
        unreadable one is passed over for the next (it is marked and reported all the
        same) rather than greeting the user with an empty view."""
        if not 0 <= row < len(self._entries):
            return
        self._row = row
        self._filmstrip.select_row(row)
        self._generation += 1
        generation = self._generation

        def done(still: Still | None, error: str | None) -> None:
            if generation != self._generation:
                return  # the user has moved on
            if still is not None:
                emit(self.still_ready, still)
                return
            message = error or "unreadable image"
            self._filmstrip.mark_failed(row, message)
            self._report(row, message)
            if skip_broken and row + 1 < len(self._entries):
                self._show(row + 1, skip_broken=True)
                return
            emit(self.still_failed, row, message)

        self._background.run(decode_entry, self._entries[row], callback=done)

    def step(self, delta: int) -> None:
        if self._entries:
            self.show(min(max(self._row + delta, 0), len(self._entries) - 1))

    def _thumbnail_done(self, row: int) -> Any:
        entries = self._entries

        def done(image: QImage | None, error: str | None) -> None:
            if entries is not self._entries:
                return  # another set of files was opened meanwhile
            if image is not None:
                self._filmstrip.set_thumbnail(row, image)
            elif error is not None:
                self._filmstrip.mark_failed(row, error)
                self._report(row, error)

        return done

    def _report(self, row: int, message: str) -> None:
        """One message per bad file, whether its thumbnail or its image found it first."""
        if row not in self._failed:
            self._failed.add(row)
            emit(self.message, message, "error")
