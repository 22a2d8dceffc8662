"""Frame sources: real generated videos end to end, and fake captures for every fault."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from support.processes import run_python
from support.video_utils import LEFT_RGB, RIGHT_RGB, band_colors, decode_index, make_test_video

from desktop_app.capture import (
    CameraInfo,
    Frame,
    FrameSource,
    list_cameras,
    open_camera,
    open_video,
    probe_camera,
)
from desktop_app.capture import cameras as cameras_module
from desktop_app.capture.cameras import quiet_opencv_logs

SIZE = (160, 120)
ReadResult = tuple[bool, np.ndarray | None]


def capture_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("FrameSource")]


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(capture_threads())
    yield
    # Threads stuck in a fake driver were unblocked (``unblock``); give them a moment to end.
    deadline = time.monotonic() + 2.0
    while set(capture_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(capture_threads()) - before == set()


@pytest.fixture()
def unblock() -> Iterator[threading.Event]:
    """Releases fake drivers stuck in open()/read(), at the latest when the test ends."""
    event = threading.Event()
    yield event
    event.set()


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def noise(i: int) -> np.ndarray:
    return np.random.default_rng(i).integers(0, 256, (48, 64, 3), dtype=np.uint8)


class FakeCapture:
    """A controllable stand-in for cv2.VideoCapture: ``read_fn(n)`` answers the n-th read."""

    def __init__(
        self,
        read_fn: Callable[[int], ReadResult] = lambda n: (True, noise(n)),
        *,
        opened: bool = True,
        fps: float = 0.0,
        read_delay: float = 0.002,
    ) -> None:
        self.read_fn = read_fn
        self.opened = opened
        self.fps = fps
        self.read_delay = read_delay
        self.reads = 0
        self.props: dict[int, float] = {}
        self.released = threading.Event()
        self.release_thread: str | None = None

    def isOpened(self) -> bool:
        return self.opened

    def read(self) -> ReadResult:
        time.sleep(self.read_delay)  # like a camera: don't let the capture loop spin
        n = self.reads
        self.reads += 1
        return self.read_fn(n)

    def set(self, prop_id: int, value: float) -> bool:
        self.props[prop_id] = value
        return True

    def get(self, prop_id: int) -> float:
        return self.fps if prop_id == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.release_thread = threading.current_thread().name
        self.released.set()


class Recorder:
    """Collects callbacks, as a consumer would."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.errors: list[str] = []
        self.error_at: float | None = None
        self.finished = threading.Event()

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def on_error(self, message: str) -> None:
        self.errors.append(message)
        self.error_at = time.monotonic()

    def on_finished(self) -> None:
        self.finished.set()


def fake_source(
    capture: FakeCapture, rec: Recorder, *, live: bool = True, **options: Any
) -> FrameSource:
    return FrameSource(
        lambda: capture,
        "Fake",
        live=live,
        on_frame=rec.on_frame,
        on_error=rec.on_error,
        on_finished=rec.on_finished,
        **options,
    )


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    return make_test_video(tmp_path / "clip.avi", 40, SIZE, fps=30)


# -- video files end to end ------------------------------------------------------------


def test_video_read_end_to_end(video: Path) -> None:
    rec = Recorder()
    source = open_video(
        video,
        realtime=False,
        on_frame=rec.on_frame,
        on_error=rec.on_error,
        on_finished=rec.on_finished,
    )
    assert source.state == "idle"
    source.start()
    assert rec.finished.wait(5)
    assert [decode_index(f.pixels) for f in rec.frames] == list(range(40))
    assert [f.index for f in rec.frames] == list(range(40))
    first = rec.frames[0]
    assert first.pixels.shape == (120, 160, 3) and first.pixels.dtype == np.uint8
    assert first.size == SIZE and first.source == "Video clip.avi"
    assert not first.pixels.flags.writeable
    left, right = band_colors(first.pixels)  # converted BGR → RGB once
    assert np.allclose(left, LEFT_RGB, atol=20) and np.allclose(right, RIGHT_RGB, atol=20)
    timestamps = [f.timestamp for f in rec.frames]
    assert timestamps == sorted(timestamps)
    assert source.state == "finished" and source.error is None and rec.errors == []
    assert source.latest() is rec.frames[-1]
    assert source.wait_for_frame(after_index=39, timeout=1) is None  # ended: no wait
    assert source.stop() is True
    assert source.state == "finished"
    assert capture_threads() == []


