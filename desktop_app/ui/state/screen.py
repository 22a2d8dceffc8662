"""What the window shows, as plain data with its transitions: no Qt, no torch.

The window and its controllers change the screen only through these methods and draw what
the state says, so the rules (which reply is current, which class the map shows, whether
a pin still holds) live in one place and are tested without widgets (napari keeps such
state in Qt-free models that its views subscribe to).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from desktop_app.core.results import Prediction
from desktop_app.ui.state.export import BatchEntry


class Source(Enum):
    NONE = "none"
    STILL = "still"  # a file, pasted or dropped image data
    LIVE = "live"  # a camera or video, frames arriving
    FROZEN = "frozen"  # a live source paused on its last classified frame


class LiveKind(Enum):
    CAMERA = "camera"  # mirrored if the user wants, never ends
    VIDEO = "video"  # plays as recorded, loops


class Picture(Protocol):
    """A still as the window holds it (with a QImage for the screen): its name heads the
    predictions, its full-size pixels go into exports."""

    @property
    def name(self) -> str: ...

    @property
    def pixels(self) -> np.ndarray: ...


@dataclass(frozen=True)
class Pin:
    """The class the user clicked. It holds from image to image and frame to frame while
    the same model lists it; unpinned, the map follows the top class."""

    index: int
    label: str
    model: str


@dataclass(frozen=True, eq=False)
class LiveFrame:
    """The newest live frame whose prediction is on screen: what a freeze keeps."""

    pixels: np.ndarray
    name: str  # "clip.avi#frame-123"
    request_id: int


class ScreenState:
    def __init__(self) -> None:
        self.source = Source.NONE
        self.still: Picture | None = None
        # The request whose reply is the one to show; older replies are stale.
        self.current_request = 0
        self.live_session = 0
        self.live_name = ""
        self._frame_index = -1
        self.live_last: LiveFrame | None = None
        self.prediction: Prediction | None = None
        self.selected: int | None = None
        self.pin: Pin | None = None
        self.folder_running = False
        # Appended to as a run's files finish (a list: a folder may hold 100,000).
        self.folder_results: list[BatchEntry] = []

    # -- sources ---------------------------------------------------------------------------
    @property
    def live(self) -> bool:
        """A live source is open, running or frozen."""
        return self.source in (Source.LIVE, Source.FROZEN)

    @property
    def frozen(self) -> bool:
        return self.source is Source.FROZEN

    def show_still(self, still: Picture) -> None:
        """A still replaces whatever was shown; its prediction is yet to come."""
        self.source, self.still = Source.STILL, still
        self.clear_prediction()

    def still_failed(self) -> None:
        self.source, self.still = Source.NONE, None
        self.clear_prediction()

    def start_live(self, session: int, name: str) -> None:
        self.source, self.still = Source.LIVE, None
        self.live_session, self.live_name = session, name
        self._frame_index = -1
        self.live_last = None
        self.clear_prediction()

    def stop_live(self) -> bool:
        """True when a live source was open. What it showed stays on screen: a frozen
        frame as a still, a running one as it was."""
        if not self.live:
            return False
        self.source = Source.STILL if self.still is not None else Source.NONE
        return True

    def take_frame(self, index: int) -> bool:
        """Whether frame ``index`` should be classified: each frame once, none while frozen."""
        if self.source is not Source.LIVE or index <= self._frame_index:
            return False
        self._frame_index = index
        return True

    def freeze(self, still: Picture | None) -> None:
        """Pause on the last classified frame, which becomes ``still`` (None: no frame was
        classified yet) so that k, layer and exports work on it."""
        if self.source is not Source.LIVE:
            return
        self.source = Source.FROZEN
        if still is not None and self.live_last is not None:
            self.still = still
            self.current_request = self.live_last.request_id

    def resume(self) -> None:
        if self.source is Source.FROZEN:
            self.source, self.still = Source.LIVE, None

    # -- requests and replies --------------------------------------------------------------
    @property
    def wants_still_prediction(self) -> bool:
        """A still is shown and no live source will replace its prediction."""
        return self.still is not None and self.source is not Source.LIVE

    def ask(self, request_id: int) -> None:
        """``request_id`` asks for the still's prediction: older replies are stale."""
        self.current_request = request_id

    def is_current_still(self, request_id: int) -> bool:
        return self.still is not None and request_id == self.current_request

    def is_current_live(self, session: int) -> bool:
        """A frame of the running source (not one stopped, nor frozen meanwhile)."""
        return self.source is Source.LIVE and session == self.live_session

    def live_shown(self, frame: LiveFrame) -> None:
        self.live_last = frame

    # -- prediction and the class the map shows -------------------------------------------
    def show_prediction(self, prediction: Prediction) -> int | None:
        """Show ``prediction``; returns the class whose map to show: the pinned one while
        listed, else the top class."""
        self.prediction = prediction
        if self.pin is not None and self.pin.model != prediction.model:
            self.pin = None  # a class index of another model names another class
        listed = [s.index for s in prediction.topk]
        pinned = self.pin.index if self.pin is not None else None
        self.selected = pinned if pinned in listed else (listed[0] if listed else None)
        return self.selected

    def clear_prediction(self) -> None:
        self.prediction = None
        self.selected = None

    def pin_class(self, index: int) -> bool:
        """Pin a listed class; False when there is no prediction to pin from."""
        prediction = self.prediction
        if prediction is None:
            return False
        label = next((s.label for s in prediction.topk if s.index == index), str(index))
        self.pin = Pin(index, label, prediction.model)
        self.selected = index
        return True

    def follow_top(self) -> bool:
        """Release the pin; True when the map changes to the top class."""
        self.pin = None
        if self.prediction is None or not self.prediction.topk:
            return False
        self.selected = self.prediction.topk[0].index
        return True

    def reclick(self, index: int) -> bool:
        """A click on the selected row: it releases its own pin, or pins an unpinned top
        class. Returns whether the selection changed (always, except without a
        prediction)."""
        if self.pin is not None and self.pin.index == index:
            return self.follow_top()
        return self.pin_class(index)

    @property
    def pin_shown(self) -> tuple[int, str] | None:
        """(index, label) of the pin, as the predictions panel marks it."""
        return (self.pin.index, self.pin.label) if self.pin is not None else None

    @property
    def has_map(self) -> bool:
        p, index = self.prediction, self.selected
        return p is not None and p.cams is not None and index is not None and index in p.cams

    @property
    def title(self) -> str:
        """What the predictions are headed with."""
        if self.still is not None:
            return self.still.name
        if self.live:
            return self.live_name
        return (self.prediction.source if self.prediction is not None else None) or "image"

    def shown_pixels(self) -> np.ndarray | None:
        """The pixels the shown prediction was made from (for exports), if any."""
        if self.still is not None:
            return self.still.pixels
        return self.live_last.pixels if self.live_last is not None else None

    # -- the folder run --------------------------------------------------------------------
    def folder_started(self) -> None:
        """A run starts: the last run's results are not those of this one."""
        self.folder_running = True
        self.folder_results = []

    def folder_result(self, entry: BatchEntry) -> None:
        """One more file of the run, in the order of the list."""
        self.folder_results.append(entry)

    def folder_finished(self) -> None:
        self.folder_running = False

    def images_changed(self) -> None:
        """Other images were opened: results of the old list are no longer what is shown."""
        self.folder_running = False
        self.folder_results = []
