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


def _pair_overlap(boxes: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """IoU of the pairs (boxes[first[k]], boxes[second[k]]): entry [first, second] of
    ``overlap(boxes, boxes)``, the same arithmetic element by element."""
    a, b = boxes[first], boxes[second]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.maximum(iw, 0) * np.maximum(ih, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / (area_a + area_b - inter)


_PAIRS: dict[int, tuple[np.ndarray, np.ndarray]] = {}
# Above this many same-level pairs (index and overlap arrays ~40 bytes a pair: 10 MB) the
# levels are suppressed one by one instead of in one pass.
MAX_PAIRS = 250_000


def _upper_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(j, i) for every j < i < n; kept per n (a video's levels see the same few counts)."""
    pairs = _PAIRS.get(n)
    if pairs is None:
        pairs = np.triu_indices(n, k=1)
        if n <= 256:
            _PAIRS[n] = pairs
    return pairs


def pnet_nms(cands: np.ndarray, counts, level_threshold: float, merged_threshold: float) -> np.ndarray:
    """P-Net's two suppressions, as :func:`nms` does them one after the other: within each
    level (``cands`` holds the levels one after the other, ``counts`` rows each, every
    level sorted best first), then over all the levels' survivors.

    Only pairs of the same level are compared for the first (a frame's levels hold a few
    dozen candidates each, all levels a few hundred), in one vectorised pass over all
    levels' pairs; each pair's overlap is computed as :func:`overlap` computes it, so the
    survivors are the ones :func:`nms` keeps.
    """
    if sum(n * (n - 1) // 2 for n in counts) > MAX_PAIRS:
        # A busy photo's levels can hold thousands of candidates each: their pairs would
        # take hundreds of MB, so the levels go through nms's bounded blocks one by one.
        kept, start = [], 0
        for n in counts:
            kept.append(nms(cands[start:start + n], level_threshold, "union", presorted=True))
            start += n
        return nms(np.concatenate(kept, axis=0), merged_threshold, "union")
    firsts, seconds, start = [], [], 0
    for n in counts:
        if n > 1:
            j, i = _upper_pairs(n)
            firsts.append(j + start)
            seconds.append(i + start)
        start += n
    boxes = cands[:, :4]
    suppressed = np.zeros(len(cands), dtype=bool)
    if firsts:
        first, second = np.concatenate(firsts), np.concatenate(seconds)
        suppressed[second[_pair_overlap(boxes, first, second) > level_threshold]] = True
    # Across levels: the survivors in sort_by_score's order, then the same rule.
    return nms(cands[~suppressed], merged_threshold, "union")
