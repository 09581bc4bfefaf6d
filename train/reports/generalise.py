"""`fakeface generalise`: does the classifier find fakes it was not trained on, and why?

Three reports, each a table (Markdown), JSON and a PNG bar chart:

- ``twins``: the fake sources that have a real twin from the same pipeline (StyleGAN1 vs
  FFHQ-140k, StyleGAN2 vs FFHQ-128) next to the style-separable ones (generated-photos,
  boredhumans vs all reals), so one overall AUC cannot hide a twin at chance level.
- ``perturb``: AUC after JPEG re-encoding, rescaling, blur and small crops/shifts.
- ``leave-one-out``: for each fake source, train without it (and without its real twin)
  and test on it: how well the detector meets an unseen generator.

All scoring goes through :mod:`.scoring` (any model format), all metrics through
:mod:`.metrics`, all training through :func:`.fit.train_run`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from fakeface.edge.atomic import write_text_atomic
from fakeface.edge.contract import ModelContract, in_model_colour_order
from fakeface.edge.errors import FakeFaceError

from ..data.dataset import CropSet, load_crops, model_pixels
from ..data.layout import CONTEXT_DIR, TWIN_PAIRS, Sample, scan_folder, select_split
from .metrics import auc_interval, format_interval, json_safe, rate_interval, roc_auc, threshold_for_real_acceptance
from .perturbations import PERTURBATIONS
from .scoring import score_batches, open_scorer
from ..models.architectures import DEFAULT_ARCH

TWIN_REAL_ACCEPTANCE = 0.95  # the twins are compared where 95 % of real faces are accepted


def _f(v, digits=3) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def _check_inputs(model_path=None, crops_dir=None) -> None:
    if model_path is not None and not Path(model_path).is_file():
        raise FakeFaceError(f"{model_path}: no such model file")
    if crops_dir is not None and not Path(crops_dir).is_dir():
        raise FakeFaceError(f"{crops_dir}: no such crop folder")


@dataclass
class ScoredSplit:
    """One split of a crop folder, loaded and scored by one model."""

    contract: ModelContract
    score: Callable[[np.ndarray], np.ndarray]  # float32 NHWC pixels -> fake probabilities
    crops: CropSet
    scores: np.ndarray
    unreadable: list = field(default_factory=list)


def score_samples(contract, score, samples: list[Sample], batch_size: int = 64, progress: bool = True,
                  where="crops") -> tuple[CropSet, np.ndarray, list]:
    cs, bad = load_crops(samples, progress=progress)
    pixels = model_pixels(cs, contract, where)
    return cs, score_batches(score, pixels, batch_size), bad


def score_crop_split(model_path, crops_dir, split: str, backend: str = "auto", batch_size: int = 64,
                     progress: bool = True) -> ScoredSplit:
    _check_inputs(model_path, crops_dir)
    contract, score = open_scorer(model_path, backend)
    samples = select_split(scan_folder(crops_dir, cropped=True), split)
    if not samples:
        raise FakeFaceError(f"{crops_dir}: no crops in split {split}")
    cs, scores, bad = score_samples(contract, score, samples, batch_size, progress, crops_dir)
    return ScoredSplit(contract, score, cs, scores, bad)


def _rates(labels, scores, threshold) -> tuple[float, float]:
    """(fakes caught, reals accepted) at ``threshold``; NaN for an empty class."""
    y, p = np.asarray(labels), np.asarray(scores)
    fake, real = p[y == 1], p[y == 0]
    return (float((fake >= threshold).mean()) if len(fake) else float("nan"),
            float((real < threshold).mean()) if len(real) else float("nan"))


# == twins =============================================================================
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


def comparisons(sources: set) -> list[tuple[str, str, str]]:
    """(kind, fake source, reals) rows: twins first, then the other fakes against all reals
    (a twin fake whose real twin is missing, too)."""
    fakes = sorted(s for s in sources if s.startswith("fake/"))
    rows = [("twin", f, TWIN_PAIRS[f]) for f in fakes if TWIN_PAIRS.get(f) in sources]
    rows += [("style", f, "all reals") for f in fakes if TWIN_PAIRS.get(f) not in sources]
    # A twin fake against all reals, too: that is the number an overall table would show.
    rows += [("twin vs all", f, "all reals") for f in fakes if TWIN_PAIRS.get(f) in sources]
    rows.append(("overall", "all fakes", "all reals"))
    return rows


def slice_mask(sources: np.ndarray, labels: np.ndarray, fake: str, reals: str) -> np.ndarray:
    fm = (labels == 1) if fake == "all fakes" else (sources == fake)
    rm = (labels == 0) if reals == "all reals" else (sources == reals)
    return fm | rm


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
        caught, accepted = _rates(y[m], p[m], t_model)
        caught95, accepted95 = _rates(y[m], p[m], t95) if np.isfinite(t95) else (float("nan"), float("nan"))
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


def _error_bars(values, intervals) -> np.ndarray:
    """matplotlib's (2, N) yerr from values and 95 % intervals; 0 where there is none."""
    err = np.zeros((2, len(values)))
    for i, (v, ci) in enumerate(zip(values, intervals)):
        if ci and v is not None and np.isfinite(v) and all(c is not None and np.isfinite(c) for c in ci):
            err[:, i] = [max(0.0, v - ci[0]), max(0.0, ci[1] - v)]
    return err