def test_realtime_video_is_paced_at_its_fps(tmp_path: Path) -> None:
    path = make_test_video(tmp_path / "paced.avi", 15, SIZE, fps=30)  # 0.5 s of video
    elapsed = {}
    for realtime in (True, False):
        rec = Recorder()
        source = open_video(path, realtime=realtime, on_finished=rec.on_finished)
        t0 = time.monotonic()
        source.start()
        assert rec.finished.wait(10)
        elapsed[realtime] = time.monotonic() - t0
        source.stop()
    # 14 intervals of 1/30 s: ~0.47 s. Loose bounds: shared CI machines stall.
    assert 0.35 < elapsed[True] < 3.0
    assert elapsed[False] < elapsed[True]


def test_slow_consumer_gets_newest_frame_never_a_backlog(tmp_path: Path) -> None:
    path = make_test_video(tmp_path / "fast.avi", 120, SIZE, fps=100)  # 1.2 s
    source = open_video(path, realtime=True).start()
    seen: list[tuple[int, int, float]] = []
    last = -1
    while (frame := source.wait_for_frame(last, timeout=5)) is not None:
        seen.append((frame.index, decode_index(frame.pixels), time.monotonic() - frame.timestamp))
        last = frame.index
        time.sleep(0.05)  # a slow model
    assert source.state == "finished"
    indices = [index for index, _, _ in seen]
    assert indices == sorted(set(indices))  # strictly increasing: nothing old comes back
    assert all(index == shown for index, shown, _ in seen)
    assert len(seen) < 60 and max(np.diff(indices)) > 1  # frames were skipped, not queued
    # Each frame handed over was the newest one, not one that waited in a queue.
    ages = sorted(age for _, _, age in seen)
    assert ages[len(ages) // 2] < 0.1


def test_loop_restarts_and_keeps_counting(tmp_path: Path) -> None:
    path = make_test_video(tmp_path / "short.avi", 10, SIZE)
    rec = Recorder()
    source = open_video(
        path, loop=True, realtime=False, on_frame=rec.on_frame, on_finished=rec.on_finished
    ).start()
    assert wait_until(lambda: len(rec.frames) >= 35)
    assert source.stop() is True
    assert [decode_index(f.pixels) for f in rec.frames[:35]] == [i % 10 for i in range(35)]
    assert [f.index for f in rec.frames] == list(range(len(rec.frames)))
    assert not rec.finished.is_set() and source.state == "stopped"


def test_mirror_can_be_switched_while_running(tmp_path: Path) -> None:
    path = make_test_video(tmp_path / "mirror.avi", 10, SIZE)
    rec = Recorder()
    source = open_video(path, loop=True, realtime=False, on_frame=rec.on_frame).start()
    assert wait_until(lambda: len(rec.frames) >= 5)
    source.mirror = True
    switched_at = source.latest().index  # type: ignore[union-attr]
    assert wait_until(lambda: len(rec.frames) >= switched_at + 10)
    source.stop()

    def is_mirrored(frame: Frame) -> bool:
        left, _ = band_colors(frame.pixels)
        return bool(left[2] > left[0])  # blue band on the left

    flags = [is_mirrored(f) for f in rec.frames]
    assert not any(flags[:5]) and all(flags[switched_at + 2 :])
    assert flags == sorted(flags)  # switched once, between two frames
    for frame in rec.frames[switched_at + 2 :]:
        assert decode_index(np.fliplr(frame.pixels)) == frame.index % 10


# -- opening ---------------------------------------------------------------------------


def run_until_failed(source: FrameSource, rec: Recorder, timeout: float = 5.0) -> None:
    source.start()
    assert wait_until(lambda: source.state == "failed", timeout)
    assert wait_until(lambda: not source.is_alive, timeout)
    assert len(rec.errors) == 1 and source.error == rec.errors[0]
    assert "\n" not in rec.errors[0]


def test_missing_camera_fails_with_a_clear_message() -> None:
    rec = Recorder()
    source = open_camera(99, on_error=rec.on_error)
    run_until_failed(source, rec)
    assert rec.errors == [
        "Camera 99 could not be opened (not connected, or in use by another program)"
    ]
    assert source.stop() is True and source.state == "failed"


def test_missing_and_undecodable_videos_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.avi"
    rec = Recorder()
    run_until_failed(open_video(missing, on_error=rec.on_error), rec)
    assert rec.errors == [f"Video file {missing} was not found"]

    text = tmp_path / "notes.avi"
    text.write_text("not a video")
    rec = Recorder()
    run_until_failed(open_video(text, on_error=rec.on_error), rec)
    assert rec.errors == [
        f"Video file {text} could not be opened (not a video format OpenCV can decode)"
    ]


def test_capture_that_does_not_open_is_released_on_its_thread() -> None:
    capture = FakeCapture(opened=False)
    rec = Recorder()
    run_until_failed(fake_source(capture, rec), rec)
    assert rec.errors == ["Fake could not be opened"]
    assert capture.release_thread == "FrameSource[Fake]"


def test_opener_raising_is_reported() -> None:
    def opener() -> FakeCapture:
        raise OSError("device busy")

    rec = Recorder()
    source = FrameSource(opener, "Fake", live=True, on_error=rec.on_error)
    run_until_failed(source, rec)
    assert rec.errors == ["Fake could not be opened: device busy"]


def test_open_that_hangs_times_out(unblock: threading.Event) -> None:
    capture = FakeCapture()

    def opener() -> FakeCapture:
        unblock.wait(10)
        return capture

    rec = Recorder()
    source = FrameSource(opener, "Fake", live=True, on_error=rec.on_error, open_timeout=0.3)
    run_start = time.monotonic()
    source.start()
    assert wait_until(lambda: rec.errors != [])
    assert rec.errors == ["Fake did not open within 0.3 s"]
    assert 0.25 < rec.error_at - run_start < 2.0  # type: ignore[operator]
    t0 = time.monotonic()
    assert source.stop(timeout=0.2) is False  # still inside the opener
    assert time.monotonic() - t0 < 0.5
    unblock.set()
    assert capture.released.wait(2)  # opened late, released at once, on the capture thread
    assert capture.release_thread == "FrameSource[Fake]"
    assert capture.reads == 0 and rec.errors == ["Fake did not open within 0.3 s"]


# -- faults while running --------------------------------------------------------------


def test_camera_that_stops_delivering_frames() -> None:
    capture = FakeCapture(lambda n: (True, noise(n)) if n < 3 else (False, None))
    rec = Recorder()
    source = fake_source(capture, rec, frame_timeout=0.2)
    run_until_failed(source, rec)
    assert rec.errors == ["Fake stopped delivering frames (unplugged?)"]
    assert len(rec.frames) == 3
    waited = rec.error_at - rec.frames[-1].timestamp  # type: ignore[operator]
    assert 0.2 <= waited < 2.0
    assert capture.release_thread == "FrameSource[Fake]"
    t0 = time.monotonic()
    assert source.stop() is True and time.monotonic() - t0 < 0.5


def test_camera_that_never_delivers_a_frame() -> None:
    rec = Recorder()
    source = fake_source(FakeCapture(lambda n: (False, None)), rec, open_timeout=0.3)
    run_until_failed(source, rec)
    assert rec.errors == ["Fake opened but sent no frames within 0.3 s"]


def test_frozen_camera_is_detected() -> None:
    still = noise(7)
    rec = Recorder()
    source = fake_source(FakeCapture(lambda n: (True, still)), rec, stale_timeout=0.3)
    run_until_failed(source, rec)
    assert rec.errors == ["Fake has sent the same image for 0.3 s; it seems frozen or unplugged"]
    assert len(rec.frames) > 1  # the repeats were shown until then
    assert rec.error_at - rec.frames[0].timestamp >= 0.3  # type: ignore[operator]


def test_uniform_frames_are_not_called_frozen() -> None:
    black = np.zeros((48, 64, 3), np.uint8)  # lens cap or privacy shutter
    rec = Recorder()
    source = fake_source(FakeCapture(lambda n: (True, black)), rec, stale_timeout=0.1)
    source.start()
    time.sleep(0.4)
    assert source.state == "running" and rec.errors == []
    assert source.stop() is True


def test_changing_frames_keep_running() -> None:
    rec = Recorder()
    source = fake_source(FakeCapture(), rec, stale_timeout=0.1, frame_timeout=0.1)
    source.start()
    time.sleep(0.4)
    assert source.state == "running" and rec.errors == [] and len(rec.frames) > 10
    assert source.stop() is True and source.state == "stopped"


def test_read_raising_is_reported_in_one_line() -> None:
    def read(n: int) -> ReadResult:
        if n < 2:
            return True, noise(n)
        cv2.cvtColor(np.empty((0, 0, 3), np.uint8), cv2.COLOR_BGR2RGB)  # a real cv2.error
        raise AssertionError("unreachable")

    capture = FakeCapture(read)
    rec = Recorder()
    run_until_failed(fake_source(capture, rec), rec)
    (message,) = rec.errors
    assert message.startswith("Fake failed while reading a frame: ")
    assert "OpenCV(" not in message and "cvtColor" in message
    assert len(rec.frames) == 2 and capture.release_thread == "FrameSource[Fake]"


def test_read_that_blocks_is_reported_and_stop_stays_prompt(unblock: threading.Event) -> None:

    def read(n: int) -> ReadResult:
        if n < 2:
            return True, noise(n)
        unblock.wait(10)  # a driver stuck after an unplug
        return False, None

    capture = FakeCapture(read)
    rec = Recorder()
    source = fake_source(capture, rec, frame_timeout=0.3)
    source.start()
    assert wait_until(lambda: rec.errors != [])
    assert rec.errors == ["Fake stopped delivering frames (unplugged?)"]
    assert source.state == "failed"
    t0 = time.monotonic()
    assert source.stop(timeout=0.2) is False  # the thread is still inside read()
    assert time.monotonic() - t0 < 0.5
    assert not capture.released.is_set()  # never released from under a blocked read
    unblock.set()
    assert capture.released.wait(2)
    assert capture.release_thread == "FrameSource[Fake]"
    assert wait_until(lambda: not source.is_alive)
    assert rec.errors == ["Fake stopped delivering frames (unplugged?)"]


def test_stop_during_a_blocked_read_is_prompt_and_silent(unblock: threading.Event) -> None:

    def read(n: int) -> ReadResult:
        if n < 1:
            return True, noise(n)
        unblock.wait(10)
        return True, noise(n)

    capture = FakeCapture(read)
    rec = Recorder()
    source = fake_source(capture, rec)
    source.start()
    assert source.wait_for_frame(timeout=5) is not None
    time.sleep(0.05)  # now inside the blocked read
    t0 = time.monotonic()
    assert source.stop(timeout=0.2) is False
    assert time.monotonic() - t0 < 0.5
    assert source.state == "stopped"
    assert source.wait_for_frame(after_index=0, timeout=5) is None  # stopped: returns at once
    unblock.set()
    assert capture.released.wait(2)
    assert wait_until(lambda: not source.is_alive)
    assert rec.errors == [] and len(rec.frames) == 1  # the late frame was dropped


@pytest.mark.parametrize(
    ("image", "shape"),
    [
        (np.full((48, 64), 90, np.uint8), (48, 64, 3)),
        (np.full((48, 64, 4), 90, np.uint8), (48, 64, 3)),
    ],
)
def test_gray_and_bgra_frames_become_rgb(image: np.ndarray, shape: tuple[int, ...]) -> None:
    rec = Recorder()
    with fake_source(FakeCapture(lambda n: (True, image)), rec) as source:
        frame = source.wait_for_frame(timeout=5)
    assert frame is not None and frame.pixels.shape == shape and rec.errors == []


def test_unsupported_frame_format_is_reported() -> None:
    depth = np.zeros((48, 64), np.float32)
    rec = Recorder()
    run_until_failed(fake_source(FakeCapture(lambda n: (True, depth)), rec), rec)
    assert rec.errors == ["Fake delivers frames in an unsupported format (float32, shape (48, 64))"]


def test_video_with_no_frames_fails() -> None:
    rec = Recorder()
    source = fake_source(FakeCapture(lambda n: (False, None)), rec, live=False)
    run_until_failed(source, rec)
    assert rec.errors == ["Fake contains no readable frames"]
    assert not rec.finished.is_set()


def test_video_that_cannot_rewind_fails() -> None:
    rec = Recorder()
    capture = FakeCapture(lambda n: (True, noise(n)) if n < 3 else (False, None))
    run_until_failed(fake_source(capture, rec, live=False, loop=True), rec)
    assert rec.errors == ["Fake could not be restarted from the beginning"]
    assert capture.props[cv2.CAP_PROP_POS_FRAMES] == 0


def test_realtime_uses_fallback_fps_when_the_file_has_none() -> None:
    rec = Recorder()
    capture = FakeCapture(lambda n: (True, noise(n)) if n < 6 else (False, None), fps=0.0)
    source = fake_source(capture, rec, live=False, realtime=True, fallback_fps=20)
    t0 = time.monotonic()
    source.start()
    assert rec.finished.wait(5)
    assert 0.2 < time.monotonic() - t0 < 3.0  # 5 intervals of 50 ms
    source.stop()


# -- lifecycle -------------------------------------------------------------------------


def test_start_twice_raises_and_stop_is_idempotent() -> None:
    rec = Recorder()
    source = fake_source(FakeCapture(), rec)
    source.start()
    with pytest.raises(RuntimeError, match="only be started once"):
        source.start()
    assert source.wait_for_frame(timeout=5) is not None
    assert source.state == "running"
    assert source.stop() is True and source.stop() is True
    assert source.state == "stopped" and rec.errors == []
    with pytest.raises(RuntimeError):
        source.start()


def test_stop_from_a_callback_does_not_deadlock() -> None:
    rec = Recorder()
    holder: list[FrameSource] = []

    def on_frame(frame: Frame) -> None:
        rec.on_frame(frame)
        holder[0].stop()

    source = FrameSource(lambda: FakeCapture(), "Fake", live=True, on_frame=on_frame)
    holder.append(source)
    source.start()
    assert wait_until(lambda: not source.is_alive)
    assert len(rec.frames) == 1 and source.state == "stopped"


def test_callback_exceptions_do_not_stop_capture() -> None:
    def on_frame(frame: Frame) -> None:
        raise ValueError("consumer bug")

    source = FrameSource(lambda: FakeCapture(), "Fake", live=True, on_frame=on_frame).start()
    assert source.wait_for_frame(after_index=4, timeout=5) is not None
    assert source.state == "running"
    source.stop()


def test_wait_for_frame_times_out_before_any_frame() -> None:
    source = FrameSource(lambda: FakeCapture(), "Fake", live=True)
    t0 = time.monotonic()
    assert source.wait_for_frame(timeout=0.05) is None  # not started
    assert time.monotonic() - t0 < 1.0
    source.stop()
    assert source.state == "stopped"


def test_frame_pixels_are_read_only_views() -> None:
    pixels = np.zeros((4, 6, 3), np.uint8)
    frame = Frame(pixels, 3, source="x")
    assert not frame.pixels.flags.writeable and pixels.flags.writeable
    assert frame.size == (6, 4) and frame.timestamp <= time.monotonic()
    with pytest.raises(ValueError, match="uint8 RGB"):
        Frame(np.zeros((4, 6), np.uint8), 0)


def test_interpreter_exit_with_capture_running_is_clean(tmp_path: Path) -> None:
    # Without the atexit stop, Python kills the capture thread inside OpenCV at exit and the
    # process aborts (exit code 134) instead of exiting normally.
    path = make_test_video(tmp_path / "exit.avi", 20, SIZE)
    script = textwrap.dedent(
        f"""
        import threading
        from desktop_app.capture import open_video
        running = open_video({str(path)!r}, loop=True, realtime=False).start()
        running.wait_for_frame(3, timeout=5)
        done = threading.Event()
        open_video({str(path)!r}, realtime=False, on_finished=done.set).start()
        done.wait(5)
        """
    )
    result = run_python(script, timeout=60)
    assert result.returncode == 0, result.stderr


# -- cameras ---------------------------------------------------------------------------


def test_open_camera_asks_for_a_one_frame_buffer_and_the_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    capture = FakeCapture()
    calls: list[tuple[int, int]] = []

    def fake_video_capture(index: int, backend: int) -> FakeCapture:
        calls.append((index, backend))
        return capture

    monkeypatch.setattr(cameras_module.cv2, "VideoCapture", fake_video_capture)
    with open_camera(2, 1280, 720, mirror=True) as source:
        frame = source.wait_for_frame(timeout=5)
    assert frame is not None and frame.source == "Camera 2"
    assert np.array_equal(frame.pixels, np.fliplr(noise(frame.index)[..., ::-1]))
    assert calls == [(2, cv2.CAP_ANY)]
    assert capture.props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert capture.props[cv2.CAP_PROP_FRAME_WIDTH] == 1280
    assert capture.props[cv2.CAP_PROP_FRAME_HEIGHT] == 720


def test_open_camera_ignores_properties_the_driver_rejects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Stubborn(FakeCapture):
        def set(self, prop_id: int, value: float) -> bool:
            if prop_id == cv2.CAP_PROP_BUFFERSIZE:
                raise cv2.error("unsupported")
            return False

    monkeypatch.setattr(cameras_module.cv2, "VideoCapture", lambda index, backend: Stubborn())
    with open_camera(0, 640, 480) as source:
        assert source.wait_for_frame(timeout=5) is not None
        assert source.state == "running"


def test_list_cameras_finds_none_here_quickly() -> None:
    t0 = time.monotonic()
    assert list_cameras() == []
    assert time.monotonic() - t0 < 2.0
    assert probe_camera(0) is None


def test_list_cameras_with_an_injected_prober() -> None:
    def probe(index: int) -> CameraInfo | None:
        if index == 1:
            raise RuntimeError("driver crashed")
        return CameraInfo(index, f"Cam {index}", 640, 480) if index in (0, 2, 4) else None

    assert [c.index for c in list_cameras(5, probe=probe)] == [0, 2, 4]
    assert list_cameras(0, probe=probe) == []


def test_list_cameras_is_bounded_by_a_timeout(unblock: threading.Event) -> None:

    def probe(index: int) -> CameraInfo | None:
        if index == 1:
            unblock.wait(10)  # a backend that takes forever to fail
        return CameraInfo(index, "Cam", 320, 240)

    t0 = time.monotonic()
    found = list_cameras(3, probe=probe, timeout=0.2)
    assert time.monotonic() - t0 < 1.0
    assert [c.index for c in found] == [0]
    unblock.set()


def test_quiet_opencv_logs_restores_the_level() -> None:
    before = cv2.utils.logging.getLogLevel()
    with quiet_opencv_logs():
        with quiet_opencv_logs():
            assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_ERROR
        assert cv2.utils.logging.getLogLevel() == cv2.utils.logging.LOG_LEVEL_ERROR
    assert cv2.utils.logging.getLogLevel() == before
