"""Draw detections and verdicts onto a copy of an image, and file the copies."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

from .atomic import write_bytes_atomic
from .errors import ImageError
from .faces import FaceResult

# BGR colours: green for real, red for fake.
_COLOURS = {"real": (60, 180, 60), "fake": (40, 40, 220)}


def face_tag(face: FaceResult) -> str:
    """The text beside a box: names the number, so "real 0.00" is not read as "0 % real"."""
    return f"{face.label} p(fake)={face.fake_probability:.2f}"


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
        _draw_tag(canvas, face_tag(f), x, y, h, colour, thick)
    if not faces:
        _draw_tag(canvas, "no face found", 0, 0, 0, (200, 200, 200), thick, text_colour=(0, 0, 0))
    return canvas


def _draw_tag(canvas, text: str, x: int, y: int, h: int, colour, thick: int, text_colour=(255, 255, 255)) -> None:
    """A filled label above the box (below it when there is no room), shrunk until it fits
    the image's width and moved left so that it never runs past the right edge."""
    height, width = canvas.shape[:2]
    scale = 0.4 * thick
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    while tw + 4 > width and scale > 0.2:
        scale *= 0.8
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x = max(0, min(x, width - tw - 4))
    ty = y - 4 if y - th - 6 > 0 else min(y + h + th + 4, height - base - 1)
    ty = max(ty, th + 3)
    cv2.rectangle(canvas, (x, ty - th - 3), (x + tw + 4, ty + base - 1), colour, -1)
    cv2.putText(canvas, text, (x + 2, ty - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, text_colour, thick, cv2.LINE_AA)


def write_annotated(path: str | os.PathLike, image_rgb: np.ndarray, faces: Sequence[FaceResult]) -> None:
    """Encode the annotated copy as JPEG and write it atomically (creating its folder)."""
    ok, buf = cv2.imencode(".jpg", draw_results(image_rgb, faces), [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise ImageError("could not encode the annotated image", path)
    try:
        write_bytes_atomic(path, buf.tobytes())
    except OSError as exc:
        raise ImageError(f"cannot write ({exc.strerror or exc})", path) from None


def out_dir_problem(out_dir: Path) -> Optional[str]:
    """Why no copy could be written under ``out_dir`` (a file is in the way, or the nearest
    existing folder is read-only), found before any image is checked; None when copies can go there."""
    for path in (out_dir, *out_dir.parents):
        if not path.exists():
            continue
        if not path.is_dir():
            return f"--annotate {out_dir}: {path} is a file, not a folder"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"--annotate {out_dir}: cannot write into {path}"
        return None
    return None


class AnnotatedCopies:
    """Files annotated copies under ``out_dir`` in the layout of the inputs.

    An image found in a folder argument keeps its path relative to that folder; an image
    named on its own goes to the top.  Copies are JPEGs: ``x.jpg`` stays ``x.jpg``, any
    other suffix is kept and ``.jpg`` appended (``x.png.jpg``), so ``x.png`` and ``x.jpg``
    side by side do not collide.  Only two folder arguments holding the same relative
    path still would; the later copy then gets ``-2`` before its suffix.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.count = 0
        self._used: set[Path] = set()

    def path_for(self, image_path: Path, root: Path) -> Path:
        rel = image_path.relative_to(root) if root.is_dir() else Path(image_path.name)
        if rel.suffix.lower() not in (".jpg", ".jpeg"):
            rel = rel.with_name(rel.name + ".jpg")
        out, n = self.out_dir / rel, 1
        while out in self._used:
            n += 1
            out = self.out_dir / rel.with_name(f"{rel.stem}-{n}{rel.suffix}")
        self._used.add(out)
        return out

    def write(self, image_path: Path, root: Path, image_rgb: np.ndarray, faces: Sequence[FaceResult]) -> Path:
        out = self.path_for(image_path, root)
        write_annotated(out, image_rgb, faces)
        self.count += 1
        return out