def plot_twins(report: TwinsReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    rows = report.rows
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(rows)), 4.2))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r.auc for r in rows], 0.4, label="ROC AUC", yerr=_error_bars([r.auc for r in rows],
           [r.auc_ci for r in rows]), capsize=3)
    ax.bar(x + 0.2, [r.fakes_caught_095 for r in rows], 0.4, label="fakes caught @ 95% reals accepted",
           yerr=_error_bars([r.fakes_caught_095 for r in rows], [r.fakes_caught_095_ci for r in rows]), capsize=3)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, [f"{r.kind}\n{r.fake.split('/')[-1]}\nvs {r.reals.split('/')[-1]}" for r in rows], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"twins vs style-separable sources ({report.split})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return save_figure(plt, fig, path)


# == perturbations =====================================================================
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


def perturb_scored(ev: ScoredSplit, threshold: float, batch_size: int = 64, progress: bool = True,
                   names: Optional[list] = None) -> tuple[float, float, float, list]:
    from tqdm import tqdm

    y, clean = ev.crops.labels, ev.scores
    clean_auc = roc_auc(y, clean)
    rows = []
    for name in tqdm(names or list(PERTURBATIONS), desc="perturb", unit="perturbation", disable=not progress):
        description, perturb = PERTURBATIONS[name]
        # Perturb in RGB, the order the crops are stored in; then hand the model its own order.
        changed = in_model_colour_order(perturb(ev.crops.images), ev.contract)
        p = score_batches(ev.score, changed, batch_size)
        auc = roc_auc(y, p)
        caught, accepted = _rates(y, p, threshold)
        rows.append(PerturbRow(name=name, description=description, auc=auc, auc_change=auc - clean_auc,
                               fakes_caught=caught, reals_accepted=accepted,
                               mean_score_change=float(np.mean(p - clean))))
    caught, accepted = _rates(y, clean, threshold)
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


# == leave one source out ==============================================================
@dataclass
class LeaveOneOutOptions:
    arch: str = DEFAULT_ARCH
    epochs: int = 2
    limit: int = 4000  # training crops per fold: a short schedule that fits a small CPU
    # Smaller than the recipe's 64: a short schedule needs the steps (BatchNorm statistics lag
    # the weights; 250 steps of 32 gave an in-distribution AUC of 0.63, 500 of 16 about 0.9).
    batch_size: Optional[int] = 32
    balance: str = "source"
    scale_augment: float = 0.0  # train --scale-augment (needs crops prepared with --context)
    augment_options: Optional[AugmentOptions] = None  # the train flags' augmentation (overrides scale_augment)
    seed: int = 1
    threshold: Optional[float] = None  # None: calibrate each fold like the shipped model
    target_real_acceptance: float = 0.95
    sources: Optional[list] = None  # fake sources to hold out (default: all)
    steps_per_epoch: Optional[int] = None  # tests only
    verbose: bool = True


@dataclass
class FoldResult:
    held_out_fake: str
    held_out_real: Optional[str]  # the twin, or None (no real source held out)
    reals_compared: str
    n_fake: int
    n_real: int
    auc: float  # held-out fakes vs the reals compared
    auc_vs_all_unseen_reals: float  # held-out fakes vs every real not trained on (test split + held-out twin)
    threshold: float
    threshold_source: str
    fakes_caught: float
    reals_accepted: float
    in_distribution_test_auc: Optional[float]  # the fold model on the test split of the sources it saw
    train_crops: int
    train_seconds: float
    seconds: float
    auc_ci: Optional[tuple] = None  # 95 % bootstrap interval of ``auc``


