"""The image pyramid P-Net scans: which scales, and the resized, normalised levels.

Follows mtcnn 1.0.0: the number of levels depends only on the image's short side, the
first level is ``min_size / min_face_size``, each next one ``scale_factor`` times smaller,
and a level's size is the truncated product ``int(side * scale)``.

mtcnn normalises the whole image to float, then area-resizes each level.  Here a camera
frame's big levels are made the same way (OpenCV's INTER_AREA on a normalised float32
copy: its fastest path here, 1.0-1.3 ms a level of a 640x480 frame against 1.5-2 ms from
uint16), a photo's from a uint16 copy (image * 256: half a float copy) and normalised
afterwards (normalising is affine and area weights sum to one, so the order does not
matter), and the small levels from an integral image (area.py).  OpenCV rounds a level
resized straight from uint8 to whole grey values, and that +-0.5 alone moves MTCNN's
boxes: a face at IoU 0.83 with mtcnn's, and an extra face, on the parity set.

Every level is an exact area average of the full frame, as in mtcnn.  Cheaper pyramids
were measured against the parity set (tests/test_mtcnn_parity.py's images and options)
and rejected: INTER_AREA from the level before (the classic image-pyramid shortcut) blurs
each level a little more, and 109 of its faces then miss IoU 0.95 or their landmarks
(worst IoU 0.63); even uniform noise of +-0.05 grey on every level costs a face at IoU
0.82.  The pyramid's error budget is about 0.01 grey (1/512 here).
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
    each is resized (see area.py), and the buffers.

    A camera frame (up to INTEGRAL_MAX_PIXELS) keeps a normalised float32 copy of itself,
    which OpenCV shrinks into the large levels (mtcnn's own order, and OpenCV's float path
    is the fastest here), and an integral image for the small levels; every level has its
    own buffer and all are made before P-Net sees the first, so the frame's copies are read
    while they are still in the cache.  A larger photo keeps the uint16 copy (image * 256,
    half a float copy) and one level-sized buffer that every level reuses in turn (P-Net is
    done with a level before the next is made).  A video keeps one plan, so its steady
    state allocates no pyramid memory beyond small temporaries."""

    def __init__(self, height: int, width: int, min_face_size: float, scale_factor: float):
        self.key = (height, width, float(min_face_size), float(scale_factor))
        self.levels = level_shapes(height, width, pyramid_scales(height, width, min_face_size, scale_factor))
        pixels = height * width
        self.frame = pixels <= INTEGRAL_MAX_PIXELS
        self.methods = [
            "enlarge" if h > height or w > width
            else "integral" if self.frame and h * w <= INTEGRAL_SHARE * pixels
            else "opencv"
            for _, (h, w) in self.levels
        ]
        small = [size for (_, size), m in zip(self.levels, self.methods) if m == "integral"]
        large = [h * w * 3 for (_, (h, w)), m in zip(self.levels, self.methods) if m != "integral"]
        big = "opencv" in self.methods
        self._norm = np.empty((height, width, 3), np.float32) if big and self.frame else None
        self._fine = np.empty((height, width, 3), np.uint16) if big and not self.frame else None
        self._sums = np.empty((height + 1, width + 1, 3), np.int32) if small else None
        self._u16 = np.empty(max(large) if self._fine is not None else 0, np.uint16)
        # Camera frames: one buffer per level.  Photos: the large levels share one.
        sizes = [h * w * 3 if self.frame or m == "integral" else 0 for (_, (h, w)), m in zip(self.levels, self.methods)]
        shared = 0 if self.frame else max(large, default=0)
        self._f32 = np.empty(sum(sizes) + shared, np.float32)
        self._level_arrays, start = [], shared
        for (_, (h, w)), n in zip(self.levels, sizes):
            at = start if n else 0
            self._level_arrays.append(self._f32[at:at + h * w * 3].reshape(1, h, w, 3))
            start += n
        self._shrink = IntegralShrink(height, width, small) if small else None
        self._work = Workspace()

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in (self._norm, self._fine, self._sums, self._u16, self._f32) if b is not None)

    def _small_levels(self, image_u8: np.ndarray) -> None:
        """Every integral level at once, normalised, into its own buffer."""
        corners = self._shrink.corners(integral_image(image_u8, self._sums), self._work)
        small = 0
        for method, level in zip(self.methods, self._level_arrays):
            if method == "integral":
                # (mean - MEAN) * SCALE = sum * (SCALE / area) - MEAN * SCALE: one pass each.
                self._shrink.level(corners, small, level[0], float(SCALE), float(-MEAN * SCALE))
                small += 1

    def _level(self, image_u8: np.ndarray, index: int) -> np.ndarray:
        """Make a large (OpenCV) or enlarged level into its buffer."""
        _, (h, w) = self.levels[index]
        level = self._level_arrays[index]
        if self.methods[index] == "enlarge":
            normalize(enlarge(image_u8, (h, w)), level[0])
        elif self._norm is not None:
            shrink_opencv(self._norm, (h, w), level[0])
        else:
            pixels = shrink_opencv(self._fine, (h, w), self._u16[:h * w * 3].reshape(h, w, 3))
            # Normalised after resizing: (pixels / FINE - MEAN) * SCALE.
            np.subtract(pixels, MEAN * FINE, out=level[0], dtype=np.float32)
            level *= SCALE / FINE
        return level

    def scan(self, image_u8: np.ndarray):
        """Yield (scale, level) for every level of ``image_u8``, largest first; a level is a
        (1, h, w, 3) float32 P-Net input.  A camera frame's levels are all made before the
        first is yielded and stay valid until the next scan; a photo's large levels only
        until the next one is made."""
        if self._norm is not None:
            # mtcnn's own order: normalise the frame, then area-resize it (exact in float32:
            # (v - 127.5) / 128 has at most 16 significant bits).
            normalize(image_u8, self._norm)
        if self._fine is not None:
            np.left_shift(image_u8, FINE_BITS, out=self._fine, dtype=np.uint16)
        if self._shrink is not None:
            self._small_levels(image_u8)
        if self.frame:
            for index, method in enumerate(self.methods):
                if method != "integral":
                    self._level(image_u8, index)
        for index, ((scale, _), method) in enumerate(zip(self.levels, self.methods)):
            level = self._level_arrays[index]
            if not self.frame and method != "integral":
                level = self._level(image_u8, index)
            yield scale, level
