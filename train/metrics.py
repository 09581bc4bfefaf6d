"""Classification metrics in plain numpy (no scikit-learn dependency).

Convention everywhere: label 1 = fake, score = fake probability, and a face is called
fake when ``score >= threshold``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Optional, Sequence

import numpy as np


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds), thresholds decreasing.

    Tied scores form one step, so the curve does not depend on the order of ties.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    distinct = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1] if len(s) else np.array([], int)
    tps = np.cumsum(y)[distinct]
    fps = np.cumsum(~y)[distinct]
    P, N = max(1, int(y.sum())), max(1, int((~y).sum()))
    tpr = np.r_[0.0, tps / P]
    fpr = np.r_[0.0, fps / N]
    thr = np.r_[np.inf, s[distinct]]
    return fpr, tpr, thr


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random fake scores above a random real.

    Computed from ranks (Mann-Whitney U) with ties counted half; NaN if a class is empty.
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, np.float64)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), np.float64)
    s = scores[order]
    # average ranks over runs of tied scores
    starts = np.r_[0, np.nonzero(np.diff(s))[0] + 1]
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each run
    ranks[order] = np.repeat(avg, ends - starts)
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def threshold_for_real_acceptance(real_scores: np.ndarray, target: float) -> float:
    """The threshold at which at least ``target`` of the real faces are called real.

    Real faces with ``score < threshold`` are accepted.  The ceil(target * n)-th lowest real
    score must be below the threshold and the next one may not be, so the threshold goes
    halfway between the two: it accepts the same calibration reals as any value in that
    gap, but a score a hair away from it (an fp16 or int8 export, another machine's float
    round-off) does not flip a calibration face, as a threshold right on a score would.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target real acceptance must be in (0, 1], got {target}")
    s = np.sort(np.asarray(real_scores, np.float64))
    if len(s) == 0:
        raise ValueError("no real faces to calibrate on")
    k = min(len(s), max(1, math.ceil(target * len(s) - 1e-9)))
    last = s[k - 1]
    above = s[k:][s[k:] > last]
    if len(above):
        t = (last + above[0]) / 2.0
    else:  # every real accepted: just above the highest score
        t = float(np.nextafter(np.float32(last), np.float32(2.0)))
    return float(min(max(t, np.nextafter(np.float32(last), np.float32(2.0))), 1.0 + 1e-6))


@dataclass
class SourceResult:
    n: int
    accuracy: float
    mean_fake_probability: float


@dataclass
class ClassificationReport:
    """How a model did on one set of faces at one threshold."""

    n: int
    n_real: int
    n_fake: int
    threshold: float
    accuracy: float
    balanced_accuracy: float
    roc_auc: float
    fakes_caught: float  # true positive rate
    reals_accepted: float  # true negative rate
    confusion: list  # [[real->real, real->fake], [fake->real, fake->fake]]
    per_source: dict = field(default_factory=dict)  # source -> SourceResult

    def to_json(self) -> dict:
        d = asdict(self)
        for k, v in list(d.items()):
            if isinstance(v, float) and math.isnan(v):
                d[k] = None
        return d

    def markdown_table(self) -> str:
        rows = ["| | value |", "|---|---|"]
        for k in ("n", "accuracy", "balanced_accuracy", "roc_auc", "fakes_caught", "reals_accepted", "threshold"):
            v = getattr(self, k)
            rows.append(f"| {k.replace('_', ' ')} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |")
        rows += ["", "| source | n | accuracy | mean fake probability |", "|---|---|---|---|"]
        for src, r in sorted(self.per_source.items(), key=lambda kv: kv[0]):
            r = r if isinstance(r, dict) else asdict(r)
            rows.append(f"| {src} | {r['n']} | {r['accuracy']:.4f} | {r['mean_fake_probability']:.3f} |")
        return "\n".join(rows)


def classification_report(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5,
                          sources: Optional[Sequence[str]] = None) -> ClassificationReport:
    y = np.asarray(labels).astype(int)
    p = np.asarray(scores, np.float64)
    pred = (p >= threshold).astype(int)
    n_real, n_fake = int((y == 0).sum()), int((y == 1).sum())
    tn = int(((y == 0) & (pred == 0)).sum())
    fp = int(((y == 0) & (pred == 1)).sum())
    fn = int(((y == 1) & (pred == 0)).sum())
    tp = int(((y == 1) & (pred == 1)).sum())
    tnr = tn / n_real if n_real else float("nan")
    tpr = tp / n_fake if n_fake else float("nan")
    bal = float(np.nanmean([tnr, tpr])) if (n_real or n_fake) else float("nan")
    per_source = {}
    if sources is not None:
        src = np.asarray(list(sources))
        for name in sorted(set(src.tolist())):
            m = src == name
            per_source[name] = SourceResult(n=int(m.sum()), accuracy=float((pred[m] == y[m]).mean()),
                                            mean_fake_probability=float(p[m].mean()))
    return ClassificationReport(
        n=len(y), n_real=n_real, n_fake=n_fake, threshold=float(threshold),
        accuracy=float((pred == y).mean()) if len(y) else float("nan"), balanced_accuracy=bal,
        roc_auc=roc_auc(y, p), fakes_caught=tpr, reals_accepted=tnr,
        confusion=[[tn, fp], [fn, tp]], per_source=per_source)
