"""Settings of a FakeFaceChecker, checked once, with errors of the project's own type."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from .errors import OptionsError
from .mtcnn.detector import DetectorOptions
from .mtcnn.pyramid import CELL_SIZE
from .working_image import DEFAULT_WORKING_PIXELS

# Faces below P-Net's 12-px window could only be found by enlarging the whole photo.
SMALLEST_MIN_FACE = CELL_SIZE
# A working copy below this (about 400x300) would lose ordinary faces.
SMALLEST_WORKING_PIXELS = 120_000


@dataclass
class CheckerOptions:
    """Settings of a FakeFaceChecker.  Defaults suit photos; see `min_face_size` for face unlock.

    ``min_face_size``, ``backend`` and ``threads`` are the checker's; set the detector's
    own thresholds and scale factor in ``detector``, not those three (``validate`` refuses
    a detector whose copies of them disagree, rather than overwrite them silently).
    """

    model_path: Optional[str] = None  # None: the shipped default model for the backend
    backend: str = "auto"  # auto | litert | tflite-runtime | onnxruntime
    threads: Optional[int] = None  # None: the CPUs this process may use (edge/cpus.py)
    # Smallest face reported, in pixels of the photo: the shorter side of its box.  Larger
    # is faster: a face-unlock camera sees one close face, so ~80 there.
    min_face_size: int = 20
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    max_pixels: Optional[int] = None  # refuse larger images (None: the package's hard cap)
    max_faces: Optional[int] = None  # classify only the N most confident faces
    threshold: Optional[float] = None  # p(fake) at or above it is "fake" (None: the model's own)
    # Faces are searched on a copy of at most this many pixels (boxes come back in the
    # photo's coordinates); on a larger photo the smallest face found is 12 px of that copy.
    working_pixels: int = DEFAULT_WORKING_PIXELS

    def validate(self) -> None:
        """Raise OptionsError, with a one-line reason, for the first setting out of range."""
        _at_least("min_face_size", self.min_face_size, SMALLEST_MIN_FACE)
        _at_least("threads", self.threads, 1, optional=True)
        _at_least("max_pixels", self.max_pixels, 1, optional=True)
        _at_least("max_faces", self.max_faces, 1, optional=True)
        _at_least("working_pixels", self.working_pixels, SMALLEST_WORKING_PIXELS)
        if self.threshold is not None and not (_is_number(self.threshold) and 0.0 <= self.threshold <= 1.0):
            raise OptionsError(f"threshold must be a probability in [0, 1], not {self.threshold!r}")
        default = DetectorOptions()
        for name in ("min_face_size", "backend", "threads"):
            inner = getattr(self.detector, name)
            if inner != getattr(default, name) and inner != getattr(self, name):
                raise OptionsError(f"set {name} on CheckerOptions, not on its detector "
                                   f"(detector.{name}={inner!r}, CheckerOptions.{name}={getattr(self, name)!r})")
        try:
            self.detector_options().validate()
        except ValueError as exc:
            raise OptionsError(f"detector: {exc}") from None

    def detector_options(self) -> DetectorOptions:
        """The detector's settings: its own, plus the checker's backend, threads and min face."""
        return dataclasses.replace(self.detector, min_face_size=self.min_face_size, backend=self.backend,
                                   threads=self.threads)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _at_least(name: str, value, low: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not (_is_number(value) and value >= low):
        raise OptionsError(f"{name} must be a number of at least {low}, not {value!r}")
