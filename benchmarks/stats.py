"""Latency statistics, computed the way TFLite's benchmark_model and onnxruntime_perf_test report them.

Warm-up runs are never part of the samples; init time and the first inference are
recorded apart (they are what a cold start costs, not what a steady stream costs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence


def percentile(sorted_ms: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks.

    Same definition as numpy's default ('linear'), written out so the stats module
    does not depend on numpy's method names changing between versions.
    """
    if not sorted_ms:
        return float("nan")
    if len(sorted_ms) == 1:
        return float(sorted_ms[0])
    pos = (len(sorted_ms) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_ms) - 1)
    frac = pos - lo
    return float(sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * frac)


@dataclass
class LatencyStats:
    """Summary of N timed runs, in milliseconds.  ``fps`` is 1000 / mean."""

    runs: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    fps: float

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(samples_ms: Sequence[float]) -> LatencyStats:
    """Summarise per-run wall times (ms).  Raises ValueError on an empty list."""
    if len(samples_ms) == 0:
        raise ValueError("no timed runs to summarise")
    s = sorted(float(v) for v in samples_ms)
    n = len(s)
    mean = sum(s) / n
    # Sample standard deviation (n - 1), as benchmark_model prints it.
    std = math.sqrt(sum((v - mean) ** 2 for v in s) / (n - 1)) if n > 1 else 0.0
    return LatencyStats(
        runs=n, mean_ms=mean, std_ms=std, min_ms=s[0],
        p50_ms=percentile(s, 50), p90_ms=percentile(s, 90), p99_ms=percentile(s, 99), max_ms=s[-1],
        fps=1000.0 / mean if mean > 0 else float("inf"),
    )


def achieved_gflops(flops: int | None, mean_ms: float) -> float | None:
    """Useful work per second: the model's FLOPs over its mean latency, in GFLOP/s."""
    if not flops or not mean_ms or mean_ms <= 0:
        return None
    return flops / (mean_ms * 1e-3) / 1e9
