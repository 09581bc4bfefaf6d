"""Candidate-box arithmetic of the cascade: decoding, regression, squaring, patch cropping.

A candidate array has one row per box: x1, y1, x2, y2, score (see nms.py), in pixels of
the input image, floats, never rounded between stages (mtcnn 1.0.0 does not round either).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .nms import sort_by_score
from .pyramid import CELL_SIZE, normalize
from .workspace import Workspace

# P-Net's output grid advances two input pixels per cell (its single 2x2 max-pool).
PNET_STRIDE = 2


def pnet_candidates(regression: np.ndarray, probability: np.ndarray, scale: float,
                    threshold: float) -> np.ndarray:
    """Boxes of one pyramid level whose face probability beats ``threshold``.

    ``regression`` is (h, w, 4), ``probability`` (h, w, 2).  Cell (y, x) stands for the
    window from pixel 2x+1 to 2x+12 (mtcnn's one-based corners, so 11 pixels wide); its
    regression moves each corner by a fraction of that width, then the box is mapped back
    to the input image by dividing by the level's scale.
    """
    face = probability[..., 1]
    ys, xs = np.nonzero(face > threshold)
    if len(ys) == 0:
        return np.empty((0, 5))
    reg = regression[ys, xs].astype(np.float64)
    left, top = xs * PNET_STRIDE + 1, ys * PNET_STRIDE + 1
    right, bottom = xs * PNET_STRIDE + CELL_SIZE, ys * PNET_STRIDE + CELL_SIZE
    side = CELL_SIZE - 1
    x1 = left + reg[:, 0] * side
    y1 = top + reg[:, 1] * side
    x2 = right + reg[:, 2] * side
    y2 = bottom + reg[:, 3] * side
    cands = np.stack([x1 / scale, y1 / scale, x2 / scale, y2 / scale, face[ys, xs]], axis=1)
    return sort_by_score(cands)


def square(cands: np.ndarray) -> np.ndarray:
    """Grow each box's short side to its long side, about the same centre."""
    out = cands.copy()
    w = cands[:, 2] - cands[:, 0]
    h = cands[:, 3] - cands[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = cands[:, 0] + w * 0.5 - side * 0.5
    out[:, 1] = cands[:, 1] + h * 0.5 - side * 0.5
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def refine(cands: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Apply R-/O-Net box regression: corner offsets in units of the box's (+1) size."""
    out = cands.copy()
    w = cands[:, 2] - cands[:, 0] + 1
    h = cands[:, 3] - cands[:, 1] + 1
    out[:, :4] += offsets.astype(np.float64) * np.stack([w, h, w, h], axis=1)
    return out


def decode_landmarks(landmarks: np.ndarray, cands: np.ndarray) -> np.ndarray:
    """O-Net's (N, 10) box-relative x1..x5, y1..y5 -> (N, 5, 2) image pixels.

    ``cands`` are the boxes O-Net looked at (before its own regression).
    """
    w = (cands[:, 2] - cands[:, 0] + 1)[:, None]
    h = (cands[:, 3] - cands[:, 1] + 1)[:, None]
    lm = landmarks.astype(np.float64)
    xs = w * lm[:, 0:5] + cands[:, 0:1] - 1
    ys = h * lm[:, 5:10] + cands[:, 1:2] - 1
    return np.stack([xs, ys], axis=2)


def crop_patches(image: np.ndarray, cands: np.ndarray, size: int, work: Optional[Workspace] = None) -> np.ndarray:
    """Normalised bilinear ``size`` x ``size`` patches of ``image`` (H, W, C uint8, C-contiguous)
    under every box, in one vectorised pass.  With ``work``, the result lives in its
    arrays and is valid until its next use.

    Reproduces tf.image.crop_and_resize on mtcnn's normalised image: boxes are divided by
    the image size, so sample points span ``x1 * (W - 1) / W`` .. ``x2 * (W - 1) / W``;
    samples outside the image are 0, i.e. mid-grey once normalised.  Interpolating the
    uint8 values and normalising afterwards gives the same numbers (the scaling is affine
    and bilinear weights sum to one), without a float copy of the image.
    """
    n = len(cands)
    height, width, channels = image.shape
    if n == 0:
        return np.zeros((0, size, size, channels), dtype=np.float32)
    work = work or Workspace()
    ys, y_ok = _sample_points(cands[:, 1] / height, cands[:, 3] / height, height, size)
    xs, x_ok = _sample_points(cands[:, 0] / width, cands[:, 2] / width, width, size)

    # Rows of a patch are laid out flat, (n, size, size * C): numpy's loops then run along
    # 72 or 144 contiguous floats instead of 3, which makes the arithmetic ~10x faster.
    y0 = np.floor(ys)
    x0 = np.floor(xs)
    wy = (ys - y0).astype(np.float32)[:, :, None]
    wx = np.repeat((xs - x0).astype(np.float32), channels, axis=1)[:, None, :]
    top = np.clip(y0, 0, height - 1).astype(np.intp) * width
    bottom = np.clip(np.ceil(ys), 0, height - 1).astype(np.intp) * width
    left = np.clip(x0, 0, width - 1).astype(np.intp)
    right = np.clip(np.ceil(xs), 0, width - 1).astype(np.intp)
    pixels = image.reshape(-1, channels)
    flat_shape = (n, size, size * channels)

    def gather(name: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        # np.take on flat pixel indices: about twice as fast as 2-D fancy indexing.
        index = np.add(rows[:, :, None], cols[:, None, :], out=work.array("index", (n, size, size), np.intp))
        picked = np.take(pixels, index.ravel(), axis=0, out=work.array("pixels", (n * size * size, channels), np.uint8))
        out = work.array(name, flat_shape)
        np.copyto(out, picked.reshape(flat_shape))
        return out

    # tf's order of operations, in place: top = tl + (tr - tl) * wx, likewise bottom,
    # then top + (bottom - top) * wy.
    upper, right_px = gather("upper", top, left), gather("right", top, right)
    upper += np.multiply(np.subtract(right_px, upper, out=right_px), wx, out=right_px)
    lower, right_px = gather("lower", bottom, left), gather("right", bottom, right)
    lower += np.multiply(np.subtract(right_px, lower, out=right_px), wx, out=right_px)
    upper += np.multiply(np.subtract(lower, upper, out=lower), wy, out=lower)
    patches = normalize(upper, upper)
    patches *= y_ok[:, :, None] & np.repeat(x_ok, channels, axis=1)[:, None, :]
    return patches.reshape(n, size, size, channels)


def _sample_points(lo: np.ndarray, hi: np.ndarray, extent: int, size: int):
    """Sample coordinates (N, size) along one axis for normalised box edges, and which fall inside."""
    step = (hi - lo) * (extent - 1) / (size - 1)
    pts = lo[:, None] * (extent - 1) + np.arange(size)[None, :] * step[:, None]
    return pts, (pts >= 0) & (pts <= extent - 1)


def clip_to_image(cands: np.ndarray, height: int, width: int) -> np.ndarray:
    """Keep box corners inside the image (landmarks are left as predicted, like mtcnn)."""
    out = cands.copy()
    out[:, [0, 2]] = np.clip(cands[:, [0, 2]], 0, width - 1)
    out[:, [1, 3]] = np.clip(cands[:, [1, 3]], 0, height - 1)
    return out
