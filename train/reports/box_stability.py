"""`fakeface generalise jitter`: does p(fake) stay put when the detector's box moves a little?

Two detectors, two camera frames, or two ``--min-face`` values put a face's box a few
pixels apart, and a face-unlock check must not flip between them.  For every face of a
split, the crop is cut again from the original photo with the box shifted by
``shift`` of its side (left, right, up, down) and scaled by ``1 - scale`` and
``1 + scale``, exactly as the edge runtime cuts it (``edge.contract.crop_face``), and
the largest change of p(fake) over those six boxes is that face's instability.  The
report gives its median, 90th percentile and maximum, overall and per source.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from fakeface.edge.contract import crop_face
from fakeface.edge.errors import FakeFaceError, ImageError
from fakeface.edge.imageio import load_image

from ..data.layout import split_of
from .metrics import json_safe
from .scoring import open_scorer, score_batches

GOAL_P90 = 0.10  # issue target: the 90th percentile of the largest change


def moved_boxes(box, shift: float, scale: float) -> list:
    """The six boxes (x, y, w, h) around ``box``: four shifts by ``shift`` of the box side,
    and the box scaled about its centre by ``1 - scale`` and ``1 + scale``."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h)
    out = [(x + dx * side, y + dy * side, w, h)
           for dx, dy in ((shift, 0), (-shift, 0), (0, shift), (0, -shift))]
    for f in (1.0 - scale, 1.0 + scale):
        out.append((x + w * (1 - f) / 2, y + h * (1 - f) / 2, w * f, h * f))
    return out


def _manifest_faces(crops_dir: Path, split: str) -> list[dict]:
    path = crops_dir / "manifest.jsonl"
    if not path.is_file():
        raise FakeFaceError(f"{crops_dir}: no manifest.jsonl (is it a 'fakeface prepare' output?)")
    faces = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line of an interrupted prepare
        if rec.get("status") == "ok" and rec.get("box") and (split == "all" or split_of(rec["source"]) == split):
            faces.append(rec)
    return faces


@dataclass
class JitterReport:
    model: str
    photos: str
    split: str
    shift: float
    scale: float
    n_faces: int
    median: float
    p90: float
    maximum: float
    decision_flips: float  # share of faces whose label changes for at least one moved box
    per_source: dict  # source -> {"n", "median", "p90", "flips"}
    skipped: int

    def to_json(self) -> dict:
        return json_safe(asdict(self))

    def to_markdown(self) -> str:
        head = (f"Box jitter: {self.model} on {self.n_faces} faces of {self.photos}, split {self.split}; the box "
                f"shifted +-{self.shift:.0%} of its side or scaled +-{self.scale:.0%}, largest p(fake) change per "
                f"face: median {self.median:.3f}, 90th percentile **{self.p90:.3f}** (goal <= {GOAL_P90}), max "
                f"{self.maximum:.3f}; the label flips for {self.decision_flips:.1%} of faces.\n\n")
        rows = ["| source | faces | median | 90th percentile | label flips |", "|---|---|---|---|---|"]
        for src, r in sorted(self.per_source.items()):
            rows.append(f"| {src} | {r['n']} | {r['median']:.3f} | {r['p90']:.3f} | {r['flips']:.1%} |")
        return head + "\n".join(rows)


def jitter_report(model_path, crops_dir, photos_dir, split: str = "test", shift: float = 0.05,
                  scale: float = 0.10, threshold: Optional[float] = None, backend: str = "auto",
                  progress: bool = True, limit: int = 0) -> JitterReport:
    from tqdm import tqdm

    crops_dir, photos_dir = Path(crops_dir), Path(photos_dir)
    if not photos_dir.is_dir():
        raise FakeFaceError(f"{photos_dir}: no such photo folder (give the folder 'prepare' read)")
    contract, score = open_scorer(model_path, backend)
    t = contract.threshold if threshold is None else float(threshold)
    faces = _manifest_faces(crops_dir, split)
    if limit:
        faces = faces[:limit]
    if not faces:
        raise FakeFaceError(f"{crops_dir}: no detected faces in split {split}")
    changes, flips, sources, skipped = [], [], [], 0
    for rec in tqdm(faces, desc="jitter", unit="face", disable=not progress):
        try:
            photo = load_image(photos_dir / rec["source"])
        except ImageError:
            skipped += 1
            continue
        boxes = [rec["box"]] + moved_boxes(rec["box"], shift, scale)
        crops = np.stack([crop_face(photo, b, contract) for b in boxes]).astype(np.float32)
        p = score_batches(score, crops, len(crops))
        changes.append(float(np.max(np.abs(p[1:] - p[0]))))
        flips.append(bool(np.any((p[1:] >= t) != (p[0] >= t))))
        sources.append(rec["source"].rsplit("/", 1)[0])
    if not changes:
        raise FakeFaceError(f"{photos_dir}: none of the split's photos could be read")
    c, fl, src = np.array(changes), np.array(flips), np.array(sources)
    per_source = {s: {"n": int((src == s).sum()), "median": float(np.median(c[src == s])),
                      "p90": float(np.percentile(c[src == s], 90)), "flips": float(fl[src == s].mean())}
                  for s in sorted(set(sources))}
    return JitterReport(model=str(model_path), photos=str(photos_dir), split=split, shift=shift, scale=scale,
                        n_faces=len(c), median=float(np.median(c)), p90=float(np.percentile(c, 90)),
                        maximum=float(c.max()), decision_flips=float(fl.mean()), per_source=per_source,
                        skipped=skipped)


def plot_jitter(report: JitterReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    names = sorted(report.per_source)
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    ax.bar(names, [report.per_source[s]["p90"] for s in names], color="tab:blue", label="90th percentile")
    ax.plot(names, [report.per_source[s]["median"] for s in names], "ko", label="median")
    ax.axhline(GOAL_P90, color="tab:red", ls="--", lw=1, label=f"goal {GOAL_P90}")
    ax.set_ylabel("largest p(fake) change per face")
    ax.set_title(f"Box jitter (+-{report.shift:.0%} shift, +-{report.scale:.0%} scale): "
                 f"overall p90 {report.p90:.3f}", fontsize=9)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(plt, fig, path)
