"""Non-maximum suppression as mtcnn 1.0.0 does it.

Unlike the textbook greedy loop, a box is dropped when *any* higher-scored box overlaps
it beyond the threshold, even one that was itself dropped.  Matching that rule is what
keeps this detector's output identical to the reference implementation.
"""

from __future__ import annotations

import numpy as np

# Columns of a candidate array: x1, y1, x2, y2, score, then anything else (landmarks).
X1, Y1, X2, Y2, SCORE = range(5)
# Rows compared at once: bounds the pairwise-overlap matrix to BLOCK x N floats.
BLOCK = 1024


def sort_by_score(cands: np.ndarray) -> np.ndarray:
    """Rows by descending score, ordered like mtcnn (reversed ascending argsort)."""
    return cands[np.argsort(cands[:, SCORE])[::-1]]


def overlap(boxes_a: np.ndarray, boxes_b: np.ndarray, method: str = "union") -> np.ndarray:
    """Pairwise overlap (len(a), len(b)) of x1,y1,x2,y2 boxes: IoU, or intersection / smaller area."""
    area_a = (boxes_a[:, 2] - boxes_a[:, 0]) * (boxes_a[:, 3] - boxes_a[:, 1])
    area_b = (boxes_b[:, 2] - boxes_b[:, 0]) * (boxes_b[:, 3] - boxes_b[:, 1])
    iw = np.minimum(boxes_a[:, None, 2], boxes_b[None, :, 2]) - np.maximum(boxes_a[:, None, 0], boxes_b[None, :, 0])
    ih = np.minimum(boxes_a[:, None, 3], boxes_b[None, :, 3]) - np.maximum(boxes_a[:, None, 1], boxes_b[None, :, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    if method == "union":
        denom = area_a[:, None] + area_b[None, :] - inter
    elif method == "min":
        denom = np.minimum(area_a[:, None], area_b[None, :])
    else:
        raise ValueError(f"NMS method must be 'union' or 'min', not {method!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / denom


def nms(cands: np.ndarray, threshold: float, method: str = "union", presorted: bool = False) -> np.ndarray:
    """Rows of ``cands`` that survive suppression, in descending score order."""
    if len(cands) <= 1:  # a lone box has nothing to suppress
        return cands
    if not presorted:
        cands = sort_by_score(cands)
    boxes = cands[:, :4]
    n = len(cands)
    suppressed = np.zeros(n, dtype=bool)
    # Box i is suppressed by any j < i; compare row blocks of j against the columns after them.
    for start in range(0, n, BLOCK):
        stop = min(start + BLOCK, n)
        ov = overlap(boxes[start:stop], boxes[start:], method) > threshold
        # Within the block only j < i counts (strict upper triangle).
        ov[:, : stop - start] &= np.triu(np.ones((stop - start, stop - start), dtype=bool), k=1)
        suppressed[start:] |= ov.any(axis=0)
    return cands[~suppressed]
