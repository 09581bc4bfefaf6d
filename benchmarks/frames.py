"""Benchmark frames: real photos letterboxed into the standard camera sizes.

Timing a detector on random noise measures nothing useful (no candidate survives
P-Net), so every frame is a real photo: the shipped sample and/or the user's images,
scaled to fit the frame with its aspect ratio kept and the rest padded grey.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from fakeface.edge.imageio import load_image

SAMPLE_PHOTO = Path(__file__).resolve().parents[1] / "edge" / "assets" / "astronaut.jpg"
# QVGA, VGA and 720p: a low-power camera, a typical webcam, a phone preview.
DEFAULT_SIZES = ((320, 240), (640, 480), (1280, 720))
PAD_VALUE = 114  # mid-grey, like YOLO-style letterboxing: no false edges for the detector


def parse_size(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"frame size {text!r} is not WIDTHxHEIGHT (e.g. 640x480)")
    w, h = int(m.group(1)), int(m.group(2))
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise ValueError(f"frame size {text!r} is out of range (16..8192 per side)")
    return w, h


def size_label(size: Sequence[int]) -> str:
    return f"{size[0]}x{size[1]}"


def letterbox(image_rgb: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Scale ``image_rgb`` to fit (width, height) without distortion, centred, grey padding."""
    w, h = int(size[0]), int(size[1])
    ih, iw = image_rgb.shape[:2]
    scale = min(w / iw, h / ih)
    nw, nh = max(1, round(iw * scale)), max(1, round(ih * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=interp)
    frame = np.full((h, w, 3), PAD_VALUE, np.uint8)
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    frame[y0:y0 + nh, x0:x0 + nw] = resized
    return frame


@dataclass
class FrameSet:
    """The frames of one size, plus the same frames JPEG-encoded (for the decode stage)."""

    size: tuple[int, int]
    frames: list[np.ndarray]
    jpegs: list[bytes]
    sources: list[str]

    @property
    def label(self) -> str:
        return size_label(self.size)


def encode_jpeg(frame_rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 frame
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def load_photos(paths: Sequence[str | os.PathLike] = ()) -> tuple[list[np.ndarray], list[str]]:
    """Decode the user's photos (or the shipped sample); unreadable files raise ImageError."""
    paths = [Path(p) for p in paths] or [SAMPLE_PHOTO]
    return [load_image(p) for p in paths], [str(p) for p in paths]


def build_frame_sets(photos: Sequence[np.ndarray], sources: Sequence[str],
                     sizes: Sequence[Sequence[int]] = DEFAULT_SIZES) -> list[FrameSet]:
    sets = []
    for size in sizes:
        frames = [letterbox(p, size) for p in photos]
        sets.append(FrameSet(tuple(int(v) for v in size), frames, [encode_jpeg(f) for f in frames], list(sources)))
    return sets
