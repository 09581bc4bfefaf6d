"""`fakeface generalise perturb`: AUC after JPEG re-encoding, rescaling, blur and small crops/shifts.

:func:`robustness_summary` is the short form ``fakeface train`` writes into metrics.json
(JPEG quality 70 and a 0.5x rescale of the test crops).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from fakeface.edge.contract import ModelContract, in_model_colour_order
from fakeface.edge.errors import FakeFaceError

from .common import ScoredSplit, format_number as _f, rates_at, score_crop_split
from .metrics import json_safe, roc_auc
from .perturbations import PERTURBATIONS
from .scoring import score_batches

ROBUSTNESS_PERTURBATIONS = ("jpeg_q70", "rescale_0.5x")  # what metrics.json's "robustness_test" holds


@dataclass
class PerturbRow:
    name: str
    description: str
    auc: float
    auc_change: float  # perturbed - clean: negative is worse
    fakes_caught: float  # at the model's threshold
    reals_accepted: float
    mean_score_change: float  # mean fake probability, perturbed - clean


@dataclass
class PerturbReport:
    model: str
    crops: str
    split: str
    threshold: float
    n_real: int
    n_fake: int
    clean_auc: float
    clean_fakes_caught: float
    clean_reals_accepted: float
    rows: list

    def to_json(self) -> dict:
        return json_safe(asdict(self))

    def to_markdown(self) -> str:
        head = (f"Perturbations: {self.model} on {self.crops}, split {self.split} ({self.n_real} real, "
                f"{self.n_fake} fake crops); caught/accepted at the model threshold {self.threshold:.4g}.\n\n")
        rows = ["| perturbation | AUC | AUC change | fakes caught | reals accepted | mean score change |",
                "|---|---|---|---|---|---|",
                f"| clean | {_f(self.clean_auc, 4)} | – | {_f(self.clean_fakes_caught)} | "
                f"{_f(self.clean_reals_accepted)} | – |"]
        for r in self.rows:
            rows.append(f"| {r.name}: {r.description} | {_f(r.auc, 4)} | {r.auc_change:+.4f} | {_f(r.fakes_caught)} | "
                        f"{_f(r.reals_accepted)} | {r.mean_score_change:+.3f} |")
        return head + "\n".join(rows)


def perturbed_scores(score: Callable, images: np.ndarray, names, batch_size: int = 64, progress: bool = False,
                     contract: Optional[ModelContract] = None) -> Iterator[tuple[str, np.ndarray]]:
    """(name, fake probabilities) for each perturbation of the RGB crops ``images``; with a
    ``contract``, the perturbed crops are handed to ``score`` in the model's colour order."""
    from tqdm import tqdm

    for name in tqdm(names, desc="perturb", unit="perturbation", disable=not progress):
        changed = PERTURBATIONS[name][1](images)  # perturbed in RGB, the order the crops are stored in
        if contract is not None:
            changed = in_model_colour_order(changed, contract)
        yield name, score_batches(score, changed, batch_size)


def perturb_scored(ev: ScoredSplit, threshold: float, batch_size: int = 64, progress: bool = True,
                   names: Optional[list] = None) -> tuple[float, float, float, list]:
    y, clean = ev.crops.labels, ev.scores
    clean_auc = roc_auc(y, clean)
    rows = []
    for name, p in perturbed_scores(ev.score, ev.crops.images, names or list(PERTURBATIONS), batch_size, progress,
                                    ev.contract):
        auc = roc_auc(y, p)
        caught, accepted = rates_at(y, p, threshold)
        rows.append(PerturbRow(name=name, description=PERTURBATIONS[name][0], auc=auc, auc_change=auc - clean_auc,
                               fakes_caught=caught, reals_accepted=accepted,
                               mean_score_change=float(np.mean(p - clean))))
    caught, accepted = rates_at(y, clean, threshold)
    return clean_auc, caught, accepted, rows


def perturb_report(model_path, crops_dir, split: str = "test", threshold: Optional[float] = None,
                   backend: str = "auto", batch_size: int = 64, progress: bool = True) -> PerturbReport:
    ev = score_crop_split(model_path, crops_dir, split, backend, batch_size, progress)
    y = ev.crops.labels
    if not ((y == 0).any() and (y == 1).any()):
        raise FakeFaceError(f"{crops_dir}: split {split} needs both real and fake crops for an AUC")
    t = ev.contract.threshold if threshold is None else float(threshold)
    clean_auc, caught, accepted, rows = perturb_scored(ev, t, batch_size, progress)
    return PerturbReport(model=str(model_path), crops=str(crops_dir), split=split, threshold=t,
                         n_real=int((y == 0).sum()), n_fake=int((y == 1).sum()), clean_auc=clean_auc,
                         clean_fakes_caught=caught, clean_reals_accepted=accepted, rows=rows)


def robustness_summary(score: Callable, images: np.ndarray, labels: np.ndarray, clean_scores: np.ndarray,
                       batch_size: int = 128) -> dict:
    """AUC clean and under JPEG quality 70 and a 0.5x rescale, and the drop (clean - perturbed)."""
    clean = roc_auc(labels, clean_scores)
    out = {"clean_auc": clean}
    for name, p in perturbed_scores(score, images, ROBUSTNESS_PERTURBATIONS, batch_size):
        auc = roc_auc(labels, p)
        out[name] = {"auc": auc, "drop": clean - auc}
    return json_safe(out)  # an undefined AUC is null, not NaN


def plot_perturb(report: PerturbReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    names = ["clean"] + [r.name for r in report.rows]
    aucs = [report.clean_auc] + [r.auc for r in report.rows]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names)), 4))
    bars = ax.bar(names, aucs, color=["tab:green"] + ["tab:blue"] * len(report.rows))
    for b, r in zip(bars[1:], report.rows):
        ax.text(b.get_x() + b.get_width() / 2, b.get_height() + 0.005, f"{r.auc_change:+.3f}",
                ha="center", fontsize=8)
    ax.axhline(report.clean_auc - 0.03, color="tab:red", ls="--", lw=1, label="clean - 0.03")
    low = min(a for a in aucs if np.isfinite(a)) if any(np.isfinite(a) for a in aucs) else 0.5
    ax.set_ylim(max(0.0, min(low, report.clean_auc - 0.03) - 0.05), 1.0)
    ax.set_ylabel("ROC AUC")
    ax.set_title(f"AUC under perturbations ({report.split}, labels: change from clean)")
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(plt, fig, path)
