"""What is on screen, without widgets: sources, which reply is current, the pinned class."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.core.results import ClassScore, Prediction
from desktop_app.ui.state.export import BatchEntry
from desktop_app.ui.state.screen import LiveFrame, Pin, ScreenState, Source


@dataclass(frozen=True)
class Picture:
    name: str
    pixels: np.ndarray


def _picture(name: str = "cat.jpg") -> Picture:
    return Picture(name, np.zeros((4, 6, 3), np.uint8))


def _prediction(*indices: int, model: str = "resnet18", maps: bool = True) -> Prediction:
    topk = tuple(ClassScore(f"class {i}", i, 1.0 / (r + 2), 0.0) for r, i in enumerate(indices))
    cams = {i: np.zeros((4, 6), np.float32) for i in indices} if maps else None
    return Prediction(topk, cams, {}, (6, 4), model, "cpu")  # type: ignore[arg-type]


def test_a_still_takes_only_the_reply_to_its_newest_request() -> None:
    state = ScreenState()
    assert state.source is Source.NONE and not state.wants_still_prediction
    state.show_still(_picture())
    assert state.source is Source.STILL and state.wants_still_prediction
    state.ask(7)
    state.ask(9)  # k changed: 7's reply is stale
    assert not state.is_current_still(7) and state.is_current_still(9)
    state.still_failed()
    assert state.source is Source.NONE and not state.is_current_still(9)


def test_the_map_follows_the_top_class_until_a_class_is_pinned() -> None:
    state = ScreenState()
    state.show_still(_picture())
    assert state.show_prediction(_prediction(3, 5, 8)) == 3 and state.has_map
    assert state.show_prediction(_prediction(5, 3, 8)) == 5  # the top class changed
    assert state.pin_class(8) and state.selected == 8
    assert state.pin == Pin(8, "class 8", "resnet18")
    assert state.show_prediction(_prediction(3, 8, 5)) == 8  # held while listed
    assert state.show_prediction(_prediction(3, 5, 1)) == 3  # not listed: the top class
    assert state.show_prediction(_prediction(1, 8)) == 8  # listed again: the pin holds
    assert state.follow_top() and state.selected == 1 and state.pin is None


def test_a_pin_is_released_by_another_model_and_by_a_second_click() -> None:
    state = ScreenState()
    state.show_still(_picture())
    state.show_prediction(_prediction(3, 5))
    assert state.reclick(3)  # a click on the unpinned top class pins it
    assert state.pin_shown == (3, "class 3")
    assert state.reclick(3) and state.pin is None  # the same row again releases it
    state.pin_class(5)
    assert state.show_prediction(_prediction(3, 5, model="resnet50")) == 3
    assert state.pin is None  # class 5 of another model is another class


def test_no_prediction_means_nothing_to_pin_or_save() -> None:
    state = ScreenState()
    assert not state.pin_class(1) and not state.follow_top() and not state.reclick(1)
    assert not state.has_map and state.shown_pixels() is None
    state.show_still(_picture())
    state.show_prediction(_prediction(2, maps=False))
    assert state.selected == 2 and not state.has_map
    assert state.title == "cat.jpg"


def test_live_frames_freeze_into_a_still_and_resume() -> None:
    state = ScreenState()
    state.start_live(session=11, name="clip.avi")
    assert state.live and state.title == "clip.avi" and not state.wants_still_prediction
    assert state.take_frame(0) and state.take_frame(2)
    assert not state.take_frame(2) and not state.take_frame(1)  # each frame once, in order
    assert state.is_current_live(11) and not state.is_current_live(10)
    pixels = np.ones((4, 6, 3), np.uint8)
    state.live_shown(LiveFrame(pixels, "clip.avi#frame-2", 40))
    state.show_prediction(_prediction(1))
    assert state.shown_pixels() is pixels

    frozen = _picture("clip.avi#frame-2 (frozen)")
    state.freeze(frozen)
    assert state.source is Source.FROZEN and state.still is frozen
    assert not state.take_frame(3) and not state.is_current_live(11)
    assert state.is_current_still(40) and state.wants_still_prediction  # k works on it
    state.resume()
    assert state.source is Source.LIVE and state.still is None and state.take_frame(3)


def test_stopping_a_frozen_source_keeps_its_frame_as_the_still() -> None:
    state = ScreenState()
    state.start_live(session=3, name="camera 0")
    state.live_shown(LiveFrame(np.zeros((2, 2, 3), np.uint8), "camera 0#frame-1", 5))
    state.freeze(_picture("frame"))
    assert state.stop_live() and state.source is Source.STILL
    assert not state.stop_live()  # nothing live any more
    state.start_live(session=4, name="camera 0")
    state.freeze(None)  # nothing classified yet: frozen, with no still
    assert state.stop_live() and state.source is Source.NONE and state.still is None


def test_a_new_list_of_images_forgets_the_folder_results() -> None:
    state = ScreenState()
    state.folder_started()
    assert state.folder_running and state.folder_results == []
    first, second = BatchEntry("a.png", error="a.png: broken"), BatchEntry("b.png")
    state.folder_result(first)
    state.folder_result(second)
    assert state.folder_results == [first, second]  # as they arrive, during the run
    state.folder_finished()
    assert not state.folder_running and state.folder_results == [first, second]
    state.folder_started()  # a new run starts from nothing
    assert state.folder_results == []
    state.folder_result(first)
    state.images_changed()
    assert not state.folder_running and state.folder_results == []

