"""Compare a port's array with the golden one for a stage: within tolerance, and by how much.

Every comparison returns a :class:`StageDiff` with a one-line ``detail`` saying where
the largest difference is, so a port developer knows which element to look at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .stages import Stage


@dataclass(frozen=True)
class StageDiff:
    ok: bool
    worst: float  # the largest difference, in the unit of the stage's main tolerance
    detail: str


def _shape_mismatch(golden: np.ndarray, got: np.ndarray) -> StageDiff | None:
    if golden.shape == got.shape:
        return None
    return StageDiff(False, float("inf"), f"shape {got.shape}, expected {golden.shape}")


def _max_abs(golden: np.ndarray, got: np.ndarray, limit: float, unit: str) -> StageDiff:
    bad = _shape_mismatch(golden, got)
    if bad:
        return bad
    if golden.size == 0:
        return StageDiff(True, 0.0, "empty, as expected")
    diff = np.abs(golden.astype(np.float64) - got.astype(np.float64))
    if not np.all(np.isfinite(got)):
        where = np.unravel_index(int(np.argmin(np.isfinite(got))), got.shape)
        return StageDiff(False, float("inf"), f"non-finite value at index {tuple(int(i) for i in where)}")
    where = np.unravel_index(int(np.argmax(diff)), diff.shape)
    worst = float(diff[where])
    index = tuple(int(i) for i in where)
    return StageDiff(worst <= limit, worst,
                     f"max |diff| {worst:.3g}{unit} at index {index} (golden {golden[where]:.6g}, "
                     f"got {got[where]:.6g}; tolerance {limit:g}{unit})")


def compare_levels(stage: Stage, golden: np.ndarray, got: np.ndarray) -> StageDiff:
    bad = _shape_mismatch(golden, got)
    if bad:
        return StageDiff(False, bad.worst, f"{bad.detail}: {len(got)} level(s), expected {len(golden)}")
    sizes = got[:, 1:] != golden[:, 1:]
    if sizes.any():
        level = int(np.nonzero(sizes.any(axis=1))[0][0])
        return StageDiff(False, float("inf"), f"level {level} is {int(got[level, 1])}x{int(got[level, 2])} "
                         f"(h x w), expected {int(golden[level, 1])}x{int(golden[level, 2])}")
    return _max_abs(golden[:, :1], got[:, :1], stage.tolerance["scale"], "")


def _match_rows(golden: np.ndarray, got: np.ndarray) -> np.ndarray:
    """For each golden row, the index of the nearest unclaimed candidate row (by corners).

    Rows come sorted by score, and two nearly equal scores may swap places in a port
    without anything being wrong, so rows are paired by position, not by order.
    """
    distance = np.abs(golden[:, None, :4] - got[None, :, :4]).max(axis=2)
    order = np.argsort(distance.min(axis=1), kind="stable")
    claimed = np.zeros(len(got), bool)
    match = np.empty(len(golden), np.intp)
    for row in order:
        free = np.where(claimed, np.inf, distance[row])
        match[row] = int(np.argmin(free))
        claimed[match[row]] = True
    return match


def compare_boxes(stage: Stage, golden: np.ndarray, got: np.ndarray) -> StageDiff:
    if got.ndim != 2 or got.shape[1] != golden.shape[1]:
        return StageDiff(False, float("inf"), f"shape {got.shape}, expected (N, {golden.shape[1]}) "
                         f"with columns {', '.join(stage.columns)}")
    if len(got) != len(golden):
        return StageDiff(False, float("inf"), f"{len(got)} candidate(s), expected {len(golden)}")
    if len(golden) == 0:
        return StageDiff(True, 0.0, "no candidates, as expected")
    if not np.all(np.isfinite(got)):
        return StageDiff(False, float("inf"), "non-finite values")
    paired = got[_match_rows(golden, got)]
    px_limit, score_limit = stage.tolerance["px"], stage.tolerance["score"]
    position = [c for c in range(golden.shape[1]) if c != 4 and stage.columns[c] != "level"]
    px = np.abs(paired[:, position] - golden[:, position])
    score = np.abs(paired[:, 4] - golden[:, 4])
    row, col = np.unravel_index(int(np.argmax(px)), px.shape)
    worst_px, worst_score = float(px[row, col]), float(score.max())
    levels_ok = "level" not in stage.columns or np.array_equal(paired[:, 5], golden[:, 5])
    ok = worst_px <= px_limit and worst_score <= score_limit and levels_ok
    detail = (f"max corner/landmark diff {worst_px:.3g} px (row {int(row)}, {stage.columns[position[col]]}; "
              f"tolerance {px_limit:g}), max score diff {worst_score:.3g} (tolerance {score_limit:g})")
    if not levels_ok:
        detail += "; a box is attributed to another pyramid level"
    return StageDiff(ok, worst_px, detail)


def compare(stage: Stage, golden: np.ndarray, got: np.ndarray) -> StageDiff:
    if stage.kind == "levels":
        return compare_levels(stage, golden, got)
    if stage.kind == "boxes":
        return compare_boxes(stage, golden, got)
    unit = " grey levels" if stage.kind == "pixels" else ""
    return _max_abs(golden, got, stage.tolerance["abs"], unit)
