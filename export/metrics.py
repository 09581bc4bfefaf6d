"""Binary classification metrics in plain numpy (the export layer must not need scikit-learn)."""

from __future__ import annotations

from typing import Optional

import numpy as np


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(y == pred)) if len(y) else float("nan")


def balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    """Mean of per-class recall over the classes present."""
    recalls = [float(np.mean(pred[y == c] == c)) for c in (0, 1) if np.any(y == c)]
    return float(np.mean(recalls)) if recalls else float("nan")


def roc_auc(y: np.ndarray, score: np.ndarray) -> Optional[float]:
    """Area under the ROC curve via the rank-sum (Mann-Whitney U) identity; ties count half.

    None when only one class is present (the AUC is undefined then).
    """
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    n_pos, n_neg = int(np.sum(y == 1)), int(np.sum(y == 0))
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # Average ranks over tied groups.
    i = 0
    while i < len(score):
        j = i
        while j + 1 < len(score) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    u = ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))
