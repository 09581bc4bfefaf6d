"""The photos the port kit's golden vectors are computed on, all made from the sample photo.

The sample photo (edge/assets/astronaut.jpg, NASA, public domain) is the only photo the
repository ships, so the other two are cut from it: a collage with three faces (one
mirrored, one cut by the right border so crops need edge replication and patches sample
outside the photo) and a face-free strip of the spacesuit.  The kit ships them as PNG:
a JPEG decodes to slightly different pixels in Android's, iOS's and OpenCV's decoders,
and every golden vector depends on the exact pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakeface.edge.classifier import MODELS_DIR
from fakeface.edge.imageio import load_image

SAMPLE_PHOTO = MODELS_DIR.parent / "assets" / "astronaut.jpg"
# The head-and-shoulders square of the sample photo the collage is made of.
PORTRAIT_ROWS, PORTRAIT_COLS = slice(0, 300), slice(100, 400)
COLLAGE_SHAPE = (360, 640)
# (top, left, side, mirrored) of each portrait in the collage; the last one runs 20 px
# past the right border.
COLLAGE_LAYOUT = ((40, 20, 240, False), (60, 300, 150, True), (200, 540, 120, False))
# Rows of the sample photo below the face: spacesuit, flag and shuttle model, no face.
NO_FACE_ROWS = slice(300, 512)


@dataclass(frozen=True)
class KitPhoto:
    name: str  # file stem: photos/<name>.png, golden/<name>/
    description: str
    rgb: np.ndarray


def _collage(sample: np.ndarray) -> np.ndarray:
    portrait = sample[PORTRAIT_ROWS, PORTRAIT_COLS]
    canvas = np.empty(COLLAGE_SHAPE + (3,), np.uint8)
    # A plain backdrop of the sample's mean colour: no edge that P-Net could take for a face.
    canvas[:] = sample.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    for top, left, side, mirrored in COLLAGE_LAYOUT:
        face = cv2.resize(portrait[:, ::-1] if mirrored else portrait, (side, side), interpolation=cv2.INTER_AREA)
        visible = min(side, COLLAGE_SHAPE[1] - left)
        canvas[top:top + side, left:left + visible] = face[:, :visible]
    return canvas


def kit_photos() -> list[KitPhoto]:
    sample = load_image(SAMPLE_PHOTO)
    return [
        KitPhoto("astronaut", "the sample photo, one face (edge/assets/astronaut.jpg, decoded)", sample),
        KitPhoto("multi_face", "three faces: 240, 150 (mirrored) and 120 px, the last cut by the right border",
                 _collage(sample)),
        KitPhoto("no_face", "a strip of the sample photo below the face: no face",
                 np.ascontiguousarray(sample[NO_FACE_ROWS])),
    ]


def encode_png(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 RGB array
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()
