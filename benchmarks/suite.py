"""The benchmark suite: enumerate the configurations, time each one, collect the rows.

Stages, each timed per call:
  decode    JPEG bytes of a frame -> RGB array (fakeface.edge.imageio)
  detect    MTCNN on a frame, per detector format x backend x threads x size x min_face
  classify  one face crop through the classifier, per model file x backend x threads
  e2e       FakeFaceChecker.check on a frame (detect + crop + classify every face)
Peers, when asked: the YuNet detector (OpenCV) and the TensorFlow reference stack.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from fakeface.edge.backends import available_backends, backends_for

from .frames import FrameSet
from .models import ModelFile
from .runners import Measurement, TimingPlan, measure, opencv_threads, peak_rss_mb, whole_passes
from .stats import achieved_gflops

STAGES = ("decode", "detect", "classify", "e2e")


def default_thread_counts() -> list[int]:
    """1, 2 and all usable CPUs, without duplicates (a 2-core machine gets [1, 2])."""
    from fakeface.edge.cpus import usable_cpus

    cores = usable_cpus()
    return sorted({1, min(2, cores), cores})


@dataclass
class BenchRow:
    """One measured configuration.  Latencies in ms; ``peak_rss_mb`` is process-wide so far."""

    stage: str
    model: str  # file name, or the detector / peer name
    format: str
    backend: str
    threads: Optional[int]
    size: str  # frame size "640x480", or "crop 128" for the classifier
    min_face: Optional[int] = None
    init_ms: Optional[float] = None
    first_ms: Optional[float] = None
    stats: Optional[dict] = None
    faces: Optional[list] = None  # faces found per distinct frame (detect / e2e)
    labels: Optional[list] = None  # per frame, the labels of its faces (e2e)
    flops: Optional[int] = None  # per call; for detect: P-Net pyramid only (a lower bound)
    profile: Optional[dict] = None  # detect, with --profile: mean ms per part of the cascade
    candidates: Optional[dict] = None  # detect, with --profile: candidates reaching R-/O-Net per frame
    gflops_per_s: Optional[float] = None
    peak_rss_mb: Optional[float] = None
    error: Optional[str] = None

    def to_json(self) -> dict:
        d = asdict(self)
        for k in ("init_ms", "first_ms", "gflops_per_s", "peak_rss_mb"):
            if d[k] is not None:
                d[k] = round(d[k], 4)
        return d


@dataclass
class Job:
    """A configuration not yet run: its row skeleton and a function filling in the numbers."""

    row: BenchRow
    execute: Callable[[BenchRow], None]


def fill_row(row: BenchRow, m: Measurement, flops: Optional[int] = None) -> None:
    row.init_ms, row.first_ms, row.stats = m.init_ms, m.first_ms, m.stats.to_dict()
    row.flops = flops
    row.gflops_per_s = achieved_gflops(flops, m.stats.mean_ms)


def run_jobs(jobs: Sequence[Job], progress: bool = True, log=None) -> list[BenchRow]:
    """Run every job; one failing configuration becomes an error row and the rest go on."""
    from tqdm import tqdm

    rows = []
    bar = tqdm(jobs, desc="bench", unit="config", disable=not progress, file=sys.stderr, leave=False)
    for job in bar:
        r = job.row
        bar.set_postfix_str(f"{r.stage} {r.model} {r.backend} t{r.threads} {r.size}", refresh=False)
        try:
            job.execute(r)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # FakeFaceError, interpreter errors...: recorded, not fatal
            r.error = " ".join(str(exc).split())[:300] or type(exc).__name__
            if os.environ.get("FAKEFACE_DEBUG"):
                traceback.print_exc()
            if log:
                log(f"{r.stage} {r.model} {r.backend} threads={r.threads} {r.size}: {r.error}")
        r.peak_rss_mb = peak_rss_mb()
        rows.append(r)
    return rows


# -- stage builders ------------------------------------------------------------------
def decode_jobs(frame_sets: Sequence[FrameSet], plan: TimingPlan) -> list[Job]:
    from fakeface.edge.imageio import decode_image

    def make(fs: FrameSet):
        def execute(row: BenchRow) -> None:
            m, _ = measure(None, lambda _, i: decode_image(fs.jpegs[i % len(fs.jpegs)], "frame"), plan)
            fill_row(row, m)
        return execute

    return [Job(BenchRow("decode", "jpeg q90", "opencv", "opencv", None, fs.label), make(fs)) for fs in frame_sets]


def detector_backends(exclude: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(model_format, backend) pairs of the shipped MTCNN nets that can run here."""
    have = [b for b in available_backends() if b not in exclude]
    out = []
    for fmt in ("tflite", "onnx"):
        for b in backends_for(f"pnet.{fmt}"):
            if b in have:
                out.append((fmt, b))
    return out


