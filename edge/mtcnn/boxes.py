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


def pnet_cells(regression: np.ndarray, probability: np.ndarray, threshold: float):
    """One level's cells above ``threshold``, best first: (ys, xs, score, regression rows), or
    None.  The per-level half of :func:`pnet_candidates`, kept to a few numpy calls: the
    boxes of every level are then decoded together (:func:`decode_pnet_cells`)."""
    face = probability[..., 1]
    ys, xs = np.nonzero(face > threshold)
    if len(ys) == 0:
        return None
    score = face[ys, xs].astype(np.float64)
    # The order sort_by_score gives these rows: the same argsort of the same scores.
    order = np.argsort(score)[::-1]
    return ys[order], xs[order], score[order], regression[ys[order], xs[order]]


def decode_pnet_cells(cells, scales) -> np.ndarray:
    """Candidates (N, 5) of several levels' :func:`pnet_cells` at once, level after level,
    each level's rows as :func:`pnet_candidates` gives them (the same arithmetic, element
    by element, so the same numbers)."""
    ys = np.concatenate([c[0] for c in cells])
    xs = np.concatenate([c[1] for c in cells])
    score = np.concatenate([c[2] for c in cells])
    reg = np.concatenate([c[3] for c in cells]).astype(np.float64)
    counts = [len(c[0]) for c in cells]
    scale = np.repeat(np.asarray(scales, np.float64), counts)
    side = CELL_SIZE - 1
    cands = np.empty((len(ys), 5))
    cands[:, 0] = (xs * PNET_STRIDE + 1 + reg[:, 0] * side) / scale
    cands[:, 1] = (ys * PNET_STRIDE + 1 + reg[:, 1] * side) / scale
    cands[:, 2] = (xs * PNET_STRIDE + CELL_SIZE + reg[:, 2] * side) / scale
    cands[:, 3] = (ys * PNET_STRIDE + CELL_SIZE + reg[:, 3] * side) / scale
    cands[:, 4] = score
    return cands


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
    rows = work.array("rows", (4, n, size), np.intp)
    np.multiply(np.clip(y0, 0, height - 1, out=y0), width, out=rows[0], casting="unsafe")
    np.multiply(np.clip(np.ceil(ys), 0, height - 1), width, out=rows[2], casting="unsafe")
    rows[1], rows[3] = rows[0], rows[2]
    cols = work.array("cols", (4, n, size), np.intp)
    np.copyto(cols[0], np.clip(x0, 0, width - 1, out=x0), casting="unsafe")
    np.copyto(cols[1], np.clip(np.ceil(xs), 0, width - 1), casting="unsafe")
    cols[2], cols[3] = cols[0], cols[1]
    # The four neighbours of every sample point (top-left, top-right, bottom-left,
    # bottom-right), gathered in one take and widened to float32 in one copy.
    index = np.add(rows[:, :, :, None], cols[:, :, None, :], out=work.array("index", (4, n, size, size), np.intp))
    picked = np.take(image.reshape(-1, channels), index.reshape(-1), axis=0,
                     out=work.array("picked", (4 * n * size * size, channels), np.uint8))
    corners = work.array("corners", (4, n, size, size * channels))
    np.copyto(corners, picked.reshape(corners.shape))
    upper, right_px, lower, lower_right = corners
    # tf's order of operations, in place: top = tl + (tr - tl) * wx, likewise bottom,
    # then top + (bottom - top) * wy.
    upper += np.multiply(np.subtract(right_px, upper, out=right_px), wx, out=right_px)
    lower += np.multiply(np.subtract(lower_right, lower, out=lower_right), wx, out=lower_right)
    upper += np.multiply(np.subtract(lower, upper, out=lower), wy, out=lower)
    patches = normalize(upper, upper).reshape(n, size, size, channels)
    if not (y_ok.all() and x_ok.all()):  # boxes reaching past the image's edge
        patches *= (y_ok[:, :, None] & x_ok[:, None, :])[..., None]
    return patches


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
