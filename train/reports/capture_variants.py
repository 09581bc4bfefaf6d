"""The photo variants of ``fakeface generalise capture``: one real photo as other cameras,
studios and apps would hand it over.

Each variant changes one thing about the photo (the face's size in pixels, JPEG quality,
exposure, a 640x480 camera frame, the background) and says where the original face box lands in
the new pixels (:class:`Placement`), so the face can be found again after the change.
Numpy and OpenCV only: the report runs on the edge install, without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from fakeface.edge.imageio import decode_image

FACE_SIDES = (64, 96, 128, 192, 256)  # the face box's shorter side after rescaling, px
JPEG_QUALITIES = (90, 70, 50)
# Exposure gains: an under-exposed camera (dim, flat light) and an over-exposed one (highlights
# clipping).  The leave-one-studio-out folds turned away dim, flat-lit studio faces that a 1.2x
# gain alone turned real, so a model may read exposure as a sign of "fake".
EXPOSURE_GAINS = (0.8, 1.25)
FRAME_SIZE = (640, 480)  # width, height of the camera frame
GREY = 128  # the flat backdrop of the plain-background variant
# The ellipse kept around the face box: semi-axes as shares of the box's width and height
# (a little wider than the box, and reaching over the forehead and chin).
ELLIPSE_AXES = (0.6, 0.75)
ELLIPSE_FEATHER = 0.08  # soft edge, as a share of the ellipse's radius; beyond it the change is complete
BLUR_SIGMA = 0.25  # background blur, sigma as a share of the face box's shorter side
MIN_BLUR_SIGMA = 4.0
# An enlarged photo beyond this is first cut to a window around the face (a 256-px face in
# a photo whose face was 30 px would otherwise be a 20-MP image).
MAX_VARIANT_PIXELS = 12_000_000

Box = tuple  # (x, y, w, h) in pixels


@dataclass(frozen=True)
class Placement:
    """Where a point of the original photo lands in the variant: ``x * sx + dx``."""

    sx: float = 1.0
    sy: float = 1.0
    dx: float = 0.0
    dy: float = 0.0

    def box(self, box: Box) -> Box:
        x, y, w, h = box
        return (x * self.sx + self.dx, y * self.sy + self.dy, w * self.sx, h * self.sy)


IDENTITY = Placement()


@dataclass(frozen=True)
class Variant:
    name: str  # the JSON key and table label
    axis: str  # what is varied: "as-is", "face size", "JPEG", "exposure", "camera frame", "background"
    description: str
    make: Callable[[np.ndarray, Box], "tuple[np.ndarray, Placement]"]  # (RGB photo, face box) -> (RGB, placement)


# -- the changes ---------------------------------------------------------------------------------
def _resize(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    shrink = width * height < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def rescale_face(rgb: np.ndarray, box: Box, side: int) -> tuple[np.ndarray, Placement]:
    """The photo rescaled so that the face box's shorter side is ``side`` pixels (area
    averaging to shrink, bicubic to enlarge), cut first to a window around the face when the
    result would exceed :data:`MAX_VARIANT_PIXELS`."""
    x, y, w, h = box
    scale = side / max(1.0, min(w, h))
    height, width = rgb.shape[:2]
    x0 = y0 = 0
    if width * height * scale * scale > MAX_VARIANT_PIXELS:
        side_px = max(1, int(np.sqrt(MAX_VARIANT_PIXELS) / scale))  # the window's side, original pixels
        x0 = int(np.clip(round(x + w / 2.0 - side_px / 2.0), 0, max(0, width - side_px)))
        y0 = int(np.clip(round(y + h / 2.0 - side_px / 2.0), 0, max(0, height - side_px)))
        x1, y1 = min(width, x0 + side_px), min(height, y0 + side_px)
        rgb, width, height = rgb[y0:y1, x0:x1], x1 - x0, y1 - y0
    new_w, new_h = max(1, int(round(width * scale))), max(1, int(round(height * scale)))
    sx, sy = new_w / width, new_h / height
    return _resize(rgb, new_w, new_h), Placement(sx, sy, -x0 * sx, -y0 * sy)


def encode_decode(rgb: np.ndarray, ext: str, params=()) -> np.ndarray:
    """``rgb`` written as ``ext`` (".png", ".jpg") in memory and read back the way the edge
    runtime reads a file."""
    ok, buf = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), list(params))
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB image
        raise RuntimeError(f"OpenCV could not encode a {rgb.shape} image as {ext}")
    return decode_image(buf.tobytes(), f"in-memory {ext}")


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    return encode_decode(rgb, ".jpg", (cv2.IMWRITE_JPEG_QUALITY, int(quality)))


def lossless(rgb: np.ndarray) -> np.ndarray:
    return encode_decode(rgb, ".png", (cv2.IMWRITE_PNG_COMPRESSION, 1))


def exposure_words(gain: float) -> str:
    return f"every pixel x{gain:g} ({'darker' if gain < 1 else 'brighter, highlights clipping'})"


def exposure(rgb: np.ndarray, gain: float) -> np.ndarray:
    """Every pixel times ``gain``, clipping at white as an over-exposed sensor does (uint8
    pixels of any shape: one photo or a batch of crops)."""
    return np.clip(np.rint(rgb.astype(np.float32) * float(gain)), 0, 255).astype(np.uint8)


def camera_frame(rgb: np.ndarray, size=FRAME_SIZE) -> tuple[np.ndarray, Placement]:
    """The photo scaled to fit a ``size`` frame whole, centred on black bars (letterbox)."""
    fw, fh = size
    height, width = rgb.shape[:2]
    scale = min(fw / width, fh / height)
    new_w, new_h = min(fw, max(1, int(round(width * scale)))), min(fh, max(1, int(round(height * scale))))
    frame = np.zeros((fh, fw, 3), np.uint8)
    left, top = (fw - new_w) // 2, (fh - new_h) // 2
    frame[top:top + new_h, left:left + new_w] = _resize(rgb, new_w, new_h)
    return frame, Placement(new_w / width, new_h / height, left, top)


def face_ellipse(shape, box: Box, axes=ELLIPSE_AXES, feather: float = ELLIPSE_FEATHER) -> np.ndarray:
    """(H, W, 1) float32: 1 inside the ellipse around the face box, 0 beyond its soft edge."""
    x, y, w, h = box
    cx, cy = x + w / 2.0, y + h / 2.0
    ys, xs = np.ogrid[: shape[0], : shape[1]]
    r = np.sqrt(((xs + 0.5 - cx) / (axes[0] * w)) ** 2 + ((ys + 0.5 - cy) / (axes[1] * h)) ** 2)
    return np.clip((1.0 + feather - r) / feather, 0.0, 1.0).astype(np.float32)[:, :, None]


def _blend(rgb: np.ndarray, background: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = rgb.astype(np.float32) * keep + np.asarray(background, np.float32) * (1.0 - keep)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def plain_background(rgb: np.ndarray, box: Box, grey: int = GREY) -> np.ndarray:
    """Everything outside the ellipse around the face filled with flat grey."""
    return _blend(rgb, np.full((1, 1, 3), grey, np.float32), face_ellipse(rgb.shape, box))


def blurred_background(rgb: np.ndarray, box: Box) -> np.ndarray:
    """Everything outside the ellipse around the face strongly Gaussian-blurred (sigma a quarter
    of the face's shorter side)."""
    sigma = max(MIN_BLUR_SIGMA, BLUR_SIGMA * min(box[2], box[3]))
    blurred = cv2.GaussianBlur(rgb, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
    return _blend(rgb, blurred, face_ellipse(rgb.shape, box))


# -- the variants the report measures, in table order ------------------------------------------------
def _same_place(change: Callable[[np.ndarray, Box], np.ndarray]):
    return lambda rgb, box: (change(rgb, box), IDENTITY)


def _variants() -> list[Variant]:
    out = [Variant("as-is", "as-is", "the photo as it is: native size, no re-encoding, background kept",
                   lambda rgb, box: (rgb, IDENTITY))]
    for side in FACE_SIDES:
        out.append(Variant(f"face-{side}px", "face size", f"rescaled so the face box's shorter side is {side} px",
                           lambda rgb, box, s=side: rescale_face(rgb, box, s)))
    out.append(Variant("lossless", "JPEG", "lossless: PNG in memory", _same_place(lambda rgb, box: lossless(rgb))))
    for q in JPEG_QUALITIES:
        out.append(Variant(f"jpeg-{q}", "JPEG", f"JPEG quality {q} in memory",
                           _same_place(lambda rgb, box, q=q: jpeg(rgb, q))))
    for gain in EXPOSURE_GAINS:
        out.append(Variant(f"exposure-{gain:g}x", "exposure", exposure_words(gain),
                           _same_place(lambda rgb, box, g=gain: exposure(rgb, g))))
    out.append(Variant("camera-640x480", "camera frame", "resized and letterboxed into a 640x480 frame",
                       lambda rgb, box: camera_frame(rgb)))
    out.append(Variant("background-plain", "background", "flat grey outside an ellipse around the face",
                       _same_place(plain_background)))
    out.append(Variant("background-blurred", "background", "strong Gaussian blur outside an ellipse around the face",
                       _same_place(blurred_background)))
    return out


VARIANTS: list[Variant] = _variants()
VARIANT_NAMES = tuple(v.name for v in VARIANTS)
AS_IS = VARIANTS[0].name
