"""The image pyramid P-Net scans: which scales, and the resized, normalised levels.

Follows mtcnn 1.0.0: the number of levels depends only on the image's short side, the
first level is ``min_size / min_face_size``, each next one ``scale_factor`` times smaller,
and a level's size is the truncated product ``int(side * scale)``.

mtcnn normalises the whole image to float, then area-resizes each level.  Here each level
is area-resized from a uint16 copy (image * 256: 6 bytes a pixel, half a float copy) and
normalised afterwards; normalising is affine and area weights sum to one, so the order
does not matter.  Levels resized straight from uint8 would be rounded to whole grey
levels, and that +-0.5 alone moves MTCNN's boxes: a face at IoU 0.83 with mtcnn's, and
an extra face, on the parity set.  (With OpenCV 5.0 a uint8 area resize is no faster.)
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

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
    """Everything about a pyramid that depends only on the frame's shape: the levels, the
    uint16 image buffer, and one uint16 and one float32 buffer the size of the largest
    level, which every level reuses in turn (P-Net is done with a level before the next
    is made).  A video keeps one plan, so its steady state allocates no pyramid memory."""

    def __init__(self, height: int, width: int, min_face_size: float, scale_factor: float):
        self.key = (height, width, float(min_face_size), float(scale_factor))
        self.levels = level_shapes(height, width, pyramid_scales(height, width, min_face_size, scale_factor))
        largest = max((h * w * 3 for _, (h, w) in self.levels), default=0)
        self._image = np.empty((height, width, 3), np.uint16) if self.levels else None
        self._u16 = np.empty(largest, np.uint16)
        self._f32 = np.empty(largest, np.float32)

    def scan(self, image_u8: np.ndarray):
        """Yield (scale, level) for every level of ``image_u8``; a level is a (1, h, w, 3)
        float32 P-Net input, valid until the next one is made."""
        if not self.levels:
            return
        fine = np.left_shift(image_u8, FINE_BITS, out=self._image, dtype=np.uint16)
        for index, (scale, _) in enumerate(self.levels):
            yield scale, self._level(fine, index)

    def _level(self, image_u16: np.ndarray, index: int) -> np.ndarray:
        h, w = self.levels[index][1]
        n = h * w * 3
        in_h, in_w = image_u16.shape[:2]
        if h <= in_h and w <= in_w:
            # INTER_AREA shrinking is tf.image.resize(method=AREA)'s pixel-area average.
            pixels = cv2.resize(image_u16, (w, h), dst=self._u16[:n].reshape(h, w, 3), interpolation=cv2.INTER_AREA)
        else:
            # Enlarging (min_face_size < 12): OpenCV interpolates there instead, so use the
            # exact box-coverage weights, in float (the image is smaller than this level).
            pixels = upscale_area(image_u16, (h, w))
        out = self._f32[:n].reshape(1, h, w, 3)
        np.subtract(pixels, MEAN * FINE, out=out[0], dtype=np.float32)
        out *= SCALE / FINE
        return out


def upscale_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average resize to a larger ``size`` = (h, w), as tf.image.resize(method=AREA)."""
    h, w = size
    in_h, in_w = image.shape[:2]
    ry = _area_weights(in_h, h)
    rx = _area_weights(in_w, w)
    out = np.einsum("yi,ijc->yjc", ry, image.astype(np.float32), optimize=True)
    return np.einsum("xj,yjc->yxc", rx, out, optimize=True)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: share of input pixel i covered by output pixel o's footprint."""
    scale = n_in / n_out
    starts = np.arange(n_out) * scale
    ends = starts + scale
    edges = np.arange(n_in + 1, dtype=np.float64)
    lo = np.maximum(starts[:, None], edges[None, :-1])
    hi = np.minimum(ends[:, None], edges[None, 1:])
    return (np.clip(hi - lo, 0, None) / scale).astype(np.float32)
