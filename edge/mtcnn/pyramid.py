"""The image pyramid P-Net scans: which scales, and the resized, normalised levels.

Follows mtcnn 1.0.0: the number of levels depends only on the image's short side, the
first level is ``min_size / min_face_size``, each next one ``scale_factor`` times smaller,
and a level's size is the truncated product ``int(side * scale)``.

mtcnn normalises the whole image to float, then area-resizes each level.  Here each level
is area-resized from integers and normalised afterwards (normalising is affine and area
weights sum to one, so the order does not matter): big levels by OpenCV from a uint16
copy (image * 256: 6 bytes a pixel, half a float copy), small ones from an integral
image (area.py).  OpenCV rounds a level resized straight from uint8 to whole grey
values, and that +-0.5 alone moves MTCNN's boxes: a face at IoU 0.83 with mtcnn's, and
an extra face, on the parity set.  (With OpenCV 5.0 a uint8 area resize is no faster.)
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from .area import INTEGRAL_MAX_PIXELS, INTEGRAL_SHARE, IntegralShrink, enlarge, integral_image, shrink_opencv
from .workspace import Workspace

# P-Net's receptive field: a level smaller than this gives it nothing to look at.
CELL_SIZE = 12
# Smallest level side for which P-Net's valid convolutions still leave one output cell.
MIN_LEVEL_SIDE = 11
# The nets' input scaling: uint8 v -> (v - MEAN) * SCALE, about [-1, 1].
MEAN = np.float32(127.5)
SCALE = np.float32(1.0 / 128.0)
# Levels are resized from the image times 2**FINE_BITS in uint16: OpenCV rounds a resized
# level to its integer type, and 1/256 of a grey level is far below what the nets notice.
FINE_BITS = 8
FINE = np.float32(1 << FINE_BITS)


def normalize(pixels: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """uint8 (or float) RGB values -> float32 net input, into ``out`` when given."""
    out = np.subtract(pixels, MEAN, out=out, dtype=np.float32)
    out *= SCALE
    return out


def pyramid_scales(height: int, width: int, min_face_size: float, scale_factor: float,
                   min_size: int = CELL_SIZE) -> np.ndarray:
    """Scales of the pyramid levels, largest first."""
    min_dim = min(width, height)
    if min_dim <= 0:
        return np.empty(0)
    count = round(-((math.log(min_dim / min_size) / math.log(scale_factor)) + 1))
    first = min_size / min_face_size
    return first * scale_factor ** np.arange(max(count, 0))


def level_shapes(height: int, width: int, scales: np.ndarray) -> list[tuple[float, tuple[int, int]]]:
    """(scale, (h, w)) of each level P-Net can run on.

    mtcnn 1.0.0 raises on levels too small for P-Net (it happens with min_face_size
    above ~24); those levels cannot contain a face, so they are skipped here instead.
    """
    shape = np.asarray([height, width], dtype=np.float64)
    out = []
    for scale in scales:
        h, w = (shape * scale).astype(np.int64)
        if min(h, w) >= MIN_LEVEL_SIDE:
            out.append((float(scale), (int(h), int(w))))
    return out


class PyramidPlan:
    """Everything about a pyramid that depends only on the frame's shape: the levels, how
    each is resized (see area.py), and the buffers: the uint16 image and/or the integral
    image, and one level-sized uint16 and float32 buffer that every level reuses in turn
    (P-Net is done with a level before the next is made).  A video keeps one plan, so its
    steady state allocates no pyramid memory beyond small temporaries."""

    def __init__(self, height: int, width: int, min_face_size: float, scale_factor: float):
        self.key = (height, width, float(min_face_size), float(scale_factor))
        self.levels = level_shapes(height, width, pyramid_scales(height, width, min_face_size, scale_factor))
        pixels = height * width
        self.methods = [
            "enlarge" if h > height or w > width
            else "integral" if pixels <= INTEGRAL_MAX_PIXELS and h * w <= INTEGRAL_SHARE * pixels
            else "opencv"
            for _, (h, w) in self.levels
        ]
        largest = max((h * w * 3 for _, (h, w) in self.levels), default=0)
        self._fine = np.empty((height, width, 3), np.uint16) if "opencv" in self.methods else None
        self._sums = np.empty((height + 1, width + 1, 3), np.int32) if "integral" in self.methods else None
        self._u16 = np.empty(largest if self._fine is not None else 0, np.uint16)
        self._f32 = np.empty(largest, np.float32)
        self._work = Workspace()
        self._shrink = {i: IntegralShrink(height, width, size)
                        for i, ((_, size), method) in enumerate(zip(self.levels, self.methods)) if method == "integral"}

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in (self._fine, self._sums, self._u16, self._f32) if b is not None)

    def scan(self, image_u8: np.ndarray):
        """Yield (scale, level) for every level of ``image_u8``; a level is a (1, h, w, 3)
        float32 P-Net input, valid until the next one is made."""
        fine = sums = None
        if self._fine is not None:
            fine = np.left_shift(image_u8, FINE_BITS, out=self._fine, dtype=np.uint16)
        if self._sums is not None:
            sums = integral_image(image_u8, self._sums)
        for index, ((scale, (h, w)), method) in enumerate(zip(self.levels, self.methods)):
            n = h * w * 3
            unit = np.float32(1)
            if method == "opencv":
                pixels, unit = shrink_opencv(fine, (h, w), self._u16[:n].reshape(h, w, 3)), FINE
            elif method == "integral":
                pixels = self._shrink[index](sums, self._work)
            else:
                pixels = enlarge(image_u8, (h, w))
            level = self._f32[:n].reshape(1, h, w, 3)
            # Normalised after resizing: (pixels / unit - MEAN) * SCALE.
            np.subtract(pixels, MEAN * unit, out=level[0], dtype=np.float32)
            level *= SCALE / unit
            yield scale, level
