"""The watch loop against flaky capture sources (a fake camera) and verdict smoothing."""

from __future__ import annotations

import numpy as np

from fakeface.edge.errors import ImageError
from fakeface.edge.faces import FaceResult
from fakeface.edge.stream import NO_FACE, UNSURE, VerdictSmoother, frame_decision, watch

FRAME = np.zeros((48, 64, 3), np.uint8)


class FakeCapture:
    """Plays a script of read results: a frame, None (empty read) or False (failed read)."""

    def __init__(self, script, opened=True):
        self.script = list(script)
        self.opened = opened
        self.released = False

    def isOpened(self):
        return self.opened

    def read(self):
        if not self.script:
            return False, None
        item = self.script.pop(0)
        if item is False:
            return False, None
        if item is None:
            return True, np.zeros((0, 0, 3), np.uint8)
        if isinstance(item, BaseException):
            raise item
        return True, item

    def release(self):
        self.released = True


def face(label, p):
    return FaceResult((1, 1, 10, 10), 0.99, [], p, label)


def test_smoother_needs_a_clear_majority():
    s = VerdictSmoother(window=4, min_share=0.75)
    assert s.verdict == UNSURE
    for label in ["real", "real", "fake"]:
        s.update(label)
    assert s.verdict == UNSURE  # 2 of 4 is not enough
    assert s.update("real") == "real"  # 3 of 4
    for _ in range(4):
        s.update(NO_FACE)
    assert s.verdict == NO_FACE


def test_stream_end_and_per_frame_failures_are_survived():
    frames = [FRAME] * 6
    calls = []

    def check(rgb):
        calls.append(rgb.shape)
        if len(calls) == 3:
            raise ImageError("decoder hiccup")
        return [face("real", 0.1)]

    cap = FakeCapture(frames)
    s = watch("clip.mp4", check, window=3, capture_factory=lambda src: cap, retry_delay=0)
    assert s.frames_read == 6 and s.frames_checked == 5 and s.frames_failed == 1
    assert s.verdict == "real" and s.stop_reason == "end of stream" and cap.released
    assert "decoder hiccup" in s.errors[0]


def test_camera_that_never_opens_gives_up_after_retries():
    tries = []

    def factory(src):
        tries.append(src)
        return FakeCapture([], opened=False)

    s = watch(0, lambda rgb: [], max_open_retries=3, capture_factory=factory, retry_delay=0)
    assert len(tries) == 3 and s.frames_read == 0 and "could not open" in s.stop_reason


def test_camera_that_stalls_is_retried_then_abandoned():
    cap = FakeCapture([FRAME, None, False, FRAME, None, None, None, None])
    s = watch(0, lambda rgb: [], max_failed_reads=3, capture_factory=lambda src: cap, retry_delay=0)
    assert s.frames_read == 2 and s.failed_reads == 5
    assert "3 failed reads in a row" in s.stop_reason and s.verdict == UNSURE


def test_ctrl_c_ends_cleanly():
    cap = FakeCapture([FRAME, FRAME, KeyboardInterrupt(), FRAME])
    s = watch(0, lambda rgb: [face("fake", 0.9)], window=2, capture_factory=lambda src: cap, retry_delay=0)
    assert s.stop_reason == "interrupted" and s.frames_checked == 2 and s.verdict == "fake" and cap.released


def test_max_frames_stops_the_loop():
    cap = FakeCapture([FRAME] * 10)
    seen = []
    s = watch(0, lambda rgb: [], max_frames=4, capture_factory=lambda src: cap,
              on_frame=lambda d, v, fps: seen.append((d.label, v)))
    assert s.frames_read == 4 and s.stop_reason.startswith("reached")
    assert seen[-1] == (NO_FACE, UNSURE)  # 4 of a 15-frame window is not yet a verdict


def scored(label, p, score):
    return FaceResult((1, 1, 10, 10), score, [], p, label)


def test_any_face_judged_fake_vetoes_the_frame():
    """A spoof check: a printed or on-screen face held beside a real one makes the frame fake,
    even where the detector is surer of the real face (listed first)."""
    frames = [
        [scored("real", 0.02, 0.999), scored("fake", 0.91, 0.90)],  # the real face is the surer
        [scored("real", 0.02, 0.999), scored("real", 0.40, 0.95)],
        [scored("fake", 0.70, 0.98), scored("fake", 0.95, 0.97), scored("real", 0.1, 0.99)],
        [],
    ]
    cap = FakeCapture([FRAME] * len(frames))
    seen = []
    watch(0, lambda rgb: frames[len(seen)], window=1, capture_factory=lambda src: cap,
          on_frame=lambda d, v, fps: seen.append(d))
    assert [(d.label, d.fake_probability) for d in seen] == [
        ("fake", 0.91), ("real", 0.40), ("fake", 0.95), (NO_FACE, None)]
    assert [len(d.faces) for d in seen] == [2, 2, 3, 0]


def test_the_real_label_comes_from_the_model():
    decision = frame_decision(1, [scored("genuine", 0.1, 0.99), scored("spoof", 0.8, 0.9)], real_label="genuine")
    assert decision.label == "spoof" and decision.fake_probability == 0.8


def test_default_smoothing_is_9_of_the_last_15_frames():
    s = VerdictSmoother()
    assert (s.window, s.min_share) == (15, 0.6)
    verdicts = [s.update("real") for _ in range(9)]
    assert verdicts == [UNSURE] * 8 + ["real"]  # 60 % of 15 frames: 9 of them
    for _ in range(6):
        s.update("fake")
    assert s.verdict == "real"  # 9 real, 6 fake
    assert s.update("fake") == UNSURE  # the oldest real leaves: 8 real, 7 fake
    for _ in range(2):
        s.update("fake")
    assert s.verdict == "fake"  # 6 real, 9 fake


def test_watch_smooths_over_15_frames_by_default():
    cap = FakeCapture([FRAME] * 12)
    verdicts = []
    s = watch(0, lambda rgb: [face("real", 0.1)], capture_factory=lambda src: cap,
              on_frame=lambda d, v, fps: verdicts.append(v))
    assert verdicts == [UNSURE] * 8 + ["real"] * 4 and s.verdict == "real"