@dataclass
class LeaveOneOutReport:
    crops: str
    out: str
    options: dict
    folds: list
    seconds: float

    def to_json(self) -> dict:
        return json_safe(asdict(self))

    def to_markdown(self) -> str:
        o = self.options
        head = (f"Leave one fake source out: {self.crops}; per fold arch {o['arch']}, {o['epochs']} epochs, "
                f"batch {o['batch_size'] or 'of the recipe'}, scale augmentation {o.get('scale_augment', 0.0):g}, "
                f"at most {o['limit'] or 'all'} training crops (a SHORT schedule: numbers are lower than a full "
                f"training's), threshold: "
                + (f"--threshold {o['threshold']}" if o["threshold"] is not None else
                   f"calibrated per fold at {o['target_real_acceptance']} real acceptance on the fold's "
                   "validation reals")
                + f".  Held-out crops: test + val splits.  The folds took {self.seconds / 60:.1f} min "
                  f"(training, calibration and scoring; folds reused from an earlier run count their first "
                  f"time).  AUC [brackets]: 95 % bootstrap interval.\n\n")
        rows = ["| held-out fake | held-out real | compared with | n fake | n real | AUC | AUC vs all unseen reals | "
                "fakes caught | reals accepted | threshold | in-distribution test AUC | train s |",
                "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for f in self.folds:
            rows.append(f"| {f.held_out_fake} | {f.held_out_real or '–'} | {f.reals_compared} | {f.n_fake} | "
                        f"{f.n_real} | {format_interval(f.auc, f.auc_ci)} | {_f(f.auc_vs_all_unseen_reals)} | "
                        f"{_f(f.fakes_caught)} | {_f(f.reals_accepted)} | {f.threshold:.4g} | "
                        f"{_f(f.in_distribution_test_auc)} | {f.train_seconds:.0f} |")
        return head + "\n".join(rows)


def _slug(source: str) -> str:
    return source.replace("/", "__")


def _write_view(crops_dir: Path, view: Path, samples: list[Sample]) -> None:
    """A crop folder of symbolic links: the same names (so the same splits) without the held-out sources."""
    if view.exists():
        shutil.rmtree(view)
    for s in samples:
        for source, target in ((s.path, view / s.rel), (crops_dir / CONTEXT_DIR / s.rel, view / CONTEXT_DIR / s.rel)):
            if source.is_file():  # the context windows too, where prepare kept them
                target.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(source.resolve(), target)
    if (crops_dir / "crops.json").is_file():
        shutil.copyfile(crops_dir / "crops.json", view / "crops.json")


def _run_fold(crops_dir: Path, fold_dir: Path, samples: list[Sample], fake: str, real: Optional[str],
              opts: LeaveOneOutOptions) -> FoldResult:
    from ..data.augment import AugmentOptions
    from ..calibrate import calibrate_model
    from ..fit import TrainOptions, train_run

    t0 = time.perf_counter()
    held = {fake} | ({real} if real else set())
    view = fold_dir / "view"
    _write_view(crops_dir, view, [s for s in samples if s.source not in held])
    try:
        result = train_run(view, fold_dir / "run", TrainOptions(
            arch=opts.arch, epochs=opts.epochs, batch_size=opts.batch_size, seed=opts.seed, limit=opts.limit,
            balance=opts.balance, steps_per_epoch=opts.steps_per_epoch, verbose=opts.verbose,
            augment_options=opts.augment_options or AugmentOptions(scale_p=opts.scale_augment)))
        model = result.model_path
        if opts.threshold is None:
            cal = calibrate_model(model, view, opts.target_real_acceptance, cropped=True, split="val",
                                  progress=opts.verbose)
            threshold, t_source = cal.threshold, f"calibrated on fold val reals at {opts.target_real_acceptance}"
        else:
            threshold, t_source = float(opts.threshold), "--threshold"
    finally:
        shutil.rmtree(view, ignore_errors=True)  # links only; the crops stay where they are

    contract, score = open_scorer(model)
    unseen = [s for s in samples if s.split in ("val", "test") and s.source in held]
    test_reals = [s for s in samples if s.split == "test" and s.label == 0 and s.source not in held]
    cs_h, p_h, _ = score_samples(contract, score, unseen, progress=opts.verbose, where=crops_dir)
    cs_r, p_r, _ = score_samples(contract, score, test_reals, progress=opts.verbose, where=crops_dir)
    src_h = np.asarray(cs_h.sources)
    p_fake = p_h[src_h == fake]
    p_twin = p_h[src_h == real] if real else np.zeros(0)
    p_real = p_twin if real else p_r
    y = np.r_[np.ones(len(p_fake)), np.zeros(len(p_real))]
    y_all = np.r_[np.ones(len(p_fake)), np.zeros(len(p_r) + len(p_twin))]
    test_auc = (result.metrics.get("test") or {}).get("roc_auc")
    return FoldResult(
        held_out_fake=fake, held_out_real=real,
        reals_compared=f"{real} (test+val, held out)" if real else "all test reals (none held out)",
        n_fake=int(len(p_fake)), n_real=int(len(p_real)),
        auc=roc_auc(y, np.r_[p_fake, p_real]), auc_ci=auc_interval(y, np.r_[p_fake, p_real]),
        auc_vs_all_unseen_reals=roc_auc(y_all, np.r_[p_fake, p_r, p_twin]),
        threshold=float(threshold), threshold_source=t_source,
        fakes_caught=float((p_fake >= threshold).mean()) if len(p_fake) else float("nan"),
        reals_accepted=float((p_real < threshold).mean()) if len(p_real) else float("nan"),
        in_distribution_test_auc=None if test_auc is None else float(test_auc),
        train_crops=int(result.metrics["train_crops"]), train_seconds=float(result.metrics["train_seconds"]),
        seconds=round(time.perf_counter() - t0, 1))


def leave_one_out(crops_dir, out_dir, opts: LeaveOneOutOptions) -> LeaveOneOutReport:
    """Train one model per held-out fake source; finished folds (fold.json) are reused on a rerun."""
    _check_inputs(crops_dir=crops_dir)
    crops_dir, out_dir = Path(crops_dir), Path(out_dir)
    samples = scan_folder(crops_dir, cropped=True)
    sources = sorted({s.source for s in samples})
    fakes = [s for s in sources if s.startswith("fake/")]
    if opts.sources:
        unknown = [s for s in opts.sources if s not in fakes]
        if unknown:
            raise FakeFaceError(f"{crops_dir}: no fake source {', '.join(unknown)} (have {', '.join(fakes)})")
        fakes = [s for s in fakes if s in opts.sources]
    if len(fakes) < 1 or len([s for s in sources if s.startswith("fake/")]) < 2:
        raise FakeFaceError(f"{crops_dir}: leave-one-out needs at least two fake source folders under fake/")
    # In the form fold.json stores them (tuples as lists), so a rerun's options compare equal.
    options = json_safe({k: v for k, v in asdict(opts).items() if k not in ("verbose", "sources")})
    folds = []
    for i, fake in enumerate(fakes):
        real = TWIN_PAIRS.get(fake) if TWIN_PAIRS.get(fake) in sources else None
        fold_dir = out_dir / "folds" / _slug(fake)
        done = fold_dir / "fold.json"
        if done.is_file():
            saved = json.loads(done.read_text(encoding="utf-8"))
            if saved.get("options") == options:
                if opts.verbose:
                    print(f"leave-one-out: {fake}: reusing {done}")
                folds.append(FoldResult(**{k: (float("nan") if v is None and k in ("auc", "auc_vs_all_unseen_reals",
                                                                                      "fakes_caught", "reals_accepted")
                                               else v) for k, v in saved["result"].items()}))
                continue
        if opts.verbose:
            print(f"leave-one-out: fold {i + 1}/{len(fakes)}: without {fake}"
                  + (f" and its twin {real}" if real else " (no real twin: no real source held out)"), flush=True)
        fold = _run_fold(crops_dir, fold_dir, samples, fake, real, opts)
        write_text_atomic(done, json.dumps(json_safe({"options": options, "result": asdict(fold)}), indent=2) + "\n")
        if opts.verbose:
            print(f"leave-one-out: {fake}: AUC {_f(fold.auc)}, caught {_f(fold.fakes_caught)}, "
                  f"reals accepted {_f(fold.reals_accepted)} ({fold.seconds:.0f} s)", flush=True)
        folds.append(fold)
    return LeaveOneOutReport(crops=str(crops_dir), out=str(out_dir), options=options, folds=folds,
                             seconds=round(sum(f.seconds for f in folds), 1))


def plot_leave_one_out(report: LeaveOneOutReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    folds = report.folds
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(folds)), 4.2))
    x = np.arange(len(folds))
    w = 0.2
    series = [("AUC (held-out fakes vs compared reals)", [f.auc for f in folds]),
              ("in-distribution test AUC", [f.in_distribution_test_auc or np.nan for f in folds]),
              ("fakes caught", [f.fakes_caught for f in folds]),
              ("reals accepted", [f.reals_accepted for f in folds])]
    for k, (label, vals) in enumerate(series):
        yerr = _error_bars(vals, [f.auc_ci for f in folds]) if k == 0 else None
        ax.bar(x + (k - 1.5) * w, vals, w, label=label, yerr=yerr, capsize=3)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_xticks(x, [f.held_out_fake.split("/")[-1] + (f"\n(+ {f.held_out_real.split('/')[-1]})"
                                                         if f.held_out_real else "") for f in folds], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"leave one fake source out ({report.options['arch']}, {report.options['epochs']} epochs, "
                 f"limit {report.options['limit']})")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return save_figure(plt, fig, path)


# == output ============================================================================
def write_report(report, out_dir, stem: str, plot: Callable) -> list[Path]:
    """report.json, report.md and report.png under ``out_dir``, each written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.png"]
    write_text_atomic(paths[0], json.dumps(report.to_json(), indent=2) + "\n")
    write_text_atomic(paths[1], report.to_markdown() + "\n")
    plot(report, paths[2])
    return paths


__all__ = ["twins_report", "perturb_report", "leave_one_out", "LeaveOneOutOptions", "write_report",
           "plot_twins", "plot_perturb", "plot_leave_one_out"]
