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

# Profiled detections per row at most: averages settle long before the timed runs do.
MAX_PROFILED = 30


def profile_detector(detector, frames: Sequence[np.ndarray], plan: TimingPlan) -> dict:
    """Mean ms per part over up to MAX_PROFILED detections (after the timed runs: warm)."""
    from fakeface.edge.mtcnn.profile import StageClock

    clock = StageClock()
    for i in range(min(plan.runs or MAX_PROFILED, MAX_PROFILED)):
        detector.detect(frames[i % len(frames)], clock=clock)
    parts = clock.per_detection()
    parts["total"] = sum(parts.values())
    return {k: round(v, 4) for k, v in parts.items()}


def profile_lines(doc: dict) -> list[str]:
    """One table per run: a row per profiled detect configuration, a column per part."""
    rows = [r for r in doc["results"] if r.get("profile")]
    if not rows:
        return []
    parts = list(rows[0]["profile"])
    head = f"{'profile (ms)':<34}" + "".join(f"{p:>10}" for p in parts)
    out = [head, "-" * len(head)]
    for r in rows:
        label = f"{r['model'].split()[-1]} {r['backend']} t{r['threads']} {r['size']} mf{r['min_face']}"
        out.append(f"{label[:33]:<34}" + "".join(f"{r['profile'].get(p, 0.0):>10.2f}" for p in parts))
    return out
