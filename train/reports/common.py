"""What the generalisation reports share: the slices of fakes against reals they measure,
the rates at a threshold, a split scored by one model, and writing a report's three files.

Each report (``twins``, ``perturb``, ``leave_one_out``, ``shortcut_audit``, ``box_stability``)
is a dataclass with ``to_json`` and ``to_markdown`` plus a ``plot_*`` function;
:func:`write_report` turns any of them into JSON, Markdown and PNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from fakeface.edge.atomic import write_text_atomic
from fakeface.edge.contract import ModelContract
from fakeface.edge.errors import FakeFaceError
from fakeface.edge.strict_json import write_json

from ..data.dataset import CropSet, load_crops, model_pixels
from ..data.layout import TWIN_PAIRS, Sample, scan_folder, select_split
from .scoring import open_scorer, score_batches


def format_number(v, digits=3) -> str:
    """A table cell: ``digits`` decimals, or a dash for a missing or undefined value."""
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def check_inputs(model_path=None, crops_dir=None) -> None:
    if model_path is not None and not Path(model_path).is_file():
        raise FakeFaceError(f"{model_path}: no such model file")
    if crops_dir is not None and not Path(crops_dir).is_dir():
        raise FakeFaceError(f"{crops_dir}: no such crop folder")


# -- slices and rates ----------------------------------------------------------------
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
    """The faces of one comparison: ``fake`` (a source, or "all fakes") and ``reals`` (a source, or "all reals")."""
    fm = (labels == 1) if fake == "all fakes" else (sources == fake)
    rm = (labels == 0) if reals == "all reals" else (sources == reals)
    return fm | rm


def rates_at(labels, scores, threshold) -> tuple[float, float]:
    """(fakes caught, reals accepted) at ``threshold``; NaN for an empty class."""
    y, p = np.asarray(labels), np.asarray(scores)
    fake, real = p[y == 1], p[y == 0]
    return (float((fake >= threshold).mean()) if len(fake) else float("nan"),
            float((real < threshold).mean()) if len(real) else float("nan"))


# -- a split scored by one model --------------------------------------------------------
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


def pick_sources(samples: list[Sample], names: Optional[list], where) -> list[Sample]:
    """The samples of the named source folders (``real/canada-studio``, or ``canada-studio``
    when one folder ends so); all samples without names."""
    if not names:
        return samples
    known = sorted({s.source for s in samples})
    picked = set()
    for name in names:
        match = [k for k in known if k == name or k.endswith("/" + name)]
        if len(match) != 1:
            raise FakeFaceError(f"{where}: --sources {name}: {'no' if not match else 'more than one'} such "
                                f"source folder (have {', '.join(known)})")
        picked.add(match[0])
    return [s for s in samples if s.source in picked]


def score_crop_split(model_path, crops_dir, split: str, backend: str = "auto", batch_size: int = 64,
                     progress: bool = True, sources: Optional[list] = None) -> ScoredSplit:
    check_inputs(model_path, crops_dir)
    contract, score = open_scorer(model_path, backend)
    samples = pick_sources(select_split(scan_folder(crops_dir, cropped=True), split), sources, crops_dir)
    if not samples:
        raise FakeFaceError(f"{crops_dir}: no crops in split {split}")
    cs, scores, bad = score_samples(contract, score, samples, batch_size, progress, crops_dir)
    return ScoredSplit(contract, score, cs, scores, bad)


# -- output ---------------------------------------------------------------------------
def error_bars(values, intervals) -> np.ndarray:
    """matplotlib's (2, N) yerr from values and 95 % intervals; 0 where there is none."""
    err = np.zeros((2, len(values)))
    for i, (v, ci) in enumerate(zip(values, intervals)):
        if ci and v is not None and np.isfinite(v) and all(c is not None and np.isfinite(c) for c in ci):
            err[:, i] = [max(0.0, v - ci[0]), max(0.0, ci[1] - v)]
    return err


def write_report(report, out_dir, stem: str, plot: Callable) -> list[Path]:
    """report.json, report.md and report.png under ``out_dir``, each written atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{stem}.json", out / f"{stem}.md", out / f"{stem}.png"]
    write_json(paths[0], report.to_json(), indent=2)
    write_text_atomic(paths[1], report.to_markdown() + "\n")
    plot(report, paths[2])
    return paths
