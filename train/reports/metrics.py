"""Classification metrics in plain numpy (no scikit-learn dependency).

Convention everywhere: label 1 = fake, score = fake probability, and a face is called
fake when ``score >= threshold``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from statistics import NormalDist
from typing import Optional, Sequence

import numpy as np

# One rule for NaN in every JSON the project writes (null); re-exported for the reports.
from fakeface.edge.strict_json import json_safe  # noqa: F401


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


def bootstrap_aucs(labels: np.ndarray, *score_sets: np.ndarray, rounds: int = 1000, seed: int = 0) -> np.ndarray:
    """ROC AUCs over ``rounds`` bootstrap resamples, shape (len(score_sets), rounds).

    Fakes and reals are resampled separately, so every round keeps the class sizes, and all
    score sets (several models scoring the same faces) share each round's resample, so their
    differences are paired.  NaN rows if a class is empty."""
    labels = np.asarray(labels).astype(bool)
    fake_idx, real_idx = np.nonzero(labels)[0], np.nonzero(~labels)[0]
    out = np.full((len(score_sets), rounds), np.nan)
    if len(fake_idx) == 0 or len(real_idx) == 0:
        return out
    sets = [np.asarray(s, np.float64) for s in score_sets]
    rng = np.random.default_rng(seed)
    for i in range(rounds):
        fi = fake_idx[rng.integers(0, len(fake_idx), len(fake_idx))]
        ri = real_idx[rng.integers(0, len(real_idx), len(real_idx))]
        for k, scores in enumerate(sets):
            f, r = scores[fi], np.sort(scores[ri])
            below = np.searchsorted(r, f, side="left")  # reals scored lower than each fake
            ties = np.searchsorted(r, f, side="right") - below
            out[k, i] = (below + 0.5 * ties).sum() / (len(f) * len(r))
    return out


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The central ``level`` share of bootstrap samples; (NaN, NaN) if there are none."""
    samples = np.asarray(samples, np.float64)
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100
    lo, hi = np.percentile(samples, [tail, 100 - tail])
    return float(lo), float(hi)


def auc_interval(labels: np.ndarray, scores: np.ndarray, level: float = 0.95, rounds: int = 1000,
                 seed: int = 0) -> tuple[float, float]:
    """A 95 % (``level``) bootstrap confidence interval for :func:`roc_auc` (percentile method).

    With the ~90 faces of a small source the interval is several points wide, which is what a
    reader comparing two models on it needs to know.  (NaN, NaN) if a class is empty."""
    return percentile_interval(bootstrap_aucs(labels, scores, rounds=rounds, seed=seed)[0], level)


