"""The edge pipeline: detect faces, then classify each one.  MediaPipe-Tasks-like API.

    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    with FakeFaceChecker.create_from_options(CheckerOptions(threads=2)) as checker:
        for face in checker.check(rgb_image):
            print(face.box, face.label, face.fake_probability)
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional

import numpy as np

from .classifier import Classifier, default_model_path
from .errors import FakeFaceError
from .faces import FaceResult, ImageReport
from .imageio import load_image
from .mtcnn.detector import Detector, DetectorOptions


@dataclass
class CheckerOptions:
    """Settings of a FakeFaceChecker.  Defaults suit photos; see `min_face_size` for face unlock."""

    model_path: Optional[str] = None  # None: the shipped default model for the backend
    backend: str = "auto"  # auto | litert | tflite-runtime | onnxruntime
    threads: Optional[int] = None  # None: all cores
    # Smallest face the detector looks for, in pixels.  Larger is faster: a face-unlock
    # camera sees one close face, so ~80 there.
    min_face_size: int = 20
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    max_pixels: Optional[int] = None  # refuse larger images (None: the package's hard cap)
    max_faces: Optional[int] = None  # classify only the N most confident faces


class FakeFaceChecker:
    """Finds faces and scores each as real or fake.  Use as a context manager."""

    def __init__(self, options: CheckerOptions | None = None):
        self.options = options or CheckerOptions()
        o = self.options
        model_path = Path(o.model_path) if o.model_path else default_model_path(o.backend)
        self.classifier = Classifier(model_path, backend=o.backend, threads=o.threads)
        det = dataclasses.replace(o.detector, min_face_size=o.min_face_size, backend=o.backend, threads=o.threads)
        self.detector = Detector(det)

    @classmethod
    def create_from_options(cls, options: CheckerOptions) -> "FakeFaceChecker":
        return cls(options)

    @property
    def contract(self):
        return self.classifier.contract

    # -- image mode ---------------------------------------------------------------
    def check(self, image_rgb: np.ndarray) -> list[FaceResult]:
        """Detect and classify every face of an RGB uint8 image, most confident first."""
        faces = self.detector.detect(image_rgb)
        # MTCNN's min_face_size only sets the pyramid's first scale, and the box
        # regression can still return a smaller face; enforce the promise here.
        faces = [f for f in faces if max(f.box[2], f.box[3]) >= self.options.min_face_size]
        if self.options.max_faces is not None:
            faces = faces[: self.options.max_faces]
        return self.classifier.classify(image_rgb, faces)

    def check_file(self, path: str | os.PathLike) -> ImageReport:
        """Like `check` for a file; problems with the file become the report's error."""
        try:
            image = load_image(path, self.options.max_pixels)
            return ImageReport(str(path), self.check(image))
        except FakeFaceError as exc:
            return ImageReport(str(path), error=str(exc))

    # -- video mode ---------------------------------------------------------------
    def check_stream(self, frames: Iterable[np.ndarray]) -> Iterator[list[FaceResult]]:
        """Check RGB frames one after another (for files or cameras, see stream.py)."""
        for frame in frames:
            yield self.check(frame)

    def close(self) -> None:
        self.detector.close()
        self.classifier.close()

    def __enter__(self) -> "FakeFaceChecker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
