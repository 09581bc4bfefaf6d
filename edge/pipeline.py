"""The edge pipeline: detect faces, then classify each one.  MediaPipe-Tasks-like API.

    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    with FakeFaceChecker.create_from_options(CheckerOptions(threads=2)) as checker:
        for face in checker.check(rgb_image):
            print(face.box, face.label, face.fake_probability)
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np

from .checker_options import CheckerOptions
from .classifier import Classifier, default_model_path
from .errors import FakeFaceError
from .faces import FaceBox, FaceResult, ImageReport
from .imageio import load_image
from .mtcnn.detector import Detector, DetectorOptions
from .working_image import WorkingImage

# DetectorOptions too: CheckerOptions(detector=DetectorOptions(...)) needs no second import.
__all__ = ["CheckerOptions", "DetectorOptions", "FakeFaceChecker", "MIN_FACE_BOX_SHARE", "big_enough", "find_faces"]

# MTCNN's min face sets the pyramid's first scale; its box regression then returns a face of
# that size as small as 0.92 of it (0.5th percentile over 300 shared photos at min face
# 40/80/120, benchmarks/min_face_rule.py).  A face is reported when its box's shorter side
# reaches this share of the min face, so a face searched at its own size is not dropped.
MIN_FACE_BOX_SHARE = 0.9


def big_enough(face: FaceBox, min_face_size: float) -> bool:
    """Whether a detected face is reported at ``min_face_size`` (photo pixels)."""
    return min(face.box[2], face.box[3]) >= MIN_FACE_BOX_SHARE * min_face_size


def find_faces(detector: Detector, options: DetectorOptions, image_rgb: np.ndarray, min_face_size: float,
               working_pixels: int) -> list[FaceBox]:
    """The faces `check` reports, for anyone who needs its boxes (`check`, `prepare`'s
    training crops, the port kit): searched on a copy of at most ``working_pixels``, mapped
    back to the image's own coordinates, kept when `big_enough`; most confident first.
    ``options`` are the detector's, whose min face is set here for the copy's scale."""
    work = WorkingImage.of(image_rgb, working_pixels)
    # The detector reads its options on every call; only the min face differs per size.
    detector.options = dataclasses.replace(options, min_face_size=work.detector_min_face(min_face_size))
    faces = [work.to_photo(f) for f in detector.detect(work.image)]
    return [f for f in faces if big_enough(f, min_face_size)]


class FakeFaceChecker:
    """Finds faces and scores each as real or fake.  Use as a context manager."""

    def __init__(self, options: CheckerOptions | None = None):
        self.options = options or CheckerOptions()
        o = self.options
        o.validate()
        model_path = Path(o.model_path) if o.model_path else default_model_path(o.backend)
        self.classifier = Classifier(model_path, backend=o.backend, threads=o.threads)
        if o.threshold is not None:
            self.classifier.contract = dataclasses.replace(self.classifier.contract, threshold=o.threshold)
        self._detector_options = o.detector_options()
        try:
            self.detector = Detector(self._detector_options)
        except BaseException:  # no checker to close: free the classifier's interpreter here
            self.classifier.close()
            raise

    @classmethod
    def create_from_options(cls, options: CheckerOptions) -> "FakeFaceChecker":
        return cls(options)

    @property
    def contract(self):
        return self.classifier.contract

    @property
    def threshold(self) -> float:
        """p(fake) at or above which a face is judged fake."""
        return self.classifier.contract.threshold

    # -- image mode ---------------------------------------------------------------
    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        """Faces of at least ``min_face_size`` (both sides of the box, less the detector's box
        error: `big_enough`), in the image's own coordinates, searched on a copy of at most
        ``working_pixels``; most confident first."""
        return find_faces(self.detector, self._detector_options, image_rgb, self.options.min_face_size,
                          self.options.working_pixels)

    def check(self, image_rgb: np.ndarray) -> list[FaceResult]:
        """Detect and classify every face of an RGB uint8 image, most confident first.
        Each face is cropped from the full-resolution image, as the model contract says."""
        faces = self.detect(image_rgb)
        if self.options.max_faces is not None:
            faces = faces[: self.options.max_faces]
        return self.classifier.classify(image_rgb, faces)

    def check_file(self, path: str | os.PathLike) -> ImageReport:
        """Like `check` for a file; problems with the file become the report's error."""
        report, _ = self.check_file_and_image(path)
        return report

    def check_file_and_image(self, path: str | os.PathLike) -> tuple[ImageReport, np.ndarray | None]:
        """`check_file`, plus the decoded image (None when it could not be read)."""
        try:
            image = load_image(path, self.options.max_pixels)
        except FakeFaceError as exc:
            return ImageReport(str(path), error=getattr(exc, "reason", str(exc))), None
        try:
            return ImageReport(str(path), self.check(image)), image
        except FakeFaceError as exc:
            return ImageReport(str(path), error=getattr(exc, "reason", str(exc))), None
        except (RuntimeError, ValueError, ArithmeticError, cv2.error) as exc:
            # An interpreter's RuntimeError, an OpenCV error or a bad crop on this image alone:
            # it is this image's error, and the rest of a batch still runs.  (MemoryError and
            # Ctrl-C are not caught: they are the process's, not the image's.)
            return ImageReport(str(path), error=f"could not be checked ({type(exc).__name__}: {exc})"), None

    def close(self) -> None:
        self.detector.close()
        self.classifier.close()

    def __enter__(self) -> "FakeFaceChecker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
