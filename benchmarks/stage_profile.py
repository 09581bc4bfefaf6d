"""`fakeface bench --profile`: where one detection's time goes, part by part.

The detector's own stage clock (fakeface.edge.mtcnn.profile) times the pyramid (resize and
normalise), each net, the patch cropping before R- and O-Net and each post-processing
step, with nothing but a perf_counter call between parts, so the parts add up to the
detection's wall time and the next bottleneck is visible on any device.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .runners import TimingPlan

# The parts that run a net; the rest is work around them.
NET_PARTS = ("pnet", "rnet", "onet")
# Profiled detections per row at most: averages settle long before the timed runs do.
MAX_PROFILED = 40


def profile_detector(detector, frames: Sequence[np.ndarray], plan: TimingPlan) -> tuple[dict, dict]:
    """Mean ms per part over up to MAX_PROFILED detections, or one pass over more frames than
    that (after the timed runs: warm); every frame is profiled equally often.  Also the
    candidates that reached R-Net and O-Net: median, min and max per detection."""
    from fakeface.edge.mtcnn.profile import StageClock

    clock = StageClock()
    count = min(plan.runs or MAX_PROFILED, MAX_PROFILED)
    count = max(count - count % len(frames), len(frames))
    for i in range(count):
        detector.detect(frames[i % len(frames)], clock=clock)
    parts = clock.per_detection()
    parts["total"] = sum(parts.values())
    candidates = {net: {"median": float(np.median(n)), "min": min(n), "max": max(n)}
                  for net, n in clock.counts.items()}
    return {k: round(v, 4) for k, v in parts.items()}, candidates


def profile_lines(doc: dict) -> list[str]:
    """One table per run: a row per profiled detect configuration, a column per part."""
    rows = [r for r in doc["results"] if r.get("profile")]
    if not rows:
        return []
    parts = list(rows[0]["profile"])
    head = (f"{'profile (ms)':<34}" + "".join(f"{p:>10}" for p in parts)
            + f"{'outside':>9}{'R-Net in':>10}{'O-Net in':>10}")
    out = [head, "-" * len(head)]
    for r in rows:
        label = f"{r['model'].split()[-1]} {r['backend']} t{r['threads']} {r['size']} mf{r['min_face']}"
        prof = r["profile"]
        nets = sum(prof.get(p, 0.0) for p in NET_PARTS)
        outside = 1 - nets / prof["total"] if prof.get("total") else 0.0
        counts = r.get("candidates") or {}
        per_net = "".join(f"{counts[n]['median']:>10.0f}" if n in counts else f"{'-':>10}" for n in ("rnet", "onet"))
        out.append(f"{label[:33]:<34}" + "".join(f"{prof.get(p, 0.0):>10.2f}" for p in parts)
                   + f"{outside:>9.0%}" + per_net)
    out.append("outside: the share of a detection spent outside the three nets; R-Net in, O-Net in: "
               "candidates per frame reaching each net (median)")
    return out
