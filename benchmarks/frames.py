"""Benchmark frames: real photos letterboxed into the standard camera sizes.

Timing a detector on random noise measures nothing useful (no candidate survives
P-Net), so every frame is a real photo: the shipped sample and/or the user's images,
scaled to fit the frame with its aspect ratio kept and the rest padded grey.

The project's own target run uses a frame set (``fakeface bench frames FACES_DIR OUT``):
10 real 640x480 desk-webcam frames of 10 different people and 10 other real photos with
one to three faces on busy backgrounds, letterboxed to 640x480.  It is built from the
face data into a folder, never shipped; ``--frames OUT`` then times every frame.
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


# The frame set of the project's target run (issue 30): the first frame (by file name) of
# each of the first WEBCAM_PEOPLE people of the webcam source (the person is the 4 digits
# after "nuaa_"), then these photos (1-3 faces each, none of them in the parity tests' set).
WEBCAM_SOURCE = "real/nuaa-webcam"
WEBCAM_PEOPLE = 10
OTHER_PHOTOS = (
    "real/lfw-scenes/real_1000.jpg", "real/lfw-scenes/real_1001.jpg", "real/lfw-scenes/real_1006.jpg",
    "real/lfw-scenes/real_1007.jpg", "real/lfw-scenes/real_1016.jpg", "real/lfw-scenes/real_103.jpg",
    "real/unsplash-men/unsplash_man_unsplash_00000.jpg", "real/unsplash-men/unsplash_man_unsplash_00001.jpg",
    "real/unsplash-men/unsplash_man_unsplash_00024.jpg", "real/unsplash-men/unsplash_man_unsplash_00028.jpg",
)
FRAME_SET_SIZE = (640, 480)


def frame_set_sources(faces_dir: str | os.PathLike) -> list[Path]:
    """The photos the frame set is made from (webcam frames first), all of them present."""
    root = Path(faces_dir)
    webcam = root / WEBCAM_SOURCE
    first: dict[str, Path] = {}
    for path in sorted(webcam.glob("nuaa_*.jpg")) if webcam.is_dir() else []:
        first.setdefault(path.name[5:9], path)
    people = [first[p] for p in sorted(first)][:WEBCAM_PEOPLE]
    if len(people) < WEBCAM_PEOPLE:
        raise FileNotFoundError(f"{webcam}: frames of {len(people)} people, the frame set needs {WEBCAM_PEOPLE}")
    missing = [p for p in OTHER_PHOTOS if not (root / p).is_file()]
    if missing:
        raise FileNotFoundError(f"{root}: missing {', '.join(missing)}")
    return people + [root / p for p in OTHER_PHOTOS]


def write_frame_set(faces_dir: str | os.PathLike, out: str | os.PathLike,
                    size: Sequence[int] = FRAME_SET_SIZE) -> list[Path]:
    """Letterbox the frame set's photos to ``size`` and save them as PNG (lossless) in ``out``.

    Names keep the order and say where each came from (``01_nuaa-webcam_nuaa_0001_....png``).
    Frame files already in ``out`` from an earlier run are replaced; nothing else is touched.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, src in enumerate(frame_set_sources(faces_dir), 1):
        frame = letterbox(load_image(src), size)
        path = out / f"{i:02d}_{src.parent.name}_{src.stem}.png"
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


def frame_paths(folder: str | os.PathLike) -> list[Path]:
    """The image files of a frame folder, by name; a folder without one is an error."""
    from fakeface.edge.imageio import is_image_name

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder of frames")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and is_image_name(p))
    if not paths:
        raise FileNotFoundError(f"{folder}: holds no image files")
    return paths


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
