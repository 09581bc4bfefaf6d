"""`fakeface generalise jitter`: does p(fake) stay put when the detector's box moves a little?

Two detectors, two camera frames, or two ``--min-face`` values put a face's box a few
pixels apart, and a face-unlock check must not flip between them.  For every face of a
split, the crop is cut again from the original photo with the box shifted by
``shift`` of its side (left, right, up, down) and scaled by ``1 - scale`` and
``1 + scale``, exactly as the edge runtime cuts it (``edge.contract.crop_face``), and
the largest change of p(fake) over those six boxes is that face's instability.  The
report gives its median, 90th percentile and maximum, overall and per source.

Beside it, the report moves the model's own input crop by one whole pixel (left, right, up,
down; edges replicated), with no re-cut and no resampling.  If p(fake) moves about as much for
that as for the moved boxes, the instability is the network's own sensitivity to where its
stride grid falls (it is not shift-invariant), not the crop pipeline's resampling.
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


def one_pixel_moves(crop: np.ndarray) -> np.ndarray:
    """The HxWxC ``crop`` moved by one pixel right, left, down and up (4xHxWxC), the pixels
    that enter at the border copied from the edge: the same content, the stride grid moved."""
    h, w = crop.shape[:2]
    pad = np.pad(crop, ((1, 1), (1, 1), (0, 0)), mode="edge")
    return np.stack([pad[1:1 + h, 0:w], pad[1:1 + h, 2:2 + w], pad[0:h, 1:1 + w], pad[2:2 + h, 1:1 + w]])


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
    per_source: dict  # source -> {"n", "median", "p90", "flips", "pixel_p90"}
    skipped: int
    pixel_median: float  # the same change when the input crop moves by one whole pixel
    pixel_p90: float

    def to_json(self) -> dict:
        return json_safe(asdict(self))

    def to_markdown(self) -> str:
        head = (f"Box jitter: {self.model} on {self.n_faces} faces of {self.photos}, split {self.split}; the box "
                f"shifted +-{self.shift:.0%} of its side or scaled +-{self.scale:.0%}, largest p(fake) change per "
                f"face: median {self.median:.3f}, 90th percentile **{self.p90:.3f}** (goal <= {GOAL_P90}), max "
                f"{self.maximum:.3f}; the label flips for {self.decision_flips:.1%} of faces. The input crop "
                f"moved by one whole pixel (no re-cut): median {self.pixel_median:.3f}, 90th percentile "
                f"{self.pixel_p90:.3f}.\n\n")
        rows = ["| source | faces | median | 90th percentile | label flips | 1-px move, 90th percentile |",
                "|---|---|---|---|---|---|"]
        for src, r in sorted(self.per_source.items()):
            rows.append(f"| {src} | {r['n']} | {r['median']:.3f} | {r['p90']:.3f} | {r['flips']:.1%} "
                        f"| {r['pixel_p90']:.3f} |")
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
    changes, pixel_changes, flips, sources, skipped = [], [], [], [], 0
    for rec in tqdm(faces, desc="jitter", unit="face", disable=not progress):
        try:
            photo = load_image(photos_dir / rec["source"])
        except ImageError:
            skipped += 1
            continue
        boxes = [rec["box"]] + moved_boxes(rec["box"], shift, scale)
        crops = [crop_face(photo, b, contract) for b in boxes]
        crops = np.concatenate([np.stack(crops), one_pixel_moves(crops[0])]).astype(np.float32)
        p = score_batches(score, crops, len(crops))
        n_boxes = len(boxes)
        changes.append(float(np.max(np.abs(p[1:n_boxes] - p[0]))))
        pixel_changes.append(float(np.max(np.abs(p[n_boxes:] - p[0]))))
        flips.append(bool(np.any((p[1:n_boxes] >= t) != (p[0] >= t))))
        sources.append(rec["source"].rsplit("/", 1)[0])
    if not changes:
        raise FakeFaceError(f"{photos_dir}: none of the split's photos could be read")
    c, px, fl, src = np.array(changes), np.array(pixel_changes), np.array(flips), np.array(sources)
    per_source = {s: {"n": int((src == s).sum()), "median": float(np.median(c[src == s])),
                      "p90": float(np.percentile(c[src == s], 90)), "flips": float(fl[src == s].mean()),
                      "pixel_p90": float(np.percentile(px[src == s], 90))}
                  for s in sorted(set(sources))}
    return JitterReport(model=str(model_path), photos=str(photos_dir), split=split, shift=shift, scale=scale,
                        n_faces=len(c), median=float(np.median(c)), p90=float(np.percentile(c, 90)),
                        maximum=float(c.max()), decision_flips=float(fl.mean()), per_source=per_source,
                        skipped=skipped, pixel_median=float(np.median(px)), pixel_p90=float(np.percentile(px, 90)))


def plot_jitter(report: JitterReport, path) -> Path:
    from .plots import pyplot, save_figure

    plt = pyplot()
    names = sorted(report.per_source)
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    ax.bar(names, [report.per_source[s]["p90"] for s in names], color="tab:blue", label="90th percentile")
    ax.plot(names, [report.per_source[s]["median"] for s in names], "ko", label="median")
    ax.plot(names, [report.per_source[s]["pixel_p90"] for s in names], "v", color="tab:orange",
            label="90th percentile, input moved 1 px")
    ax.axhline(GOAL_P90, color="tab:red", ls="--", lw=1, label=f"goal {GOAL_P90}")
    ax.set_ylabel("largest p(fake) change per face")
    ax.set_title(f"Box jitter (+-{report.shift:.0%} shift, +-{report.scale:.0%} scale): "
                 f"overall p90 {report.p90:.3f}", fontsize=9)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(plt, fig, path)
