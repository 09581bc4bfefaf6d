"""Timing loops with the benchmark_model / onnxruntime_perf_test conventions.

A measurement is: build the thing (init time), run once (first inference: lazy
allocations, kernel packing, caches), a few warm-up runs that are thrown away, then
timed runs until ``runs`` are done or ``seconds`` have passed, whichever comes first.
Each timed run is the wall time of the call alone (time.perf_counter around it).
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from .stats import LatencyStats, summarize

DEFAULT_RUNS = 50
DEFAULT_WARMUP = 5


@dataclass
class TimingPlan:
    """How many runs: ``runs`` and/or a ``seconds`` budget (at least one timed run always)."""

    warmup: int = DEFAULT_WARMUP
    runs: Optional[int] = DEFAULT_RUNS
    seconds: Optional[float] = None

    def __post_init__(self):
        if self.runs is None and self.seconds is None:
            self.runs = DEFAULT_RUNS


def whole_passes(plan: TimingPlan, frames: int) -> TimingPlan:
    """``plan`` with its run count rounded up to whole passes over ``frames`` frames, so that
    every frame is timed equally often and a row's percentiles weigh each frame the same
    (a ``seconds`` budget may still stop it early)."""
    if frames <= 1 or plan.runs is None or plan.runs % frames == 0:
        return plan
    return TimingPlan(warmup=plan.warmup, runs=-(-plan.runs // frames) * frames, seconds=plan.seconds)


@dataclass
class Measurement:
    init_ms: Optional[float]
    first_ms: float
    stats: LatencyStats
    last_result: Any = field(default=None, repr=False)


def peak_rss_mb() -> float:
    """Peak resident set size of this whole process so far, in MiB (not of one model)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def time_calls(fn: Callable[[int], Any], plan: TimingPlan) -> tuple[list[float], Any]:
    """Warm up, then time ``fn(i)`` per run; returns (per-run ms, last return value).

    ``fn`` gets the run number so callers can cycle through several frames.
    """
    result = None
    for i in range(plan.warmup):
        result = fn(i)
    samples: list[float] = []
    limit = plan.runs if plan.runs is not None else sys.maxsize
    deadline = time.perf_counter() + plan.seconds if plan.seconds is not None else None
    i = 0
    while i < limit:
        t0 = time.perf_counter()
        result = fn(i)
        samples.append((time.perf_counter() - t0) * 1e3)
        i += 1
        if deadline is not None and time.perf_counter() >= deadline:
            break
    return samples, result


def measure(build: Optional[Callable[[], Any]], call: Callable[[Any, int], Any], plan: TimingPlan) -> tuple[Measurement, Any]:
    """Time ``build()`` (init), the first ``call(obj, 0)``, then the steady-state runs.

    Returns the measurement and the built object (the caller closes it).
    """
    init_ms = None
    obj = None
    if build is not None:
        t0 = time.perf_counter()
        obj = build()
        init_ms = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    first = call(obj, 0)
    first_ms = (time.perf_counter() - t0) * 1e3
    samples, last = time_calls(lambda i: call(obj, i), plan)
    return Measurement(init_ms, first_ms, summarize(samples), last if samples else first), obj


@contextlib.contextmanager
def opencv_threads(threads: Optional[int]):
    """OpenCV's one global pool (pyramid resizes, YuNet) at the row's thread count, so a
    "1 thread" row really runs one thread; the previous count is restored after."""
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(int(threads or before))
    try:
        yield
    finally:
        cv2.setNumThreads(before)
