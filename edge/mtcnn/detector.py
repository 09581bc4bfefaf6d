"""MTCNN face detector on numpy + OpenCV + a TFLite/ONNX interpreter, no TensorFlow.

Reproduces mtcnn 1.0.0 (``mtcnn.MTCNN().detect_faces``) with its defaults: same pyramid,
same NMS rule, same patch sampling, same nets (converted, outputs within 1e-6).  Boxes
come back as unrounded floats, clipped to the image like mtcnn's; landmarks unclipped.

    with Detector(DetectorOptions(min_face_size=40)) as det:
        faces = det.detect(image_rgb)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import ImageError
from ..faces import FaceBox
from .boxes import clip_to_image
from .nets import open_nets
from .profile import NoClock
from .pyramid import PyramidPlan
from .stages import run_onet, run_pnet, run_rnet
from .workspace import Workspace


# A plan is kept for the next call when its buffers fit in this (a 1080p frame's: 65 MB);
# a 12-MP photo's (143 MB) are freed as soon as its detection is done.
KEEP_PLAN_BYTES = 80 * 2**20


class InvalidImageArray(ImageError, ValueError):
    """The array handed to ``detect`` is not an H x W x 3 uint8 RGB image."""


@dataclass
class DetectorOptions:
    # Smallest face side, in pixels, the pyramid is built to find.
    min_face_size: int = 20
    # Face-probability cut-offs after P-, R- and O-Net.
    thresholds: tuple[float, float, float] = (0.6, 0.7, 0.8)
    # Ratio between consecutive pyramid levels.
    scale_factor: float = 0.709
    backend: str = "auto"  # auto | litert | tflite-runtime | onnxruntime
    threads: Optional[int] = None  # interpreter threads; None = the CPUs this process may use
    # Which shipped nets: tflite | onnx | auto (onnx for backend onnxruntime, else tflite
    # when a TFLite interpreter is installed).
    model_format: str = "auto"

    def validate(self) -> None:
        if not (isinstance(self.min_face_size, (int, float)) and self.min_face_size > 0):
            raise ValueError(f"min_face_size must be a positive number of pixels, not {self.min_face_size!r}")
        if len(self.thresholds) != 3 or not all(0.0 <= float(t) <= 1.0 for t in self.thresholds):
            raise ValueError(f"thresholds must be three probabilities in [0, 1], not {self.thresholds!r}")
        if not 0.0 < self.scale_factor < 1.0:
            raise ValueError(f"scale_factor must be in (0, 1), not {self.scale_factor!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, not {self.threads!r}")


def check_image(image_rgb) -> np.ndarray:
    if not isinstance(image_rgb, np.ndarray):
        raise InvalidImageArray(f"expected an H x W x 3 uint8 numpy array, got {type(image_rgb).__name__}")
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise InvalidImageArray(f"expected an H x W x 3 RGB array, got shape {image_rgb.shape}")
    if image_rgb.dtype != np.uint8:
        raise InvalidImageArray(f"expected a uint8 image (0..255), got dtype {image_rgb.dtype}")
    if image_rgb.shape[0] == 0 or image_rgb.shape[1] == 0:
        raise InvalidImageArray(f"image is empty (shape {image_rgb.shape})")
    return image_rgb


class Detector:
    """Three-stage MTCNN cascade.  Not thread-safe: use one Detector per thread.

    Keeps what depends only on the frame shape (the pyramid plan and its buffers; the
    nets keep an interpreter per input shape) from one call to the next, so frames of a
    fixed-size camera reuse all of it.
    """

    def __init__(self, options: Optional[DetectorOptions] = None, model_dir=None):
        self.options = options or DetectorOptions()
        self.options.validate()
        self._nets = open_nets(self.options.model_format, self.options.backend, self.options.threads, model_dir)
        # Only the latest shape's plan, and only a frame-sized one (see KEEP_PLAN_BYTES).
        self._plan: Optional[PyramidPlan] = None
        # Patch-cropping scratch for R- and O-Net (bounded by stages.CROP_PIXELS).
        self._crop_work = (Workspace(), Workspace())

    @property
    def backend(self) -> str:
        return self._nets["pnet"].backend

    def plan_for(self, height: int, width: int) -> PyramidPlan:
        opts = self.options
        key = (height, width, float(opts.min_face_size), float(opts.scale_factor))
        if self._plan is None or self._plan.key != key:
            self._plan = PyramidPlan(height, width, opts.min_face_size, opts.scale_factor)
        return self._plan

    def detect_array(self, image_rgb: np.ndarray, clock=None) -> np.ndarray:
        """Raw result: rows x1, y1, x2, y2, score, x1..x5, y1..y5 (landmarks), best first.

        ``clock``: a ``profile.StageClock`` that collects the time of each part.
        """
        clock = clock or NoClock()
        clock.start()
        # Patch cropping gathers through a flat view; views such as a mirror get one copy.
        image = np.ascontiguousarray(check_image(image_rgb))
        height, width = image.shape[:2]
        plan = self.plan_for(height, width)
        if not plan.levels:
            return np.empty((0, 15))
        t_p, t_r, t_o = (float(t) for t in self.options.thresholds)
        cands = run_pnet(self._nets["pnet"], image, plan, t_p, clock)
        cands = run_rnet(self._nets["rnet"], image, cands, t_r, clock, self._crop_work[0])
        cands = run_onet(self._nets["onet"], image, cands, t_o, clock, self._crop_work[1])
        if plan.nbytes > KEEP_PLAN_BYTES:
            self._plan = None
        return clip_to_image(cands, height, width)

    def detect(self, image_rgb: np.ndarray, clock=None) -> list[FaceBox]:
        """Faces in an RGB uint8 image, highest score first."""
        rows = self.detect_array(image_rgb, clock)
        faces = []
        for r in rows:
            x1, y1, x2, y2, score = (float(v) for v in r[:5])
            landmarks = [(float(r[5 + i]), float(r[10 + i])) for i in range(5)]
            faces.append(FaceBox(box=(x1, y1, x2 - x1, y2 - y1), score=score, landmarks=landmarks))
        faces.sort(key=lambda f: f.score, reverse=True)
        return faces

    def close(self) -> None:
        for net in self._nets.values():
            net.close()
        self._nets = {}
        self._plan = None

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
