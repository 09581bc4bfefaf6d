"""One small adapter over the two face detectors `prepare` and `evaluate` can use.

``edge``  : fakeface.edge.mtcnn.detector.Detector, the TF-free runtime detector, so
            training crops come from exactly the boxes users will get;
``mtcnn`` : the reference ``mtcnn`` package (TensorFlow), as in BASELINE.md.
Both return :class:`fakeface.edge.faces.FaceBox` lists, best face first.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from fakeface.edge.errors import FakeFaceError
from fakeface.edge.faces import FaceBox, LANDMARK_NAMES
from fakeface.edge.tf_environment import set_tf_environment

DETECTORS = ("edge", "mtcnn")
DEFAULT_MIN_FACE = 20  # the mtcnn package's default, used by the reference pipeline

# Takes a list of RGB images, returns one face list per image: the reference mtcnn
# package is ~3x faster on a batch than image by image (TF call overhead).
FaceDetector = Callable[["list[np.ndarray]"], "list[list[FaceBox]]"]


def _edge_detector(min_face_size: int, threads: int) -> FaceDetector:
    """`check`'s own face search (fakeface.edge.pipeline.find_faces: the working copy, the
    min-face rule), so training crops come from exactly the boxes users get."""
    try:
        from fakeface.edge.checker_options import DEFAULT_WORKING_PIXELS
        from fakeface.edge.mtcnn.detector import Detector, DetectorOptions
        from fakeface.edge.pipeline import find_faces
    except ImportError as exc:
        raise FakeFaceError(f"the edge detector is not available in this install ({exc}); use --detector mtcnn") from None
    options = DetectorOptions(min_face_size=min_face_size, threads=threads)
    det = Detector(options)
    return lambda images: [find_faces(det, options, rgb, min_face_size, DEFAULT_WORKING_PIXELS) for rgb in images]


def _mtcnn_detector(min_face_size: int, threads: int) -> FaceDetector:
    try:
        set_tf_environment()
        import tensorflow as tf
        from mtcnn import MTCNN
    except ImportError as exc:
        raise FakeFaceError(f"--detector mtcnn needs the mtcnn package: pip install 'fakeface[train]' ({exc})") from None
    try:  # one thread per worker process: the pool, not TF, spreads work over the cores
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:  # TF already initialised in this process; keep its settings
        pass
    det = MTCNN()

    def to_facebox(f: dict) -> FaceBox:
        kp = f.get("keypoints", {})
        marks = [tuple(float(v) for v in kp[n]) for n in LANDMARK_NAMES if n in kp]
        return FaceBox(box=tuple(float(v) for v in f["box"]), score=float(f["confidence"]), landmarks=marks)

    def detect(images: list[np.ndarray]) -> list[list[FaceBox]]:
        if not images:
            return []
        if len(images) == 1:
            found = [det.detect_faces(images[0], min_face_size=min_face_size) or []]
        else:
            found = det.detect_faces(list(images), min_face_size=min_face_size)
        return [[to_facebox(f) for f in per_image] for per_image in found]

    return detect


def make_detector(name: str, min_face_size: int = DEFAULT_MIN_FACE, threads: int = 1) -> FaceDetector:
    """Build a detector; faces come back sorted by score, highest first."""
    if name == "edge":
        inner = _edge_detector(min_face_size, threads)
    elif name == "mtcnn":
        inner = _mtcnn_detector(min_face_size, threads)
    else:
        raise FakeFaceError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")

    def detect(images: list[np.ndarray]) -> list[list[FaceBox]]:
        out = []
        for faces in inner(images):
            faces = [f for f in faces if f.box[2] > 0 and f.box[3] > 0]
            out.append(sorted(faces, key=lambda f: -f.score))
        return out

    return detect
