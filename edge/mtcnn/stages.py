"""The three stages of the MTCNN cascade, one function each, on a normalised RGB image."""

from __future__ import annotations

import numpy as np

from .boxes import crop_patches, decode_landmarks, pnet_candidates, refine, square
from .nets import LANDMARKS, PROBABILITY, REGRESSION, Net
from .nms import SCORE, nms
from .pyramid import resize_area

# mtcnn 1.0.0's overlap thresholds: per pyramid level, across levels, after R-Net, after O-Net.
NMS_PNET_LEVEL = 0.5
NMS_PNET_ALL = 0.7
NMS_RNET = 0.7
NMS_ONET = 0.7
RNET_SIZE = 24
ONET_SIZE = 48
# Candidates per R-/O-Net call: bounds patch memory on crowded, large images.
MAX_BATCH = 512


def run_pnet(pnet: Net, image: np.ndarray, levels: list, threshold: float) -> np.ndarray:
    """Proposals from every pyramid level, merged and squared.  ``levels``: [(scale, (h, w))]."""
    found = []
    for scale, size in levels:
        out = pnet.run(resize_area(image, size)[None])
        cands = pnet_candidates(out[REGRESSION][0], out[PROBABILITY][0], scale, threshold)
        found.append(nms(cands, NMS_PNET_LEVEL, "union", presorted=True))
    if not found:
        return np.empty((0, 5))
    cands = nms(np.concatenate(found, axis=0), NMS_PNET_ALL, "union")
    return square(cands)


def _run_batched(net: Net, image: np.ndarray, cands: np.ndarray, size: int) -> dict[int, np.ndarray]:
    parts = [net.run(crop_patches(image, cands[i:i + MAX_BATCH], size)) for i in range(0, len(cands), MAX_BATCH)]
    return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}


def run_rnet(rnet: Net, image: np.ndarray, cands: np.ndarray, threshold: float) -> np.ndarray:
    """Re-score and refine P-Net's proposals on 24x24 patches; survivors squared."""
    if len(cands) == 0:
        return cands
    out = _run_batched(rnet, image, cands, RNET_SIZE)
    cands = cands.copy()
    cands[:, SCORE] = out[PROBABILITY][:, 1]
    cands = refine(cands, out[REGRESSION])
    cands = cands[cands[:, SCORE] > threshold]
    return square(nms(cands, NMS_RNET, "union"))


def run_onet(onet: Net, image: np.ndarray, cands: np.ndarray, threshold: float) -> np.ndarray:
    """Final boxes and landmarks from 48x48 patches: rows x1,y1,x2,y2,score, x1..x5, y1..y5."""
    if len(cands) == 0:
        return np.empty((0, 15))
    out = _run_batched(onet, image, cands, ONET_SIZE)
    # Landmarks are relative to the box O-Net saw, not to its refined box.
    points = decode_landmarks(out[LANDMARKS], cands)
    cands = cands.copy()
    cands[:, SCORE] = out[PROBABILITY][:, 1]
    cands = refine(cands, out[REGRESSION])
    cands = np.concatenate([cands, points[:, :, 0], points[:, :, 1]], axis=1)
    cands = cands[cands[:, SCORE] > threshold]
    # "min" overlap drops a small box lying inside a bigger, better one.
    return nms(cands, NMS_ONET, "min")
