"""`fakeface generalise twins`: the fake sources that have a real twin from the same pipeline
(StyleGAN1 vs FFHQ-140k, StyleGAN2 vs FFHQ-128) next to the style-separable ones
(generated-photos, boredhumans vs all reals), so one overall AUC cannot hide a twin at chance level.

:func:`twin_rates` is the short form ``fakeface train`` writes into metrics.json.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..data.layout import TWIN_PAIRS, scan_folder, select_split
from .common import comparisons, error_bars, format_number as _f, rates_at, score_crop_split, score_samples, slice_mask
from .metrics import auc_interval, format_interval, json_safe, rate_interval, roc_auc, threshold_for_real_acceptance

TWIN_REAL_ACCEPTANCE = 0.95  # the twins are compared where 95 % of real faces are accepted


@dataclass
class ComparisonRow:
    """One fake source against one set of reals."""

    kind: str  # "twin" (same pipeline), "style" (separable by look), "overall"
    fake: str
    reals: str
    n_fake: int
    n_real: int
    auc: float
    accuracy: float  # at the model's threshold, over these fakes and reals
    balanced_accuracy: float
    fakes_caught: float  # at the model's threshold
    threshold_095: float  # accepts 95% of these reals on the calibration split
    fakes_caught_095: float
    reals_accepted_095: float
    auc_ci: Optional[tuple] = None  # 95 % bootstrap interval
    fakes_caught_095_ci: Optional[tuple] = None  # 95 % Wilson interval


@dataclass
class TwinsReport:
    model: str
    crops: str
    split: str
    threshold: float
    calibration_split: str
    rows: list

    def to_json(self) -> dict:
        return json_safe({k: v for k, v in asdict(self).items()})

    def to_markdown(self) -> str:
        head = (f"Twins vs style-separable sources: {self.model} on {self.crops}, split {self.split}.  "
                f"Accuracy and 'caught' at the model threshold {self.threshold:.4g}; '@95' = threshold that "
                f"accepts 95% of the same reals on the {self.calibration_split} split, applied to {self.split}.  "
                f"[brackets]: 95 % intervals (AUC: bootstrap; caught: Wilson), wide for the small twins.\n\n")
        rows = ["| kind | fake source | vs reals | n fake | n real | AUC | accuracy | balanced | caught | "
                "caught @95 | reals accepted @95 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            rows.append(f"| {r.kind} | {r.fake} | {r.reals} | {r.n_fake} | {r.n_real} | "
                        f"{format_interval(r.auc, r.auc_ci)} | {_f(r.accuracy)} | {_f(r.balanced_accuracy)} | "
                        f"{_f(r.fakes_caught)} | {format_interval(r.fakes_caught_095, r.fakes_caught_095_ci)} | "
                        f"{_f(r.reals_accepted_095)} |")
        return head + "\n".join(rows)


def twins_report(model_path, crops_dir, split: str = "test", threshold: Optional[float] = None,
                 backend: str = "auto", batch_size: int = 64, progress: bool = True) -> TwinsReport:
    ev = score_crop_split(model_path, crops_dir, split, backend, batch_size, progress)
    # Thresholds for 95% real acceptance come from another split than the one measured
    # (validation, or train when validation is what is measured), never from the measured one.
    cal_split = "val" if split != "val" else "train"
    cal_samples = select_split(scan_folder(crops_dir, cropped=True), cal_split)
    cal_samples = [s for s in cal_samples if s.label == 0]
    cal_cs, cal_p, _ = score_samples(ev.contract, ev.score, cal_samples, batch_size, progress, crops_dir)
    t_model = ev.contract.threshold if threshold is None else float(threshold)
    y, p, src = ev.crops.labels, ev.scores, np.asarray(ev.crops.sources)
    cal_src = np.asarray(cal_cs.sources)
    rows = []
    for kind, fake, reals in comparisons(set(src.tolist())):
        m = slice_mask(src, y, fake, reals)
        cal_real = cal_p if reals == "all reals" else cal_p[cal_src == reals]
        t95 = threshold_for_real_acceptance(cal_real, TWIN_REAL_ACCEPTANCE) if len(cal_real) else float("nan")
        caught, accepted = rates_at(y[m], p[m], t_model)
        caught95, accepted95 = rates_at(y[m], p[m], t95) if np.isfinite(t95) else (float("nan"), float("nan"))
        pred = p[m] >= t_model
        n_fake = int((y[m] == 1).sum())
        caught95_ci = (rate_interval(int((p[m][y[m] == 1] >= t95).sum()), n_fake) if np.isfinite(t95) else None)
        rows.append(ComparisonRow(
            kind=kind, fake=fake, reals=reals, n_fake=n_fake, n_real=int((y[m] == 0).sum()),
            auc=roc_auc(y[m], p[m]), accuracy=float((pred == (y[m] == 1)).mean()),
            balanced_accuracy=float(np.nanmean([caught, accepted])), fakes_caught=caught,
            threshold_095=t95, fakes_caught_095=caught95, reals_accepted_095=accepted95,
            auc_ci=auc_interval(y[m], p[m]), fakes_caught_095_ci=caught95_ci))
    return TwinsReport(model=str(model_path), crops=str(crops_dir), split=split, threshold=t_model,
                       calibration_split=cal_split, rows=rows)


def twin_rates(val_scores, val_sources, test_labels, test_scores, test_sources,
               real_acceptance: float = TWIN_REAL_ACCEPTANCE) -> dict:
    """For each fake source with a real twin: AUC against the twin on test, and fakes caught at the
    threshold where the twin's validation reals are accepted at ``real_acceptance`` (metrics.json's "twins")."""
    out = {}
    vs, ts = np.asarray(val_sources), np.asarray(test_sources)
    y, p = np.asarray(test_labels), np.asarray(test_scores)
    for fake, real in TWIN_PAIRS.items():
        if not ((ts == fake).any() and (ts == real).any() and (vs == real).any()):
            continue
        t = threshold_for_real_acceptance(np.asarray(val_scores)[vs == real], real_acceptance)
        m = slice_mask(ts, y, fake, real)
        caught, accepted = rates_at(y[m], p[m], t)
        out[f"{fake} vs {real}"] = {"auc": roc_auc(y[m], p[m]), "threshold": t,
                                    "fakes_caught": caught, "reals_accepted": accepted}
    return json_safe(out)  # a rate or AUC of an empty slice is null, not NaN


def plot_twins(report: TwinsReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    rows = report.rows
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.2))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r.auc for r in rows], 0.4, label="ROC AUC", yerr=error_bars([r.auc for r in rows],
           [r.auc_ci for r in rows]), capsize=3)
    ax.bar(x + 0.2, [r.fakes_caught_095 for r in rows], 0.4, label="fakes caught @ 95% reals accepted",
           yerr=error_bars([r.fakes_caught_095 for r in rows], [r.fakes_caught_095_ci for r in rows]), capsize=3)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, [f"{r.kind}\n{r.fake.split('/')[-1]}\nvs {r.reals.split('/')[-1]}" for r in rows], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"twins vs style-separable sources ({report.split})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(plt, fig, path)