def pnet_pyramid_flops(size: tuple[int, int], min_face: int) -> Optional[int]:
    """FLOPs of P-Net over the whole pyramid of a frame: the part of MTCNN's work that is fixed."""
    from fakeface.edge.mtcnn.detector import DetectorOptions
    from fakeface.edge.mtcnn.nets import net_path
    from fakeface.edge.mtcnn.pyramid import level_shapes, pyramid_scales

    from .flops import tflite_macs

    w, h = size
    pnet = net_path("pnet", "tflite")
    if not pnet.is_file():
        return None
    levels = level_shapes(h, w, pyramid_scales(h, w, min_face, DetectorOptions().scale_factor))
    return 2 * sum(tflite_macs(pnet, (1, lh, lw, 3)) for _, (lh, lw) in levels)


def detect_jobs(frame_sets, plan, threads, min_faces, exclude_backends=(), profile=False) -> list[Job]:
    from fakeface.edge.mtcnn.detector import Detector, DetectorOptions

    from .stage_profile import profile_detector

    def make(fmt, backend, t, fs, mf):
        def execute(row: BenchRow) -> None:
            build = lambda: Detector(DetectorOptions(min_face_size=mf, backend=backend, threads=t, model_format=fmt))
            with opencv_threads(t):
                m, det = measure(build, lambda d, i: d.detect(fs.frames[i % len(fs.frames)]),
                                 whole_passes(plan, len(fs.frames)))
                try:
                    row.faces = [len(det.detect(f)) for f in fs.frames]
                    if profile:
                        row.profile, row.candidates = profile_detector(det, fs.frames, plan)
                finally:
                    det.close()
            fill_row(row, m, pnet_pyramid_flops(fs.size, mf))
        return execute

    jobs = []
    for fmt, backend in detector_backends(exclude_backends):
        for t in threads:
            for fs in frame_sets:
                for mf in min_faces:
                    row = BenchRow("detect", f"mtcnn {fmt}", f"{fmt} fp32", backend, t, fs.label, mf)
                    jobs.append(Job(row, make(fmt, backend, t, fs, mf)))
    return jobs


def face_crops(photos: Sequence[np.ndarray], input_size: int) -> np.ndarray:
    """Contract crops of the faces MTCNN finds in the photos (a centre crop if none is found)."""
    import cv2

    from fakeface.edge.contract import ModelContract, crop_face
    from fakeface.edge.mtcnn.detector import Detector, DetectorOptions

    contract = ModelContract(input_size=input_size)
    crops = []
    with Detector(DetectorOptions(threads=1, model_format="auto")) as det:
        for p in photos:
            crops += [crop_face(p, f.box, contract) for f in det.detect(p)]
    if not crops:
        h, w = photos[0].shape[:2]
        s = min(h, w)
        crops = [cv2.resize(photos[0][(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2], (input_size, input_size))]
    return np.stack(crops)


def classify_jobs(models: Sequence[ModelFile], photos, plan, threads) -> list[Job]:
    from fakeface.edge.classifier import Classifier
    from fakeface.edge.contract import load_contract

    crops_by_size: dict[int, np.ndarray] = {}

    def make(mf: ModelFile, backend, t):
        def execute(row: BenchRow) -> None:
            s = load_contract(mf.path, verify_hash=False).input_size
            if s not in crops_by_size:
                crops_by_size[s] = face_crops(photos, s)
            crops = crops_by_size[s]
            # One face per call, as a camera frame usually holds one: batch 1 is what
            # benchmark_model measures too.
            m, clf = measure(lambda: Classifier(mf.path, backend=backend, threads=t),
                             lambda c, i: c.predict_crops(crops[i % len(crops)][None]), plan)
            clf.close()
            row.size = f"crop {s}"
            fill_row(row, m, mf.flops)
        return execute

    return [Job(BenchRow("classify", mf.path.name, mf.format, b, t, "crop"), make(mf, b, t))
            for mf in models for b in mf.backends for t in threads]


def e2e_jobs(models: Sequence[ModelFile], frame_sets, plan, threads, min_faces) -> list[Job]:
    from fakeface.edge.mtcnn.detector import DetectorOptions
    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    def make(mf: ModelFile, backend, t, fs: FrameSet, min_face):
        def execute(row: BenchRow) -> None:
            # The detector nets follow the classifier's backend (ONNX nets for onnxruntime).
            opts = CheckerOptions(model_path=str(mf.path), backend=backend, threads=t, min_face_size=min_face,
                                  detector=DetectorOptions(model_format="auto"))
            with opencv_threads(t):
                m, checker = measure(lambda: FakeFaceChecker(opts),
                                     lambda c, i: c.check(fs.frames[i % len(fs.frames)]),
                                     whole_passes(plan, len(fs.frames)))
                try:
                    results = [checker.check(f) for f in fs.frames]
                finally:
                    checker.close()
            row.faces = [len(r) for r in results]
            row.labels = [[f.label for f in r] for r in results]
            flops = None
            pyramid = pnet_pyramid_flops(fs.size, min_face)
            if pyramid is not None and mf.flops is not None:
                flops = pyramid + mf.flops * max(row.faces[0], 0)
            fill_row(row, m, flops)
        return execute

    return [Job(BenchRow("e2e", mf.path.name, mf.format, b, t, fs.label, mface), make(mf, b, t, fs, mface))
            for mf in models for b in mf.backends for t in threads for fs in frame_sets for mface in min_faces]
