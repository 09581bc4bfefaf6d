"""`fakeface generalise leave-one-out`: for each fake source, train without it (and without its
real twin) and test on it: how well the detector meets an unseen generator.

Each fold is trained by ``fakeface.train.fit.train_run`` and calibrated by
``fakeface.train.calibrate.calibrate_model``, as the shipped model is.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from fakeface.edge import strict_json
from fakeface.edge.atomic import write_text_atomic
from fakeface.edge.errors import FakeFaceError

from ..data.augment import AugmentOptions
from ..data.layout import CONTEXT_DIR, TWIN_PAIRS, Sample, scan_folder
from ..models.architectures import ARCHITECTURES, DEFAULT_ARCH
from .common import check_inputs, error_bars, format_number as _f, score_samples
from .metrics import auc_interval, format_interval, json_safe, roc_auc
from .scoring import open_scorer


@dataclass
class LeaveOneOutOptions:
    arch: str = DEFAULT_ARCH
    epochs: int = 2
    limit: int = 4000  # training crops per fold: a short schedule that fits a small CPU
    # Smaller than the recipe's 64: a short schedule needs the steps (BatchNorm statistics lag
    # the weights; 250 steps of 32 gave an in-distribution AUC of 0.63, 500 of 16 about 0.9).
    batch_size: Optional[int] = 32
    balance: str = "source"
    freeze_blocks: int = 0  # train --freeze-blocks: lite0 blocks kept at their ImageNet weights
    source_weights: dict = field(default_factory=dict)  # train --source-weight
    focal_gamma: float = 0.0  # train --focal-gamma
    scale_augment: float = 0.0  # train --scale-augment (needs crops prepared with --context)
    augment_options: Optional[AugmentOptions] = None  # the train flags' augmentation (overrides scale_augment)
    seed: int = 1
    threshold: Optional[float] = None  # None: calibrate each fold like the shipped model
    target_real_acceptance: float = 0.95
    fake_catch: Optional[float] = None  # calibrate --fake-catch: raise each fold's threshold to still catch this
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
                f"at most {o['limit'] or 'all'} training crops ({schedule_words(o)}), {recipe_words(o)}, threshold: "
                + threshold_words(o)
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


def threshold_words(options: dict) -> str:
    """How each fold's threshold was set, for the report's header."""
    if options.get("threshold") is not None:
        return f"--threshold {options['threshold']}"
    words = (f"calibrated per fold at {options['target_real_acceptance']} real acceptance on the fold's "
             "validation reals")
    if options.get("fake_catch"):
        words += f", then raised as far as still catching {options['fake_catch']:g} of its validation fakes allows"
    return words


def schedule_words(options: dict) -> str:
    """How a fold's schedule compares with its architecture's recipe (every training crop, the
    recipe's epochs), for the report's header."""
    recipe = ARCHITECTURES[options.get("arch", DEFAULT_ARCH)][1]
    if options["limit"] or options["epochs"] < recipe.epochs:
        return "a SHORT schedule: numbers are lower than a full training's"
    return "the full schedule of its architecture's recipe"


# AugmentOptions field -> the train flag that sets it, for the report's header.
_AUGMENT_FLAGS = (("box_jitter_p", "--box-jitter"), ("style_p", "--style-augment"),
                  ("background_p", "--background-augment"), ("exposure_p", "--exposure-augment"),
                  ("outside_face_p", "--outside-face-augment"))


def recipe_words(options: dict) -> str:
    """The train flags a fold ran with that change what it learns (augmentation shares, source
    weights, frozen blocks, the focal loss), so that two reports' recipes can be told apart."""
    augment = options.get("augment_options") or {}
    flags = [f"{flag} {augment[key]:g}" for key, flag in _AUGMENT_FLAGS if augment.get(key)]
    flags += [f"--source-weight {name}={w:g}" for name, w in sorted((options.get("source_weights") or {}).items())]
    flags += [f"{flag} {options[key]:g}" for key, flag in (("freeze_blocks", "--freeze-blocks"),
                                                          ("focal_gamma", "--focal-gamma")) if options.get(key)]
    return " ".join(flags) or "no augmentation, source-weight or loss flags"


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


def _trained_model(run_dir: Path):
    """The fold's finished training (model and metrics.json) in ``run_dir``, or None."""
    from ..fit import MODEL_NAME, TrainResult

    model, metrics = run_dir / MODEL_NAME, run_dir / "metrics.json"
    if not (model.is_file() and metrics.is_file()):
        return None
    return TrainResult(run_dir=run_dir, model_path=model, metrics=json.loads(metrics.read_text(encoding="utf-8")))


def train_fold(crops_dir: Path, fold_dir: Path, samples: list[Sample], held: set, opts: LeaveOneOutOptions,
               reuse_model: bool = False):
    """Train and calibrate one fold's model on every source but ``held``:
    (train result, model path, threshold, where the threshold came from).  ``reuse_model``: the
    fold's model was trained with these training options already; only calibrate it."""
    from ..calibrate import calibrate_model
    from ..fit import TrainOptions, train_run

    view = fold_dir / "view"
    _write_view(crops_dir, view, [s for s in samples if s.source not in held])
    try:
        result = _trained_model(fold_dir / "run") if reuse_model else None
        if result is None:
            result = train_run(view, fold_dir / "run", TrainOptions(
                arch=opts.arch, epochs=opts.epochs, batch_size=opts.batch_size, seed=opts.seed, limit=opts.limit,
                balance=opts.balance, steps_per_epoch=opts.steps_per_epoch, verbose=opts.verbose,
                freeze_blocks=opts.freeze_blocks, source_weights=opts.source_weights, focal_gamma=opts.focal_gamma,
                augment_options=opts.augment_options or AugmentOptions(scale_p=opts.scale_augment)))
        model = result.model_path
        if opts.threshold is None:
            cal = calibrate_model(model, view, opts.target_real_acceptance, cropped=True, split="val",
                                  progress=opts.verbose, fake_catch=opts.fake_catch)
            threshold, t_source = cal.threshold, f"calibrated on fold val reals at {opts.target_real_acceptance}"
            if opts.fake_catch:
                t_source += (f", raised to still catch {opts.fake_catch:g} of fold val fakes"
                             if cal.raised_by_fake_catch else
                             f"; --fake-catch {opts.fake_catch:g} left no room above it")
        else:
            threshold, t_source = float(opts.threshold), "--threshold"
    finally:
        shutil.rmtree(view, ignore_errors=True)  # links only; the crops stay where they are
    return result, model, float(threshold), t_source


def _run_fold(crops_dir: Path, fold_dir: Path, samples: list[Sample], fake: str, real: Optional[str],
              opts: LeaveOneOutOptions, reuse_model: bool = False) -> FoldResult:
    t0 = time.perf_counter()
    held = {fake} | ({real} if real else set())
    result, model, threshold, t_source = train_fold(crops_dir, fold_dir, samples, held, opts, reuse_model)
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


# Options added after folds were first saved, with the value those older folds ran at.
_NEWER_OPTION_DEFAULTS = {"focal_gamma": 0.0, "fake_catch": None}
# Options that only set the threshold: a fold that differs in nothing else keeps its trained model.
_THRESHOLD_OPTIONS = ("threshold", "target_real_acceptance", "fake_catch")


def _same_options(saved: Optional[dict], options: dict, ignore: tuple = ()) -> bool:
    """Whether a saved fold was run with ``options`` (those named in ``ignore`` aside).  A fold
    saved before an option (or an augmentation field) existed ran without it, so a missing one
    counts as its default (off)."""
    if not saved:
        return False
    saved, options = {**_NEWER_OPTION_DEFAULTS, **saved}, {**_NEWER_OPTION_DEFAULTS, **options}
    augment = saved.get("augment_options")
    if isinstance(augment, dict):
        defaults = json_safe(asdict(AugmentOptions()))
        saved = {**saved, "augment_options": {**defaults, **augment}}
    return ({k: v for k, v in saved.items() if k not in ignore}
            == {k: v for k, v in options.items() if k not in ignore})


def run_cached_folds(out_dir: Path, held_out: list, options: dict, run, load, starting, finished,
                     verbose: bool) -> list:
    """One fold per name in ``held_out``: ``run(name, fold_dir, reuse_model)`` trains and scores
    it, and its result is kept in ``fold_dir/fold.json`` with the options; a rerun with the same
    options reuses it (``load(saved_result)``), and one that only sets the threshold another way
    reuses the fold's trained model (``reuse_model`` True) and calibrates and scores it again.
    ``starting(name)`` and ``finished(result)`` word the progress lines."""
    folds = []
    for i, name in enumerate(held_out):
        fold_dir = out_dir / "folds" / _slug(name)
        done = fold_dir / "fold.json"
        reuse_model = False
        if done.is_file():
            saved = json.loads(done.read_text(encoding="utf-8"))
            if _same_options(saved.get("options"), options):
                if verbose:
                    print(f"leave-one-out: {name}: reusing {done}")
                folds.append(load(saved["result"]))
                continue
            reuse_model = (_same_options(saved.get("options"), options, ignore=_THRESHOLD_OPTIONS)
                           and _trained_model(fold_dir / "run") is not None)
        if verbose:
            print(f"leave-one-out: fold {i + 1}/{len(held_out)}: {starting(name)}"
                  + (" (its trained model reused: only the threshold changed)" if reuse_model else ""), flush=True)
        fold = run(name, fold_dir, reuse_model)
        write_text_atomic(done, strict_json.dumps({"options": options, "result": asdict(fold)}, indent=2) + "\n")
        if verbose:
            print(f"leave-one-out: {name}: {finished(fold)} ({fold.seconds:.0f} s)", flush=True)
        folds.append(fold)
    return folds


def leave_one_out(crops_dir, out_dir, opts: LeaveOneOutOptions) -> LeaveOneOutReport:
    """Train one model per held-out fake source; finished folds (fold.json) are reused on a rerun."""
    check_inputs(crops_dir=crops_dir)
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
    nan_if_null = ("auc", "auc_vs_all_unseen_reals", "fakes_caught", "reals_accepted")

    def run(fake: str, fold_dir: Path, reuse_model: bool) -> FoldResult:
        return _run_fold(crops_dir, fold_dir, samples, fake, twin_of(fake), opts, reuse_model)

    def twin_of(fake: str) -> Optional[str]:
        return TWIN_PAIRS.get(fake) if TWIN_PAIRS.get(fake) in sources else None

    folds = run_cached_folds(
        out_dir, fakes, options, run,
        load=lambda saved: FoldResult(**{k: (float("nan") if v is None and k in nan_if_null else v)
                                         for k, v in saved.items()}),
        starting=lambda fake: f"without {fake}" + (f" and its twin {twin_of(fake)}" if twin_of(fake)
                                                   else " (no real twin: no real source held out)"),
        finished=lambda f: f"AUC {_f(f.auc)}, caught {_f(f.fakes_caught)}, reals accepted {_f(f.reals_accepted)}",
        verbose=opts.verbose)
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
        yerr = error_bars(vals, [f.auc_ci for f in folds]) if k == 0 else None
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
