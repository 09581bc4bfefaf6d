"""Video / camera mode: per-frame decisions smoothed into a stable face-unlock verdict.

The loop survives a flaky source: opening is retried, a run of failed or empty reads
ends the stream after ``max_failed_reads``, a frame whose processing raises is
counted and skipped, and Ctrl-C ends it cleanly with a summary.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable, Deque, Optional, Union

import cv2
import numpy as np

from .errors import FakeFaceError, OptionsError
from .faces import FaceResult
from .imageio import frame_to_rgb
from .native_stderr import native_stderr_filtered

NO_FACE = "no-face"
UNSURE = "unsure"


@dataclass
class FrameDecision:
    index: int
    label: str  # real | fake | no-face: any face judged fake makes the frame fake (frame_decision)
    fake_probability: Optional[float]  # the deciding face's: the highest of the frame's faces
    faces: list[FaceResult]


def frame_decision(index: int, faces: list[FaceResult], real_label: str = "real") -> FrameDecision:
    """One frame's label for a spoof check: every face found counts, and any face judged fake
    vetoes (a printed or on-screen face held beside a real one makes the frame fake, whichever
    face the detector is surer of).  The frame is real only when every face is; its p(fake)
    is the highest of its faces' (the face that decided).  No face: "no-face"."""
    if not faces:
        return FrameDecision(index, NO_FACE, None, faces)
    vetoes = [f for f in faces if f.label != real_label]
    decider = max(vetoes or faces, key=lambda f: f.fake_probability)
    return FrameDecision(index, decider.label, decider.fake_probability, faces)


class VerdictSmoother:
    """Majority vote over the last ``window`` frame decisions.

    A verdict needs at least ``min_share`` of the window; until then (or when votes
    are split) it is "unsure".  A face-unlock check should act only on "real".
    """

    def __init__(self, window: int = 15, min_share: float = 0.6):
        if window < 1:
            raise OptionsError(f"window must be at least 1 frame, not {window!r}")
        self.window = window
        self.min_share = min_share
        self._labels: Deque[str] = collections.deque(maxlen=window)

    def update(self, label: str) -> str:
        self._labels.append(label)
        return self.verdict

    @property
    def verdict(self) -> str:
        if not self._labels:
            return UNSURE
        label, count = collections.Counter(self._labels).most_common(1)[0]
        return label if count >= self.min_share * self.window else UNSURE


@dataclass
class WatchSummary:
    frames_read: int = 0
    frames_checked: int = 0
    frames_failed: int = 0  # frames whose processing raised and were skipped
    failed_reads: int = 0
    verdict: str = UNSURE
    fps: float = 0.0
    stop_reason: str = ""
    errors: list[str] = field(default_factory=list)


# What FFmpeg and OpenCV's video back-ends print straight to stderr about a file they cannot
# read; watch says it in its own one line instead.
CAPTURE_CHATTER = ("moov atom not found", "Invalid data found when processing input", "[mov,mp4",
                   "VIDEOIO(", "global cap", "CAP_IMAGES", "[ERROR:", "[WARN:")


def open_capture(source: Union[int, str]):
    with native_stderr_filtered(CAPTURE_CHATTER):
        return cv2.VideoCapture(source)


def missing_file(source: Union[int, str]) -> Optional[str]:
    """Why a file source cannot be opened at all, or None.  Retrying helps a camera that is
    still starting, never a file that is not there.  URLs (``rtsp://...``) and image-sequence
    patterns (``img_%04d.jpg``) are left to OpenCV."""
    if not isinstance(source, str) or "://" in source or "%" in source:
        return None
    path = Path(source)
    if not path.exists():
        return f"{source}: no such file"
    if path.is_dir():
        return f"{source}: is a directory, not a video"
    return None


def watch(
    source: Union[int, str],
    check: Callable[[np.ndarray], list[FaceResult]],
    real_label: str = "real",
    window: int = 15,
    max_frames: Optional[int] = None,
    max_open_retries: int = 3,
    max_failed_reads: int = 5,
    retry_delay: float = 0.5,
    on_frame: Optional[Callable[[FrameDecision, str, float], None]] = None,
    capture_factory: Callable = open_capture,
) -> WatchSummary:
    """Run ``check`` on each frame of ``source`` and smooth the result.

    ``source`` is a camera index or a video path; each frame is labelled by `frame_decision`
    (any face judged fake vetoes).  ``on_frame(decision, verdict, fps)``
    is called after every checked frame.  Returns when the stream ends, after too
    many failed reads, after ``max_frames``, or on Ctrl-C.
    """
    summary = WatchSummary()
    smoother = VerdictSmoother(window)
    cap = None
    for attempt in range(max_open_retries):
        cap = capture_factory(source)
        if cap is not None and cap.isOpened():
            break
        if cap is not None:
            cap.release()
        cap = None
        if attempt + 1 < max_open_retries:
            time.sleep(retry_delay)
    if cap is None:
        tries = "1 try" if max_open_retries == 1 else f"{max_open_retries} tries"
        summary.stop_reason = f"could not open video source {source!r} after {tries}"
        return summary

    is_file = isinstance(source, str)
    started = time.perf_counter()
    consecutive_failures = 0
    try:
        while max_frames is None or summary.frames_read < max_frames:
            ok, frame = cap.read()
            if not ok or frame is None or getattr(frame, "size", 0) == 0:
                summary.failed_reads += 1
                consecutive_failures += 1
                if is_file and not ok:
                    summary.stop_reason = "end of stream"
                    break
                if consecutive_failures >= max_failed_reads:
                    summary.stop_reason = f"source stopped delivering frames ({consecutive_failures} failed reads in a row)"
                    break
                time.sleep(retry_delay if not is_file else 0)
                continue
            consecutive_failures = 0
            summary.frames_read += 1
            try:
                faces = check(frame_to_rgb(frame))
            except (FakeFaceError, ValueError, cv2.error) as exc:
                summary.frames_failed += 1
                if len(summary.errors) < 20:
                    summary.errors.append(f"frame {summary.frames_read}: {exc}")
                continue
            summary.frames_checked += 1
            decision = frame_decision(summary.frames_read, faces, real_label)
            summary.verdict = smoother.update(decision.label)
            elapsed = time.perf_counter() - started
            summary.fps = summary.frames_checked / elapsed if elapsed > 0 else 0.0
            if on_frame is not None:
                on_frame(decision, summary.verdict, summary.fps)
        else:
            summary.stop_reason = f"reached --max-frames {max_frames}"
    except KeyboardInterrupt:
        summary.stop_reason = "interrupted"
    finally:
        cap.release()
    elapsed = time.perf_counter() - started
    summary.fps = summary.frames_checked / elapsed if elapsed > 0 else 0.0
    return summary
