"""The copy of a photo the detector searches: at most ``max_pixels``, boxes mapped back.

MTCNN's cost and memory grow with the first pyramid level, which at the default min
face is 0.6x the photo's side: a 12-MP phone photo gave a 2400x1800 float level, and one
cached P-Net interpreter with its buffers per level, about 2 GB.  Searching a shrunk copy
bounds that, and the classifier still crops each face from the full-resolution photo
(the crop contract's own scale), so only detection sees fewer pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .faces import FaceBox
from .mtcnn.pyramid import CELL_SIZE

# 0.5 MP (816x612 at 4:3; a 640x480 frame is searched as it is).  With the detector's
# one-interpreter-per-pyramid-level, `fakeface check` on a 12-MP photo peaked at 364 MB
# with this copy, 583 MB with 1 MP and 797 MB with 1.5 MP; the edge runtime promises
# 400 MB (tests/test_large_photo.py).  On a 12-MP photo the smallest face found is then
# about 59 px: CELL_SIZE / (816 / 4000).
DEFAULT_WORKING_PIXELS = 500_000


@dataclass(frozen=True)
class WorkingImage:
    image: np.ndarray  # the RGB copy the detector sees
    scale_x: float  # working-copy pixels per photo pixel, along x
    scale_y: float

    @classmethod
    def of(cls, photo: np.ndarray, max_pixels: int = DEFAULT_WORKING_PIXELS) -> "WorkingImage":
        """The photo itself when it is small enough, else an area-averaged shrunk copy."""
        height, width = photo.shape[:2]
        if height * width <= max_pixels:
            return cls(photo, 1.0, 1.0)
        shrink = math.sqrt(max_pixels / (height * width))
        w, h = max(1, int(width * shrink)), max(1, int(height * shrink))
        return cls(cv2.resize(photo, (w, h), interpolation=cv2.INTER_AREA), w / width, h / height)

    @property
    def scale(self) -> float:
        return min(self.scale_x, self.scale_y)

    def detector_min_face(self, photo_min_face: float) -> float:
        """The min face to search the copy for.  A face below P-Net's 12-px window in the
        copy cannot be found there: on a shrunk copy the smallest face found in the
        photo is ``CELL_SIZE / scale`` pixels, whatever smaller value was asked for."""
        return max(photo_min_face * self.scale, CELL_SIZE)

    def smallest_face_in_photo(self, photo_min_face: float) -> float:
        return self.detector_min_face(photo_min_face) / self.scale

    def to_photo(self, face: FaceBox) -> FaceBox:
        """A face found in the copy, in the photo's own pixel coordinates."""
        if self.scale_x == self.scale_y == 1.0:
            return face
        sx, sy = self.scale_x, self.scale_y
        x, y, w, h = face.box
        return FaceBox(box=(x / sx, y / sy, w / sx, h / sy), score=face.score,
                       landmarks=[(lx / sx, ly / sy) for lx, ly in face.landmarks])
