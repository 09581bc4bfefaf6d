"""Draw detections and verdicts onto a copy of an image."""

from __future__ import annotations

import os
from typing import Sequence

import cv2
import numpy as np

from .atomic import atomic_path
from .errors import ImageError
from .faces import FaceResult

# BGR colours: green for real, red for fake.
_COLOURS = {"real": (60, 180, 60), "fake": (40, 40, 220)}


def draw_results(image_rgb: np.ndarray, faces: Sequence[FaceResult]) -> np.ndarray:
    """Return a BGR copy of the image with each face's box, landmarks and label drawn."""
    canvas = cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)
    thick = max(1, round(max(canvas.shape[:2]) / 400))
    for f in faces:
        colour = _COLOURS.get(f.label, (200, 200, 200))
        x, y, w, h = (int(round(v)) for v in f.box)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thick)
        for lx, ly in f.landmarks:
            cv2.circle(canvas, (int(round(lx)), int(round(ly))), thick + 1, colour, -1)
        text = f"{f.label} {f.fake_probability:.2f}"
        scale = 0.4 * thick
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        ty = y - 4 if y - th - 6 > 0 else y + h + th + 4
        cv2.rectangle(canvas, (x, ty - th - 3), (x + tw + 4, ty + base - 1), colour, -1)
        cv2.putText(canvas, text, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return canvas


def write_annotated(path: str | os.PathLike, image_rgb: np.ndarray, faces: Sequence[FaceResult]) -> None:
    """Encode the annotated copy as JPEG and write it atomically."""
    ok, buf = cv2.imencode(".jpg", draw_results(image_rgb, faces), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ImageError(f"{path}: could not encode the annotated image")
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.tobytes())
