"""`fakeface evaluate A DATA --compare B`: is B really better than A on these faces?

Two models scored on the same faces differ by a few thousandths of AUC from run to run, and
a small source (the 140k twins: ~90 faces a side per split) moves by several points between
splits.  Comparing two numbers that each carry their own interval overstates the noise; the
paired bootstrap resamples the faces once per round and scores both models on that resample,
so what the two have in common cancels.  An interval of B - A that excludes 0 is a
difference these faces can tell; one that straddles 0 is not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from fakeface.edge.errors import FakeFaceError

from .common import comparisons, slice_mask
from .metrics import bootstrap_aucs, format_interval, json_safe, percentile_interval, roc_auc


@dataclass
class SliceComparison:
    """AUC of both models on one set of fakes against one set of reals."""

    fakes: str  # "all fakes" or a source folder
    reals: str  # "all reals" or a source folder (a twin)
    n_fake: int
    n_real: int
    auc_a: float
    auc_b: float
    difference: float  # auc_b - auc_a
    difference_ci: tuple  # 95 % paired bootstrap interval

    @property
    def verdict(self) -> str:
        lo, hi = self.difference_ci
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return "-"
        if lo > 0:
            return "B better"
        if hi < 0:
            return "A better"
        return "no clear difference"


@dataclass
class ModelComparison:
    model_a: str
    model_b: str
    data: str
    split: str
    n_matched: int  # faces scored by both models
    slices: list

    def to_json(self) -> dict:
        return json_safe({**asdict(self), "slices": [{**asdict(s), "verdict": s.verdict} for s in self.slices]})

    def to_markdown(self) -> str:
        head = (f"Paired comparison on {self.n_matched} faces of {self.data} (split {self.split}): "
                f"A = {self.model_a}, B = {self.model_b}.  B - A with its 95 % paired bootstrap interval; "
                f"'no clear difference' when the interval contains 0.\n\n")
        rows = ["| fakes | vs reals | n fake | n real | AUC A | AUC B | B - A [95 % interval] | verdict |",
                "|---|---|---|---|---|---|---|---|"]
        for s in self.slices:
            rows.append(f"| {s.fakes} | {s.reals} | {s.n_fake} | {s.n_real} | {s.auc_a:.4f} | {s.auc_b:.4f} | "
                        f"{format_interval(s.difference, s.difference_ci, 4)} | {s.verdict} |")
        return head + "\n".join(rows)


def paired_scores(a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, sources, scores of A, scores of B) for the faces both ScoredFaces contain,
    matched by path (each model crops with its own geometry; a photo one model found no
    face in is left out of both)."""
    index_b = {p: i for i, p in enumerate(b.paths)}
    ia, ib = [], []
    for i, p in enumerate(a.paths):
        j = index_b.get(p)
        if j is not None:
            ia.append(i)
            ib.append(j)
    ia, ib = np.array(ia, int), np.array(ib, int)
    if len(ia) and np.any(np.asarray(a.labels)[ia] != np.asarray(b.labels)[ib]):
        raise FakeFaceError("the two models' faces carry different labels for the same file")
    return (np.asarray(a.labels)[ia], np.asarray(a.sources, dtype=object)[ia],
            np.asarray(a.scores)[ia], np.asarray(b.scores)[ib])


def compare_scores(labels, sources, scores_a, scores_b, rounds: int = 1000, seed: int = 0) -> list:
    labels, sources = np.asarray(labels), np.asarray(sources, dtype=object)
    out = []
    # the twins report's slices: each twin against its real twin, every fake source against all
    # reals, and all fakes against all reals
    for _kind, fakes, reals in comparisons(set(sources.tolist())):
        m = slice_mask(sources, labels, fakes, reals)
        y, pa, pb = labels[m], scores_a[m], scores_b[m]
        boot = bootstrap_aucs(y, pa, pb, rounds=rounds, seed=seed)
        auc_a, auc_b = roc_auc(y, pa), roc_auc(y, pb)
        out.append(SliceComparison(fakes=fakes, reals=reals, n_fake=int((y == 1).sum()), n_real=int((y == 0).sum()),
                                   auc_a=auc_a, auc_b=auc_b, difference=auc_b - auc_a,
                                   difference_ci=percentile_interval(boot[1] - boot[0])))
    return out


def compare_models(faces_a, model_a, model_b, data_dir, opts) -> ModelComparison:
    """Compare model A (already scored: ``faces_a``, e.g. ``EvaluationReport.faces``) with
    model B, scored here on the same ``data_dir`` with EvaluateOptions ``opts``."""
    from .scoring import score_folder

    _, faces_b = score_folder(model_b, data_dir, opts.split, opts.cropped, opts.detector, opts.backend,
                              opts.batch_size, opts.progress)
    labels, sources, pa, pb = paired_scores(faces_a, faces_b)
    if not ((labels == 0).any() and (labels == 1).any()):
        raise FakeFaceError(f"{data_dir}: the two models share no real and fake faces to compare on")
    return ModelComparison(model_a=str(model_a), model_b=str(model_b), data=str(data_dir), split=opts.split,
                           n_matched=int(len(labels)), slices=compare_scores(labels, sources, pa, pb))
