"""The three stages of the MTCNN cascade, one function each, on a uint8 RGB image.

Nets see normalised float input; the image stays uint8 and only the pyramid levels and
the patches are normalised (see pyramid.py and boxes.crop_patches).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .boxes import crop_patches, decode_landmarks, decode_pnet_cells, pnet_cells, refine, square
from .nets import LANDMARKS, PROBABILITY, REGRESSION, Net
from .nms import SCORE, nms, pnet_nms
from .profile import NoClock
from .pyramid import PyramidPlan
from .workspace import Workspace

# mtcnn 1.0.0's overlap thresholds: per pyramid level, across levels, after R-Net, after O-Net.
NMS_PNET_LEVEL = 0.5
NMS_PNET_ALL = 0.7
NMS_RNET = 0.7
NMS_ONET = 0.7
RNET_SIZE = 24
ONET_SIZE = 48
# Patch pixels cropped in one pass (256 R-Net or 64 O-Net patches): bounds the gather's
# index and float temporaries (~60 KB per 24-px patch) to ~16 MB on crowded, large
# images; a camera frame's candidates fit in one pass.
CROP_PIXELS = 256 * RNET_SIZE * RNET_SIZE
_NO_CLOCK = NoClock()


def run_pnet(pnet: Net, image: np.ndarray, plan: PyramidPlan, threshold: float, clock=_NO_CLOCK) -> np.ndarray:
    """Proposals from every pyramid level of ``plan``, merged and squared.

    The same steps as mtcnn (per level: candidates, sorted, NMS at NMS_PNET_LEVEL; then NMS
    at NMS_PNET_ALL over every level's survivors, squared), with each level's cells only
    picked out as its P-Net output comes, and the boxes of all levels decoded and
    suppressed together afterwards: a few dozen numpy calls a frame instead of a few
    dozen a level.
    """
    cells, scales = [], []
    for scale, level in plan.scan(image):
        clock.lap("pyramid")
        out = pnet.run(level)
        clock.lap("pnet")
        found = pnet_cells(out[REGRESSION][0], out[PROBABILITY][0], threshold)
        if found is not None:
            cells.append(found)
            scales.append(scale)
        clock.lap("pnet post")
    if not cells:
        return np.empty((0, 5))
    cands = decode_pnet_cells(cells, scales)
    cands = square(pnet_nms(cands, [len(c[0]) for c in cells], NMS_PNET_LEVEL, NMS_PNET_ALL))
    clock.lap("pnet post")
    return cands


def _run_on_patches(net: Net, image: np.ndarray, cands: np.ndarray, size: int, name: str, clock,
                    work: Optional[Workspace]) -> dict[int, np.ndarray]:
    parts = []
    chunk = max(1, CROP_PIXELS // (size * size))
    for i in range(0, len(cands), chunk):
        patches = crop_patches(image, cands[i:i + chunk], size, work)
        clock.lap(f"{name} crop")
        parts.append(net.run_batch(patches))
        clock.lap(name)
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}


def run_rnet(rnet: Net, image: np.ndarray, cands: np.ndarray, threshold: float, clock=_NO_CLOCK,
             work: Optional[Workspace] = None) -> np.ndarray:
    """Re-score and refine P-Net's proposals on 24x24 patches; survivors squared."""
    clock.count("rnet", len(cands))
    if len(cands) == 0:
        return cands
    out = _run_on_patches(rnet, image, cands, RNET_SIZE, "rnet", clock, work)
    cands = cands.copy()
    cands[:, SCORE] = out[PROBABILITY][:, 1]
    cands = refine(cands, out[REGRESSION])
    cands = cands[cands[:, SCORE] > threshold]
    cands = square(nms(cands, NMS_RNET, "union"))
    clock.lap("rnet post")
    return cands


def run_onet(onet: Net, image: np.ndarray, cands: np.ndarray, threshold: float, clock=_NO_CLOCK,
             work: Optional[Workspace] = None) -> np.ndarray:
    """Final boxes and landmarks from 48x48 patches: rows x1,y1,x2,y2,score, x1..x5, y1..y5."""
    clock.count("onet", len(cands))
    if len(cands) == 0:
        return np.empty((0, 15))
    out = _run_on_patches(onet, image, cands, ONET_SIZE, "onet", clock, work)
    # Landmarks are relative to the box O-Net saw, not to its refined box.
    points = decode_landmarks(out[LANDMARKS], cands)
    cands = cands.copy()
    cands[:, SCORE] = out[PROBABILITY][:, 1]
    cands = refine(cands, out[REGRESSION])
    cands = np.concatenate([cands, points[:, :, 0], points[:, :, 1]], axis=1)
    cands = cands[cands[:, SCORE] > threshold]
    # "min" overlap drops a small box lying inside a bigger, better one.
    cands = nms(cands, NMS_ONET, "min")
    clock.lap("onet post")
    return cands
