"""`fakeface generalise learning-curve`: is a fake source and its real twin data-limited?

Train the same recipe with ``fakeface train --source-share`` at a few shares of one pair's
training photos (say 0.25, 0.5 and 1), then hand the runs to this report.  For every model it
scores the pair's crops of every split and measures ROC AUC on

* the training photos the model saw (its fit),
* the photos it never saw: validation, test, and the training photos its share left out,
* validation + test alone, the photos no run saw,

and, paired, each model against the one trained on the most photos, on the photos none of them
saw.  Held-out AUC that still climbs from one share to the next is what data-limited looks like;
a flat curve says more photos of that source would not help and the limit lies elsewhere.

A model's shares come from ``metrics.json`` beside it (``fakeface train`` writes it); a model
without one counts as trained on every training photo.  The shares nest (the photos kept at 0.25
are among those kept at 0.5: :func:`fakeface.train.data.layout.share_position`), so the curve
adds photos rather than drawing new ones.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from fakeface.edge.errors import FakeFaceError

from ..data.dataset import load_crops, model_pixels, resolve_source_shares
from ..data.layout import TWIN_PAIRS, scan_folder, share_position
from .common import check_inputs, error_bars, format_number as _f
from .metrics import auc_interval, bootstrap_aucs, format_interval, json_safe, percentile_interval, roc_auc
from .scoring import open_scorer, score_batches


@dataclass
class CurvePoint:
    """One model: its shares of the pair and its AUCs."""

    model: str
    fake_share: float
    real_share: float
    seen: tuple  # (fakes, reals) training photos' crops it trained on
    unseen: tuple  # (fakes, reals) crops it never saw
    auc_seen: float
    auc_unseen: float
    auc_unseen_ci: tuple
    auc_val_test: float
    auc_val_test_ci: tuple
    vs_most: Optional[float] = None  # AUC minus the most-photo model's, on the photos no model saw
    vs_most_ci: Optional[tuple] = None


@dataclass
class LearningCurveReport:
    crops: str
    fake: str
    real: str
    common_unseen: tuple  # (fakes, reals) crops no model saw
    points: list

    def to_json(self) -> dict:
        return json_safe(asdict(self))

    def to_markdown(self) -> str:
        head = (f"Learning curve: {self.fake} vs {self.real} on {self.crops}.  'unseen': validation, test and "
                f"the training photos a model's share left out; 'vs most': paired AUC difference to the model "
                f"trained on the most photos, on the {self.common_unseen[0]} fake and {self.common_unseen[1]} real "
                f"crops no model saw.  [brackets]: 95 % bootstrap intervals.\n\n")
        rows = ["| model | share fake / real | seen fake / real | AUC seen (fit) | AUC unseen | n unseen | "
                "AUC val+test | vs most |", "|---|---|---|---|---|---|---|---|"]
        for p in self.points:
            rows.append(f"| {p.model} | {p.fake_share:g} / {p.real_share:g} | {p.seen[0]} / {p.seen[1]} | "
                        f"{_f(p.auc_seen)} | {format_interval(p.auc_unseen, p.auc_unseen_ci)} | "
                        f"{p.unseen[0]} / {p.unseen[1]} | {format_interval(p.auc_val_test, p.auc_val_test_ci)} | "
                        + ("reference |" if p.vs_most is None else
                           f"{p.vs_most:+.3f} [{p.vs_most_ci[0]:+.3f}, {p.vs_most_ci[1]:+.3f}] |"))
        return head + "\n".join(rows)


def shares_of(model_path, samples) -> dict:
    """The source shares the model was trained with (metrics.json beside it), by full source name."""
    metrics = Path(model_path).parent / "metrics.json"
    if not metrics.is_file():
        return {}
    try:
        shares = json.loads(metrics.read_text(encoding="utf-8")).get("source_shares") or {}
    except (OSError, ValueError, AttributeError) as exc:
        raise FakeFaceError(f"{metrics}: unreadable ({exc})") from None
    return resolve_source_shares(shares, samples, metrics, "train")


def learning_curve_report(model_paths: list, crops_dir, fake: str = "fake/stylegan1-140k",
                          real: Optional[str] = None, backend: str = "auto", batch_size: int = 64,
                          progress: bool = True) -> LearningCurveReport:
    real = real or TWIN_PAIRS.get(fake)
    if real is None:
        raise FakeFaceError(f"--fake {fake} has no real twin: name the reals to compare with by --real")
    check_inputs(None, crops_dir)
    for m in model_paths:
        check_inputs(m, None)
    everything = scan_folder(crops_dir, cropped=True)
    found = {s.source for s in everything}
    for option, source in (("--fake", fake), ("--real", real)):
        if source not in found:
            raise FakeFaceError(f"{option} {source}: no such source in {crops_dir} (sources: {', '.join(sorted(found))})")
    samples = [s for s in everything if s.source in (fake, real)]
    split = np.array([s.split for s in samples])
    position = np.array([share_position(s.key) for s in samples])
    is_fake = np.array([s.source == fake for s in samples])
    labels = is_fake.astype(np.int32)

    crops, bad = load_crops(samples, progress=progress)  # once: every model scores the same crops
    if bad:
        raise FakeFaceError(f"{crops_dir}: {len(bad)} unreadable crops, e.g. {bad[0][0]}: {bad[0][1]}")
    scores, unseen_masks, shares = [], [], []
    for path in model_paths:
        contract, score = open_scorer(path, backend)
        p = score_batches(score, model_pixels(crops, contract, crops_dir), batch_size)
        model_shares = shares_of(path, everything)
        fs, rs = model_shares.get(fake, 1.0), model_shares.get(real, 1.0)
        kept = position < np.where(is_fake, fs, rs)
        unseen_masks.append((split != "train") | ~kept)
        scores.append(p)
        shares.append((fs, rs))

    common = np.logical_and.reduce(unseen_masks)
    val_test = split != "train"
    most = int(np.argmax([fs + rs for fs, rs in shares]))
    boot = bootstrap_aucs(labels[common], *[p[common] for p in scores])
    points = []
    for i, (path, p, unseen, (fs, rs)) in enumerate(zip(model_paths, scores, unseen_masks, shares)):
        seen = ~unseen
        point = CurvePoint(
            model=str(path), fake_share=fs, real_share=rs,
            seen=(int(seen[is_fake].sum()), int(seen[~is_fake].sum())),
            unseen=(int(unseen[is_fake].sum()), int(unseen[~is_fake].sum())),
            auc_seen=roc_auc(labels[seen], p[seen]) if seen.any() else float("nan"),
            auc_unseen=roc_auc(labels[unseen], p[unseen]), auc_unseen_ci=auc_interval(labels[unseen], p[unseen]),
            auc_val_test=roc_auc(labels[val_test], p[val_test]),
            auc_val_test_ci=auc_interval(labels[val_test], p[val_test]))
        if i != most:
            point.vs_most = roc_auc(labels[common], p[common]) - roc_auc(labels[common], scores[most][common])
            point.vs_most_ci = percentile_interval(boot[i] - boot[most])
        points.append(point)
    points.sort(key=lambda q: (q.fake_share + q.real_share, q.model))
    return LearningCurveReport(crops=str(crops_dir), fake=fake, real=real,
                               common_unseen=(int(common[is_fake].sum()), int(common[~is_fake].sum())),
                               points=points)


def plot_learning_curve(report: LearningCurveReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.2))
    x = [p.seen[0] + p.seen[1] for p in report.points]
    ax.errorbar(x, [p.auc_unseen for p in report.points], capsize=3, marker="o", label="every photo it did not see",
                yerr=error_bars([p.auc_unseen for p in report.points], [p.auc_unseen_ci for p in report.points]))
    ax.errorbar(x, [p.auc_val_test for p in report.points], capsize=3, marker="^", ls=":",
                label="validation + test (no run saw them)",
                yerr=error_bars([p.auc_val_test for p in report.points], [p.auc_val_test_ci for p in report.points]))
    ax.plot(x, [p.auc_seen for p in report.points], marker="s", ls="--", label="training photos seen (fit)")
    if len(set(x)) > 1:
        ax.set_xscale("log", base=2)
        ax.minorticks_off()
    ax.set_xticks(sorted(set(x)), [str(v) for v in sorted(set(x))])
    ax.set_xlabel(f"training crops of the pair seen ({report.fake.split('/')[-1]} + {report.real.split('/')[-1]})")
    ax.set_ylabel("ROC AUC")
    ax.set_title("learning curve of one fake source against its reals")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(plt, fig, path)
