"""Compare two `fakeface check --json` outputs (x86 reference vs arm64) face by face.

Both files hold one JSON object per input image, in the same input order (the paths
differ between host and root, so lines are paired by position).  Faces are paired by
box overlap, not by list position, so two faces of near-equal size may swap places.

Passes when every image has the same number of faces, every paired box overlaps with
IoU >= --min-iou or has every coordinate within --max-px pixels, and every fake
probability agrees within --prob-tol; with --min-images, at least that many images were
compared, and with --varied, the set held a photo with several faces and a readable one
without a face.  The last line printed is a one-line summary
(or the first failure's reason); exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ParityReport:
    images: int = 0
    faces: int = 0
    max_prob_diff: float = 0.0
    min_iou: float = 1.0
    max_box_px: float = 0.0
    max_score_diff: float = 0.0
    max_landmark_px: float = 0.0
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self, label: str) -> str:
        return (f"{label}: {self.images} image(s), {self.faces} face(s): "
                f"max |dp(fake)| {self.max_prob_diff:.2e}, min box IoU {self.min_iou:.4f}, "
                f"max box coord diff {self.max_box_px:.1f} px, max det-score diff {self.max_score_diff:.2e}, "
                f"max landmark diff {self.max_landmark_px:.1f} px")


def read_reports(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    try:
        return [json.loads(ln) for ln in lines]
    except json.JSONDecodeError as exc:
        raise SystemExit(f"{path}: not `fakeface check --json` output ({exc})")


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def pair_faces(ref: list[dict], other: list[dict]) -> list[tuple[dict, dict, float]]:
    """Greedy best-overlap pairing; enough when the two sides agree to a pixel."""
    candidates = sorted(((iou(r["box"], o["box"]), i, j) for i, r in enumerate(ref) for j, o in enumerate(other)),
                        reverse=True)
    used_r, used_o, pairs = set(), set(), []
    for overlap, i, j in candidates:
        if i in used_r or j in used_o:
            continue
        used_r.add(i)
        used_o.add(j)
        pairs.append((ref[i], other[j], overlap))
    return pairs


def compare(ref_reports: list[dict], arm_reports: list[dict], prob_tol: float, min_iou: float,
            max_px: float) -> ParityReport:
    rep = ParityReport(images=len(ref_reports))
    if len(ref_reports) != len(arm_reports):
        rep.failures.append(f"x86 checked {len(ref_reports)} image(s), arm64 {len(arm_reports)}")
        return rep
    for ref, arm in zip(ref_reports, arm_reports):
        name = Path(ref["path"]).name
        if bool(ref.get("error")) != bool(arm.get("error")):
            rep.failures.append(f"{name}: x86 error={ref.get('error')!r} but arm64 error={arm.get('error')!r}")
            continue
        if ref.get("error"):
            rep.notes.append(f"{name}: unreadable on both ({ref['error']})")
            continue
        if len(ref["faces"]) != len(arm["faces"]):
            rep.failures.append(f"{name}: x86 found {len(ref['faces'])} face(s), arm64 {len(arm['faces'])}")
            continue
        for r, a, overlap in pair_faces(ref["faces"], arm["faces"]):
            rep.faces += 1
            px = max(abs(u - v) for u, v in zip(r["box"], a["box"]))
            dp = abs(r["fake_probability"] - a["fake_probability"])
            rep.min_iou = min(rep.min_iou, overlap)
            rep.max_box_px = max(rep.max_box_px, px)
            rep.max_prob_diff = max(rep.max_prob_diff, dp)
            rep.max_score_diff = max(rep.max_score_diff, abs(r["score"] - a["score"]))
            for (rx, ry), (ax, ay) in zip(r.get("landmarks", []), a.get("landmarks", [])):
                rep.max_landmark_px = max(rep.max_landmark_px, abs(rx - ax), abs(ry - ay))
            where = f"{name} box {r['box']}"
            if overlap < min_iou and px > max_px:
                rep.failures.append(f"{where}: arm64 box {a['box']} (IoU {overlap:.4f}, {px:.1f} px off)")
            if dp > prob_tol:
                rep.failures.append(f"{where}: p(fake) x86 {r['fake_probability']:.5f} vs arm64 "
                                    f"{a['fake_probability']:.5f} (diff {dp:.2e} > {prob_tol:g})")
            if r["label"] != a["label"]:
                # Within tolerance this can only be a probability sitting on the threshold.
                (rep.failures if dp > prob_tol else rep.notes).append(
                    f"{where}: label x86 {r['label']} vs arm64 {a['label']}")
    return rep


def coverage_failures(ref_reports: list[dict], min_images: int, varied: bool) -> list[str]:
    """What the compared set lacks: enough images, and with ``varied`` a group photo and a face-free one."""
    failures = []
    if len(ref_reports) < min_images:
        failures.append(f"only {len(ref_reports)} image(s) compared, fewer than --min-images {min_images}")
    readable = [r for r in ref_reports if not r.get("error")]
    if varied and not any(len(r["faces"]) >= 2 for r in readable):
        failures.append("no photo with several faces was compared (--varied)")
    if varied and not any(len(r["faces"]) == 0 for r in readable):
        failures.append("no readable photo without a face was compared (--varied)")
    return failures


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("x86", type=Path, help="reference output (x86 host)")
    ap.add_argument("arm64", type=Path, help="output from the arm64 root")
    ap.add_argument("--prob-tol", type=float, default=1e-3)
    ap.add_argument("--min-iou", type=float, default=0.99)
    ap.add_argument("--max-px", type=float, default=1.0, help="a box also passes if every coordinate is this close")
    ap.add_argument("--label", default="parity", help="name for the summary line")
    ap.add_argument("--min-images", type=int, default=1, help="fail when fewer images were compared")
    ap.add_argument("--varied", action="store_true",
                    help="fail unless a photo with 2+ faces and a readable one without a face were compared")
    args = ap.parse_args(argv)

    ref, arm = read_reports(args.x86), read_reports(args.arm64)
    rep = compare(ref, arm, args.prob_tol, args.min_iou, args.max_px)
    for r, a in zip(ref, arm):
        probs = lambda rr: ", ".join(f"{f['fake_probability']:.5f}" for f in rr["faces"]) or "-"  # noqa: E731
        print(f"{Path(r['path']).name}: faces x86 {len(r['faces'])} / arm64 {len(a['faces'])}; "
              f"p(fake) x86 [{probs(r)}] arm64 [{probs(a)}]")
    for note in rep.notes:
        print(f"note: {note}")
    for failure in rep.failures:
        print(f"MISMATCH: {failure}")
    if rep.faces == 0 and not rep.failures:
        rep.failures.append("no face found on either side: nothing was compared")
    rep.failures += coverage_failures(ref, args.min_images, args.varied)
    if rep.failures:
        print(f"{args.label}: {len(rep.failures)} mismatch(es); first: {rep.failures[0]}")
        return 1
    by_count = sorted({len(r["faces"]) for r in ref if not r.get("error")})
    print(rep.summary(args.label) + f"; faces per image {by_count[0]}..{by_count[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
