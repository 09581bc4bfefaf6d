"""`fakeface bench` itself: build the frames and the job list, run it, write the results file."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from .fingerprint import device_fingerprint
from .frames import DEFAULT_SIZES, build_frame_sets, load_photos, size_label
from .models import discover_models
from .results import SCHEMA, default_results_path, write_results
from .runners import TimingPlan, peak_rss_mb
from .suite import STAGES, default_thread_counts, run_jobs


@dataclass
class BenchSettings:
    stages: Sequence[str] = STAGES
    model_files: Sequence[str] = ()
    models_dir: Optional[str] = None
    backends: Optional[Sequence[str]] = None  # None: every available one
    threads: Sequence[int] = field(default_factory=default_thread_counts)
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES
    min_faces: Sequence[int] = (20, 80)
    images: Sequence[str] = ()
    plan: TimingPlan = field(default_factory=TimingPlan)
    device_name: Optional[str] = None
    peak_gflops: Optional[float] = None
    with_reference: bool = False
    reference_model: Optional[str] = None
    yunet: Optional[str] = None
    profile: bool = False  # detect rows also get the per-part stage profile
    progress: bool = True


def run_benchmark(s: BenchSettings, log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Run the configured benchmark; returns the results document (not yet written)."""
    from fakeface.edge.backends import BACKENDS

    from .suite import classify_jobs, decode_jobs, detect_jobs, e2e_jobs

    started = time.time()
    # tflite-runtime crashes in a process that also imports TensorFlow.
    exclude = ["tflite-runtime"] if s.with_reference else []
    if s.backends:
        exclude += [b for b in BACKENDS if b not in s.backends]
    photos, sources = load_photos(s.images)
    frame_sets = build_frame_sets(photos, sources, s.sizes)
    models, notes = ([], [])
    if "classify" in s.stages or "e2e" in s.stages or s.with_reference:
        models, notes = discover_models(s.model_files, s.models_dir, exclude)
    if "tflite-runtime" not in exclude:
        # How the legacy interpreter runs int8 files (and that its threads are capped): one line.
        from fakeface.edge.tflite_legacy import int8_xnnpack_note

        legacy_note = int8_xnnpack_note()
        notes = notes + ([legacy_note] if legacy_note else [])
    for n in notes:
        log(f"fakeface bench: {n}")

    jobs = []
    if "decode" in s.stages:
        jobs += decode_jobs(frame_sets, s.plan)
    if "detect" in s.stages:
        jobs += detect_jobs(frame_sets, s.plan, s.threads, s.min_faces, exclude, s.profile)
    if s.yunet and "detect" in s.stages:
        from .yunet import yunet_jobs

        jobs += yunet_jobs(s.yunet, frame_sets, s.plan, s.threads)
    if "classify" in s.stages:
        jobs += classify_jobs(models, photos, s.plan, s.threads)
    if "e2e" in s.stages or s.with_reference:
        jobs += e2e_jobs(models, frame_sets, s.plan, s.threads, s.min_faces)
    rows = run_jobs(jobs, progress=s.progress, log=lambda m: log(f"fakeface bench: {m}"))

    comparison = None
    if s.with_reference:
        # Last, so that TensorFlow's import and thread pools cannot slow the edge runs.
        from .reference import compare, reference_jobs

        threshold, labels = 0.5, ("real", "fake")
        if models:
            from fakeface.edge.contract import load_contract

            c = load_contract(models[0].path, verify_hash=False)
            threshold, labels = c.threshold, tuple(c.labels)
        ref_threads = max(s.threads)
        rows += run_jobs(reference_jobs(s.reference_model, frame_sets, s.plan, ref_threads, s.min_faces,
                                        threshold, labels),
                         progress=s.progress, log=lambda m: log(f"fakeface bench: {m}"))
        comparison = compare(rows)

    return {
        "schema": SCHEMA,
        "tool": "fakeface bench",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": round(time.time() - started, 2),
        "device": device_fingerprint(s.device_name, s.peak_gflops),
        "settings": {
            "stages": list(s.stages), "threads": list(s.threads), "sizes": [size_label(z) for z in s.sizes],
            "min_faces": list(s.min_faces), "warmup": s.plan.warmup, "runs": s.plan.runs, "seconds": s.plan.seconds,
            "images": sources, "with_reference": s.with_reference, "reference_model": s.reference_model,
            "yunet": s.yunet, "profile": s.profile,
        },
        "notes": notes + ["peak_rss_mb is ru_maxrss of the whole benchmark process when the row finished "
                          "(monotone: it includes every earlier configuration)",
                          "detect flops count P-Net over the pyramid only (R-/O-Net depend on the candidates)"],
        "models": [m.to_json() for m in models],
        "results": [r.to_json() for r in rows],
        "reference_comparison": comparison,
        "peak_rss_mb": round(peak_rss_mb(), 2),
    }


def bench_and_write(s: BenchSettings, out: Optional[str]) -> Path:
    doc = run_benchmark(s)
    path = Path(out) if out else default_results_path(doc["device"]["name"])
    if path.is_dir() or (out and out.endswith(os.sep)):
        path = default_results_path(doc["device"]["name"], path)
    return write_results(path, doc)
