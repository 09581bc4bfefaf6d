"""How much a model's ROC AUC drops when test crops are re-compressed or rescaled.

The follow-up targets ask for an AUC drop of at most 0.03 under JPEG quality 70 and
under a 0.5x downscale (shrunk, then enlarged back to the input size).  Degrading the
crop rather than the whole photo is a close, cheap stand-in: the crop is what the
classifier sees, and the detector is not what is being tested here.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from .metrics import roc_auc


def jpeg(images: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(images)
    for i, img in enumerate(images):
        ok, buf = cv2.imencode(".jpg", img[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        out[i] = cv2.imdecode(buf, cv2.IMREAD_COLOR)[:, :, ::-1]
    return out


def rescale(images: np.ndarray, factor: float) -> np.ndarray:
    size = images.shape[1]
    small = max(2, int(round(size * factor)))
    out = np.empty_like(images)
    for i, img in enumerate(images):
        s = cv2.resize(img, (small, small), interpolation=cv2.INTER_AREA)
        out[i] = cv2.resize(s, (size, size), interpolation=cv2.INTER_LINEAR)
    return out


DEGRADATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "jpeg_q70": lambda x: jpeg(x, 70),
    "rescale_0.5x": lambda x: rescale(x, 0.5),
}


def robustness_report(predict: Callable[[np.ndarray], np.ndarray], images: np.ndarray, labels: np.ndarray,
                      clean_scores: np.ndarray) -> dict:
    """AUC clean and under each degradation, and the drop (clean - degraded)."""
    clean = roc_auc(labels, clean_scores)
    out = {"clean_auc": clean}
    for name, degrade in DEGRADATIONS.items():
        auc = roc_auc(labels, predict(degrade(images)))
        out[name] = {"auc": auc, "drop": clean - auc}
    return out
