"""The image pyramid P-Net scans: which scales, and the resized, normalised levels.

Follows mtcnn 1.0.0: the number of levels depends only on the image's short side, the
first level is ``min_size / min_face_size``, each next one ``scale_factor`` times smaller,
and a level's size is the truncated product ``int(side * scale)``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# P-Net's receptive field: a level smaller than this gives it nothing to look at.
CELL_SIZE = 12
# Smallest level side for which P-Net's valid convolutions still leave one output cell.
MIN_LEVEL_SIDE = 11


def normalize(image_rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB -> float32 in about [-1, 1], the nets' input scaling."""
    return (image_rgb.astype(np.float32) - 127.5) * (1.0 / 128.0)


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


def resize_area(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Area-average resize to ``size`` = (h, w), as tf.image.resize(method=AREA).

    OpenCV's INTER_AREA is the same pixel-area average when shrinking; when enlarging it
    interpolates instead, so that (rare: min_face_size < 12) case uses the exact
    separable box-coverage weights.
    """
    h, w = size
    in_h, in_w = image.shape[:2]
    if (h, w) == (in_h, in_w):
        return image
    if h <= in_h and w <= in_w:
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    ry = _area_weights(in_h, h)
    rx = _area_weights(in_w, w)
    out = np.einsum("yi,ijc->yjc", ry, image, optimize=True)
    return np.einsum("xj,yjc->yxc", rx, out, optimize=True).astype(np.float32)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: share of input pixel i covered by output pixel o's footprint."""
    scale = n_in / n_out
    starts = np.arange(n_out) * scale
    ends = starts + scale
    edges = np.arange(n_in + 1, dtype=np.float64)
    lo = np.maximum(starts[:, None], edges[None, :-1])
    hi = np.minimum(ends[:, None], edges[None, 1:])
    return (np.clip(hi - lo, 0, None) / scale).astype(np.float32)
