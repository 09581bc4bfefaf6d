"""`fakeface generalise shortcuts`: does a property of the *photo*, not of the face, push
real faces toward "fake"?

The fake sources differ from the real ones in more than how the face was made: studio
backdrops, even lighting, saturated colour, JPEG quality.  A model can learn any of them
as a stand-in for "fake" and will then reject real people photographed that way (a
face-unlock camera in front of a plain wall, say).  For every real face of a split this
report changes one property at a time and measures how p(fake) moves and how many real
faces are still accepted at the model's threshold.  A property that raises p(fake) and
costs acceptance beyond its 95 % interval is a shortcut; train it away with
``fakeface train --style-augment / --background-augment`` and run the audit again.

The face box's place in the crop follows from the crop contract: the centre
``1 / (1 + 2 * crop_margin)`` of a resize-mode crop (native-mode crops are treated the same,
which under-states their background).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from fakeface.edge.errors import FakeFaceError

from .capture_variants import EXPOSURE_GAINS, exposure, exposure_words
from .common import score_crop_split
from .metrics import format_interval, json_safe, percentile_interval, rate_interval
from .perturbations import jpeg
from .scoring import score_batches


def outside_face_mask(size: int, crop_margin: float, feather: float = 0.05) -> np.ndarray:
    """(size, size, 1) float32: 0 on the face box, 1 on the background, a soft edge between."""
    r = np.abs(np.arange(size, dtype=np.float32) - (size - 1) / 2.0) / (size / 2.0)
    inside = 1.0 / (1.0 + 2.0 * crop_margin)
    edge = np.clip((r - inside) / feather, 0.0, 1.0)
    return np.maximum(edge[:, None], edge[None, :])[:, :, None]


def _blend_background(images: np.ndarray, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = images.astype(np.float32) * (1.0 - mask) + background.astype(np.float32) * mask
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def blur_background(images: np.ndarray, crop_margin: float, sigma: float = 4.0) -> np.ndarray:
    blurred = np.stack([cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101) for img in images])
    return _blend_background(images, blurred, outside_face_mask(images.shape[1], crop_margin))


def flatten_background(images: np.ndarray, crop_margin: float) -> np.ndarray:
    """The background replaced by its own mean colour: a plain studio backdrop."""
    mask = outside_face_mask(images.shape[1], crop_margin)
    weights = mask[None]
    mean = (images.astype(np.float32) * weights).sum((1, 2), keepdims=True) / weights.sum((1, 2), keepdims=True)
    return _blend_background(images, np.broadcast_to(mean, images.shape), mask)


def even_lighting(images: np.ndarray, gamma: float = 0.8, contrast: float = 0.8) -> np.ndarray:
    """Lifted shadows (gamma < 1) and lower contrast: the flat light of a studio softbox."""
    x = 255.0 * (images.astype(np.float32) / 255.0) ** gamma
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return np.clip(np.round((x - mean) * contrast + mean), 0, 255).astype(np.uint8)


def saturate(images: np.ndarray, factor: float) -> np.ndarray:
    x = images.astype(np.float32)
    grey = x.mean(axis=-1, keepdims=True)
    return np.clip(np.round(grey + (x - grey) * factor), 0, 255).astype(np.uint8)


# name -> (what it does, function(images, crop_margin)); the names are the JSON keys.
PROPERTIES: dict[str, tuple[str, Callable[[np.ndarray, float], np.ndarray]]] = {
    "background_blur": ("background outside the face box blurred (sigma 4 px)", blur_background),
    "background_flat": ("background outside the face box flattened to its mean colour", flatten_background),
    "studio_light": ("even studio-like light: gamma 0.8, contrast x0.8", lambda x, m: even_lighting(x)),
    "jpeg_q50": ("JPEG re-encoded at quality 50", lambda x, m: jpeg(x, 50)),
    "jpeg_q95": ("JPEG re-encoded at quality 95", lambda x, m: jpeg(x, 95)),
    "saturation_0.6": ("colour saturation x0.6", lambda x, m: saturate(x, 0.6)),
    "saturation_1.4": ("colour saturation x1.4", lambda x, m: saturate(x, 1.4)),
    **{f"exposure_{g:g}": (exposure_words(g), lambda x, m, g=g: exposure(x, g)) for g in EXPOSURE_GAINS},
}


@dataclass
class ShortcutRow:
    name: str
    description: str
    mean_change: float  # mean p(fake) change over the real faces
    mean_change_ci: tuple
    accepted: float  # real faces accepted after the change
    accepted_ci: tuple
    accepted_change: float  # after - before, in share of real faces
    accepted_change_ci: tuple  # paired bootstrap over the same faces
    worst_source: str  # the real source whose acceptance falls most
    worst_source_accepted: float
    shortcut: bool


@dataclass
class ShortcutReport:
    model: str
    crops: str
    split: str
    threshold: float
    n_real: int
    accepted: float
    accepted_ci: tuple
    accepted_per_source: dict
    rows: list
    sources: Optional[list] = None  # --sources: only these real source folders

    def to_json(self) -> dict:
        return json_safe(asdict(self))

    def to_markdown(self) -> str:
        only = f" ({', '.join(self.sources)} only)" if self.sources else ""
        head = (f"Shortcut audit: {self.model} on the real faces of {self.crops}{only}, split {self.split} "
                f"({self.n_real} faces), threshold {self.threshold:.4g}; accepted unchanged: "
                f"{format_interval(self.accepted, self.accepted_ci)}.\n"
                "A shortcut: p(fake) rises and acceptance falls, both beyond their paired 95 % intervals.\n\n")
        rows = ["| property | mean p(fake) change [95 %] | reals accepted [95 %] | change [95 %, paired] | "
                "worst real source (accepted) | shortcut? |", "|---|---|---|---|---|---|"]
        for r in self.rows:
            rows.append(f"| {r.name}: {r.description} | {format_interval(r.mean_change, r.mean_change_ci)} | "
                        f"{format_interval(r.accepted, r.accepted_ci)} | "
                        f"{format_interval(r.accepted_change, r.accepted_change_ci)} | "
                        f"{r.worst_source} ({r.worst_source_accepted:.3f}) | {'**yes**' if r.shortcut else 'no'} |")
        return head + "\n".join(rows)


def paired_intervals(*per_face: np.ndarray, rounds: int = 1000, seed: int = 0) -> list:
    """95 % bootstrap intervals of the means of per-face values, all resampled with the same
    draws of faces (each face is its own control, so the intervals are paired)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(per_face[0]), (rounds, len(per_face[0])))
    return [percentile_interval(np.asarray(v, np.float64)[draws].mean(axis=1)) for v in per_face]


