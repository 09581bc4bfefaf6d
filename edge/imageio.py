"""Turn a file (or a decoded frame) into an upright RGB uint8 image, or say clearly why not."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from . import HARD_MAX_PIXELS
from .errors import ImageError
from .image_header import read_header

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".jp2", ".avif"}
)
# Smaller than any real photo header plus data; anything shorter cannot be an image.
_MIN_BYTES = 8


def is_image_name(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    try:
        if p.is_dir():
            raise ImageError("is a directory, not an image", p)
        data = p.read_bytes()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("no such file", p) from None
    except PermissionError:
        raise ImageError("permission denied", p) from None
    except OSError as exc:  # symlink loops, I/O errors...
        raise ImageError(f"cannot read ({exc.strerror or exc})", p) from None
    return data


def decode_image(data: bytes, name: str | None = None, max_pixels: int | None = None) -> np.ndarray:
    """Decode encoded image bytes to an EXIF-upright RGB uint8 array.

    Grayscale, RGBA, 16-bit and CMYK inputs all come out as 8-bit RGB (OpenCV's
    IMREAD_COLOR does the conversion and applies the EXIF orientation).
    """
    max_pixels = min(max_pixels or HARD_MAX_PIXELS, HARD_MAX_PIXELS)
    if len(data) == 0:
        raise ImageError("empty file", name)
    if len(data) < _MIN_BYTES:
        raise ImageError(f"only {len(data)} bytes, not an image", name)
    header = read_header(data)
    if header is not None:
        # Refused from the header, before the decoder allocates: OpenCV's own cap holds only
        # when the environment set it before cv2 was first imported.
        if header.pixels > max_pixels:
            raise ImageError(f"{header.width}x{header.height} image exceeds the {max_pixels:,}-pixel limit", name)
        # libjpeg "repairs" a truncated JPEG by painting the missing rows grey, which would be
        # classified as if it were a photo; refuse it.  Data after the end-of-image marker (a
        # Motion Photo's video, a phone maker's trailer) is not truncation.
        if not header.complete:
            raise ImageError("truncated JPEG (no end-of-image marker)", name)
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    except cv2.error as exc:
        msg = " ".join(str(exc).split())
        if "exceeds" in msg or "limit" in msg.lower() or "size" in msg.lower():
            raise ImageError(f"image too large (over {max_pixels:,} pixels)", name) from None
        raise ImageError(f"corrupt or unsupported image ({msg[-120:]})", name) from None
    if bgr is None:
        raise ImageError("not a decodable image (corrupt, truncated, too large or unsupported format)", name)
    h, w = bgr.shape[:2]
    if h * w > max_pixels:
        raise ImageError(f"{w}x{h} image exceeds the {max_pixels:,}-pixel limit", name)
    # In place: a second full-size copy would double the peak for a large photo.
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read ``path`` as an upright RGB uint8 image; raise ImageError with a one-line reason."""
    return decode_image(read_bytes(path), str(path), max_pixels)


def frame_to_rgb(frame: np.ndarray) -> np.ndarray:
    """Convert a frame from cv2.VideoCapture (BGR, BGRA or gray) to RGB uint8."""
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0:
        raise ImageError("empty frame")
    if frame.dtype != np.uint8:
        if frame.dtype == np.uint16:
            frame = (frame >> 8).astype(np.uint8)
        else:
            raise ImageError(f"unsupported frame dtype {frame.dtype}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2RGB)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    raise ImageError(f"unsupported frame shape {frame.shape}")


def iter_image_paths(inputs, recursive: bool = True):
    """Yield (path, None) for every image in files/folders, or (path, reason) for bad inputs.

    Folders are walked in sorted order so results are reproducible; files given
    explicitly are yielded whatever their suffix (the decoder decides).
    """
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            walker = sorted(p.rglob("*")) if recursive else sorted(p.iterdir())
            found = False
            for child in walker:
                if child.is_file() and is_image_name(child):
                    found = True
                    yield child, None
            if not found:
                yield p, f"folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES)[:4])}...)"
        elif p.exists() or p.is_symlink():
            yield p, None
        else:
            yield p, "no such file or folder"