def rate_interval(hits: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion such as an accuracy or a catch rate (``hits`` may
    be fractional: a rate counted by person is ``rate * people`` of ``people``; it stays
    sensible at 0 and n hits, where the normal approximation shrinks to a point); (NaN, NaN)
    when n is 0."""
    if n <= 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    lo = 0.0 if hits == 0 else max(0.0, centre - half)
    hi = 1.0 if hits == n else min(1.0, centre + half)
    return float(lo), float(hi)


def format_interval(value: float, ci, digits: int = 3) -> str:
    """``0.967 [0.958, 0.975]``; the value alone when there is no interval."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if not ci or ci[0] is None or any(isinstance(c, float) and math.isnan(c) for c in ci):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


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


def threshold_for_fake_catch(fake_scores: np.ndarray, share: float) -> float:
    """The highest threshold at which at least ``share`` of the fake faces are still caught.

    Fake faces with ``score >= threshold`` are caught.  The ceil(share * n)-th highest fake
    score must stay at or above the threshold and the next lower one may fall below it, so,
    as in :func:`threshold_for_real_acceptance`, the threshold goes halfway between the two
    and a hair of export round-off cannot flip a calibration face.  With every fake caught
    (``share`` 1) it sits just below the lowest fake score.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"fake catch share must be in (0, 1], got {share}")
    s = np.sort(np.asarray(fake_scores, np.float64))[::-1]
    if len(s) == 0:
        raise ValueError("no fake faces to calibrate on")
    k = min(len(s), max(1, math.ceil(share * len(s) - 1e-9)))
    last = s[k - 1]
    below = s[k:][s[k:] < last]
    t = (last + below[0]) / 2.0 if len(below) else float(np.nextafter(np.float32(last), np.float32(-1.0)))
    return float(max(min(t, last), 0.0))


def threshold_for_every_source(real_scores: np.ndarray, real_sources, target: float,
                               min_faces: int) -> tuple[float, str]:
    """The lowest threshold at which at least ``target`` of the real faces of every source
    folder with ``min_faces`` or more faces are called real, and of all of them pooled
    (sources below ``min_faces`` count only in the pool: a handful of faces cannot set a
    threshold).  Returns (threshold, the source that set it, or "all reals")."""
    scores = np.asarray(real_scores, np.float64)
    sources = np.asarray(real_sources)
    best, binding = threshold_for_real_acceptance(scores, target), "all reals"
    for src in sorted(set(sources.tolist())):
        mine = scores[sources == src]
        if len(mine) >= min_faces:
            t = threshold_for_real_acceptance(mine, target)
            if t > best:
                best, binding = t, src
    return best, binding


def least_accepted_source(real_scores: np.ndarray, real_sources, threshold: float,
                          min_faces: int) -> tuple[str, float]:
    """The real source folder (of those with ``min_faces`` or more faces; any, when none has)
    whose faces score below ``threshold`` least often, and that share."""
    scores, sources = np.asarray(real_scores), np.asarray(real_sources)
    names = sorted(set(sources.tolist()))
    big = [s for s in names if (sources == s).sum() >= min_faces] or names
    rates = {s: float((scores[sources == s] < threshold).mean()) for s in big}
    worst = min(big, key=rates.get)
    return worst, rates[worst]


@dataclass
class SourceResult:
    n: int
    accuracy: float
    mean_fake_probability: float
    accuracy_ci: Optional[tuple] = None  # 95 % Wilson interval
    # Where file names number people (near-duplicate webcam frames): each person counts once.
    people: Optional[int] = None
    accuracy_by_person: Optional[float] = None
    accuracy_by_person_ci: Optional[tuple] = None  # Wilson over the people


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
    roc_auc_ci: Optional[tuple] = None  # 95 % bootstrap interval
    # 95 % Wilson intervals; balanced accuracy's is the mean of its two rates' bounds (conservative)
    accuracy_ci: Optional[tuple] = None
    balanced_accuracy_ci: Optional[tuple] = None
    fakes_caught_ci: Optional[tuple] = None
    reals_accepted_ci: Optional[tuple] = None

    def to_json(self) -> dict:
        d = asdict(self)
        return json_safe(d)

    def markdown_table(self) -> str:
        rows = ["| | value [95 % interval] |", "|---|---|"]
        intervals = {"roc_auc": self.roc_auc_ci, "accuracy": self.accuracy_ci,
                     "balanced_accuracy": self.balanced_accuracy_ci, "fakes_caught": self.fakes_caught_ci,
                     "reals_accepted": self.reals_accepted_ci}
        for k in ("n", "accuracy", "balanced_accuracy", "roc_auc", "fakes_caught", "reals_accepted", "threshold"):
            v = getattr(self, k)
            text = format_interval(v, intervals.get(k), 4) if isinstance(v, float) else str(v)
            rows.append(f"| {k.replace('_', ' ')} | {text} |")
        rows += ["", "| source | n | accuracy [95 % interval] | mean fake probability |", "|---|---|---|---|"]
        for src, r in sorted(self.per_source.items(), key=lambda kv: kv[0]):
            r = r if isinstance(r, dict) else asdict(r)
            by_person = ("" if r.get("people") is None else
                         f"; by person {format_interval(r['accuracy_by_person'], r['accuracy_by_person_ci'], 4)} "
                         f"of {r['people']}")
            rows.append(f"| {src} | {r['n']} | {format_interval(r['accuracy'], r.get('accuracy_ci'), 4)}{by_person} | "
                        f"{r['mean_fake_probability']:.3f} |")
        return "\n".join(rows)


def classification_report(labels: Sequence[int], scores: Sequence[float], threshold: float = 0.5,
                          sources: Optional[Sequence[str]] = None,
                          people: Optional[Sequence[Optional[str]]] = None) -> ClassificationReport:
    """``people``: the person of each face or None (``layout.person_of``); a source whose faces
    name people also gets its accuracy counted by person."""
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
            right = int((pred[m] == y[m]).sum())
            per_source[name] = SourceResult(n=int(m.sum()), accuracy=right / int(m.sum()),
                                            mean_fake_probability=float(p[m].mean()),
                                            accuracy_ci=rate_interval(right, int(m.sum())))
            who = [people[i] for i in np.flatnonzero(m)] if people is not None else []
            if who and all(w is not None for w in who):
                rate, groups = rate_by_group(pred[m] == y[m], who)
                per_source[name].people, per_source[name].accuracy_by_person = groups, rate
                per_source[name].accuracy_by_person_ci = rate_interval(rate * groups, groups)
    caught_ci, accepted_ci = rate_interval(tp, n_fake), rate_interval(tn, n_real)
    return ClassificationReport(
        n=len(y), n_real=n_real, n_fake=n_fake, threshold=float(threshold),
        accuracy=float((pred == y).mean()) if len(y) else float("nan"), balanced_accuracy=bal,
        roc_auc=roc_auc(y, p), fakes_caught=tpr, reals_accepted=tnr,
        confusion=[[tn, fp], [fn, tp]], per_source=per_source, roc_auc_ci=auc_interval(y, p),
        accuracy_ci=rate_interval(tp + tn, len(y)), fakes_caught_ci=caught_ci, reals_accepted_ci=accepted_ci,
        balanced_accuracy_ci=(float(np.mean([caught_ci[0], accepted_ci[0]])),
                              float(np.mean([caught_ci[1], accepted_ci[1]]))))


def rate_by_group(hits, groups) -> tuple[float, int]:
    """The share of ``hits`` (booleans, one per face) counted by group: each group's own
    share, averaged over groups, so 40 near-identical frames of one person count once.
    Returns (rate, number of groups); (NaN, 0) when there are no faces.  Where every face is
    its own group this is the plain share."""
    hits, groups = np.asarray(hits, bool), np.asarray(groups)
    if len(hits) == 0:
        return float("nan"), 0
    names, index = np.unique(groups, return_inverse=True)
    per_group = np.bincount(index, weights=hits.astype(np.float64)) / np.bincount(index)
    return float(per_group.mean()), int(len(names))
