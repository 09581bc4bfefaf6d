"""Which faces each min-face rule reports, on a sample of the shared face photos.

    python -m fakeface.benchmarks.min_face_rule --per-source 30 --min-face 40 80 120

MTCNN's min face sets the pyramid's first scale; the box it returns for a face of about that
size can come back smaller (box regression), and a filter on the box's shorter side then drops
a face the pyramid was built to find.  For each min face M this detects every photo at M and,
as the reference, at min face 20 (the whole pyramid), then counts what three rules report:
``strict`` (shorter side >= M), ``share`` (>= edge.pipeline.MIN_FACE_BOX_SHARE x M, the shipped
rule) and ``none`` (every face the search at M returns).  ``missed``: reference faces of at
least M with no reported face at IoU > 0.5; ``small``: reported faces whose reference box is
below 0.9 M (or that the reference search did not find).  ``box ratio``: a face's shorter side
at M over the same face's at 20 (percentiles), the detector's box error.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np

from fakeface.edge.imageio import load_image
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions
from fakeface.edge.pipeline import MIN_FACE_BOX_SHARE

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("real/nuaa-webcam", "real/canada-studio", "real/lfw-scenes", "real/pixabay-portraits", "real/utkface",
           "real/taiwanese-studio", "real/ffhq-140k", "fake/generated-photos", "fake/stylegan1-140k",
           "fake/sd14-blonde-woman")
REFERENCE_MIN_FACE = 20


def sample(root: Path, per_source: int, seed: int = 0) -> list[Path]:
    photos = []
    for source in SOURCES:
        files = sorted(p for p in (root / source).rglob("*") if p.is_file())
        random.Random(seed).shuffle(files)
        photos += files[:per_source]
    return photos


def iou(a, b) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def short(box) -> float:
    return min(box[2], box[3])


def match(box, boxes):
    best = max(boxes, key=lambda other: iou(box, other), default=None)
    return best if best is not None and iou(box, best) > 0.5 else None


def count(results, min_face: float, share: float) -> dict:
    """found / missed / small for one rule (``share`` of the min face) over every photo."""
    found = missed = small = 0
    for reference, searched in results:
        kept = [b for b in searched if short(b) >= share * min_face]
        found += len(kept)
        missed += sum(1 for a in reference if short(a) >= min_face and match(a, kept) is None)
        for b in kept:
            ref = match(b, reference)
            small += ref is None or short(ref) < 0.9 * min_face
    return {"found": found, "missed": missed, "small": small}


def measure(photos, min_faces, threads: int = 1) -> list[dict]:
    sizes = [REFERENCE_MIN_FACE, *min_faces]
    detectors = {m: Detector(DetectorOptions(min_face_size=m, threads=threads)) for m in sizes}
    boxes = []
    for path in photos:
        image = load_image(path)
        boxes.append({m: [f.box for f in d.detect(image)] for m, d in detectors.items()})
    for d in detectors.values():
        d.close()
    rows = []
    for m in min_faces:
        results = [(b[REFERENCE_MIN_FACE], b[m]) for b in boxes]
        ratios = [short(s) / short(ref) for reference, searched in results for s in searched
                  if (ref := match(s, reference)) is not None]
        rows.append({
            "min_face": m,
            "reference": sum(1 for reference, _ in results for a in reference if short(a) >= m),
            "rules": {name: count(results, m, share)
                      for name, share in (("strict", 1.0), ("share", MIN_FACE_BOX_SHARE), ("none", 0.0))},
            "box_ratio": np.percentile(ratios, [0.5, 1, 5, 50]).round(3).tolist() if ratios else [],
        })
    return rows


def table(rows, photos: int) -> str:
    lines = [f"{photos} photos; rule share = {MIN_FACE_BOX_SHARE}",
             "| min face | reference faces >= M | strict: found / missed / small | "
             f"share {MIN_FACE_BOX_SHARE}: found / missed / small | none: found / missed / small | "
             "box ratio p0.5 / p1 / p5 / p50 |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        cells = [" / ".join(str(r["rules"][n][k]) for k in ("found", "missed", "small"))
                 for n in ("strict", "share", "none")]
        lines.append(f"| {r['min_face']} | {r['reference']} | " + " | ".join(cells)
                     + " | " + " / ".join(str(v) for v in r["box_ratio"]) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--per-source", type=int, default=30, help="photos from each of the 10 sources")
    parser.add_argument("--min-face", type=int, nargs="+", default=[40, 80, 120])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    photos = sample(args.data, args.per_source)
    print(table(measure(photos, args.min_face, args.threads), len(photos)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
