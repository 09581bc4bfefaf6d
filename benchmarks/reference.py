"""The reference stack, as the article the project started from builds it: TensorFlow all the way.

``mtcnn.MTCNN().detect_faces`` finds the faces; the most confident one is cut out with a
10% margin, resized to the model's input and scored by the Keras model.  TensorFlow is
imported only here, and only when ``--with-reference`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .frames import FrameSet
from .runners import TimingPlan, measure, whole_passes
from fakeface.edge.contract import fake_probabilities
from fakeface.edge.tf_environment import set_tf_environment

from .suite import BenchRow, Job, fill_row

MARGIN = 0.10  # the article's margin, a fraction of the box on each side


def _import_tf(threads: Optional[int]):
    set_tf_environment()
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise RuntimeError(f"--with-reference needs TensorFlow and mtcnn: pip install 'fakeface[train]' ({exc})") from None
    if threads:
        try:  # only possible before TF has started its thread pools
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
    return tf


class ReferenceStack:
    """mtcnn + Keras.  ``check(frame)`` -> (faces found, [(box, p_fake)] for the best face)."""

    def __init__(self, keras_path: str | Path, threads: Optional[int] = None):
        _import_tf(threads)
        import keras
        from mtcnn import MTCNN

        path = Path(keras_path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: reference Keras model not found")
        self.detector = MTCNN()
        # safe_mode refuses Lambda layers with pickled code: a model file is data, not a program.
        self.model = keras.models.load_model(path, safe_mode=True, compile=False)
        self.input_size = int(self.model.input_shape[1])

    def crop(self, frame: np.ndarray, box: Sequence[float]) -> np.ndarray:
        import cv2

        x, y, w, h = (int(v) for v in box)
        mx, my = int(w * MARGIN), int(h * MARGIN)
        H, W = frame.shape[:2]
        x0, y0 = max(0, x - mx), max(0, y - my)
        x1, y1 = min(W, x + w + mx), min(H, y + h + my)
        return cv2.resize(frame[y0:y1, x0:x1], (self.input_size, self.input_size))

    def check(self, frame: np.ndarray, min_face: int = 20) -> tuple[int, Optional[float]]:
        try:
            faces = self.detector.detect_faces(frame, min_face_size=min_face)
        except Exception as exc:
            if "empty output" in str(exc) and min_face > 20:
                # mtcnn 1.0.0 builds pyramid levels smaller than P-Net's kernel when
                # min_face_size is large, and its Keras P-Net then raises.
                raise RuntimeError(f"the mtcnn package cannot run min_face_size={min_face} on a "
                                   f"{frame.shape[1]}x{frame.shape[0]} frame (pyramid level smaller than P-Net)") from None
            raise
        if not faces:
            return 0, None
        best = max(faces, key=lambda f: f["confidence"])
        crop = self.crop(frame, best["box"]).astype(np.float32)[None]
        p = float(fake_probabilities(self.model(crop, training=False))[0])
        return len(faces), p


def reference_jobs(keras_path: str, frame_sets: Sequence[FrameSet], plan: TimingPlan, threads: int,
                   min_faces: Sequence[int], threshold: float = 0.5, labels=("real", "fake")) -> list[Job]:
    stacks: list[ReferenceStack] = []

    def make(fs: FrameSet, mf: int):
        def execute(row: BenchRow) -> None:
            cached = bool(stacks)
            if not cached:  # loaded once: the first row's init pays TF's import and the model load
                build = lambda: stacks.append(ReferenceStack(keras_path, threads)) or stacks[0]
            else:
                build = lambda: stacks[0]
            m, stack = measure(build, lambda s, i: s.check(fs.frames[i % len(fs.frames)], mf),
                               whole_passes(plan, len(fs.frames)))
            results = [stack.check(f, mf) for f in fs.frames]
            row.faces = [n for n, _ in results]
            row.labels = [[] if p is None else [labels[1] if p >= threshold else labels[0]] for _, p in results]
            fill_row(row, m)
            if cached:
                row.init_ms = None
        return execute

    return [Job(BenchRow("reference_e2e", "mtcnn + keras", "keras fp32", "tensorflow", threads, fs.label, mf),
                make(fs, mf)) for fs in frame_sets for mf in min_faces]


def compare(rows: Sequence[BenchRow]) -> list[dict]:
    """Edge end-to-end vs the reference on the same frames: speed-up and same decisions.

    Same decisions = same number of faces on every frame, and the edge's most confident
    face carries the label the reference gives its (only) face.
    """
    refs = [r for r in rows if r.stage == "reference_e2e" and r.stats]
    out = []
    for ref in refs:
        for r in rows:
            if r.stage != "e2e" or not r.stats or r.size != ref.size or r.min_face != ref.min_face:
                continue
            same_faces = r.faces == ref.faces
            same_labels = all((e[:1] == f[:1]) for e, f in zip(r.labels or [], ref.labels or []))
            out.append({
                "size": r.size, "min_face": r.min_face, "model": r.model, "format": r.format,
                "backend": r.backend, "threads": r.threads, "reference_threads": ref.threads,
                "edge_mean_ms": r.stats["mean_ms"], "reference_mean_ms": ref.stats["mean_ms"],
                "edge_over_reference": round(r.stats["mean_ms"] / ref.stats["mean_ms"], 4),
                "speedup": round(ref.stats["mean_ms"] / r.stats["mean_ms"], 3),
                "edge_faces": r.faces, "reference_faces": ref.faces,
                "same_faces": same_faces, "same_labels": same_labels,
                "same_decisions": bool(same_faces and same_labels),
            })
    return out