def shortcut_report(model_path, crops_dir, split: str = "test", threshold: Optional[float] = None,
                    backend: str = "auto", batch_size: int = 64, progress: bool = True,
                    names: Optional[list] = None, sources: Optional[list] = None) -> ShortcutReport:
    from tqdm import tqdm

    picked = bool(sources)
    if picked:  # the audit changes real faces only: "canada-studio" names real/canada-studio
        sources = [n if "/" in n else f"real/{n}" for n in sources]
    ev = score_crop_split(model_path, crops_dir, split, backend, batch_size, progress, sources)
    real = ev.crops.labels == 0
    if not real.any():
        raise FakeFaceError(f"{crops_dir}: split {split} has no real faces to audit")
    t = ev.contract.threshold if threshold is None else float(threshold)
    images, clean = ev.crops.images[real], ev.scores[real]
    sources = np.asarray(ev.crops.sources)[real]
    margin = float(ev.contract.crop_margin)
    n = int(real.sum())
    before = clean < t
    per_source = {s: float(before[sources == s].mean()) for s in sorted(set(sources.tolist()))}
    rows = []
    for name in tqdm(names or list(PROPERTIES), desc="shortcuts", unit="property", disable=not progress):
        description, change = PROPERTIES[name]
        changed = change(images, margin)
        if ev.contract.color_order == "BGR":
            changed = changed[..., ::-1]
        p = score_batches(ev.score, changed, batch_size)
        delta = p - clean
        after = p < t
        worst = min(per_source, key=lambda s: float(after[sources == s].mean()) - per_source[s])
        ci, acc_change_ci = paired_intervals(delta, after.astype(np.float64) - before)
        rows.append(ShortcutRow(
            name=name, description=description, mean_change=float(delta.mean()), mean_change_ci=ci,
            accepted=float(after.mean()), accepted_ci=rate_interval(int(after.sum()), n),
            accepted_change=float(after.mean() - before.mean()), accepted_change_ci=acc_change_ci,
            worst_source=worst, worst_source_accepted=float(after[sources == worst].mean()),
            shortcut=bool(ci[0] > 0 and acc_change_ci[1] < 0)))
    return ShortcutReport(model=str(model_path), crops=str(crops_dir), split=split, threshold=t, n_real=n,
                          accepted=float(before.mean()), accepted_ci=rate_interval(int(before.sum()), n),
                          accepted_per_source=per_source, rows=rows,
                          sources=sorted(per_source) if picked else None)


def plot_shortcuts(report: ShortcutReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    names = [r.name for r in report.rows]
    means = np.array([r.mean_change for r in report.rows])
    lo = means - np.array([r.mean_change_ci[0] for r in report.rows])
    hi = np.array([r.mean_change_ci[1] for r in report.rows]) - means
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(names)), 4))
    colours = ["tab:red" if r.shortcut else "tab:blue" for r in report.rows]
    ax.bar(names, means, yerr=np.vstack([lo, hi]), color=colours, capsize=3)
    for i, r in enumerate(report.rows):
        ax.text(i, max(means[i], 0) + hi[i] + 0.005, f"acc {r.accepted:.2f}", ha="center", fontsize=7)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.set_ylabel("mean p(fake) change on real faces")
    ax.set_title(f"Shortcut audit ({report.split}; red: pushes reals to fake; acc = reals accepted, "
                 f"unchanged {report.accepted:.2f})", fontsize=9)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return save_figure(plt, fig, path)
