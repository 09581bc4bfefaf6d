"""Plain result types of the edge runtime."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")


@dataclass
class FaceBox:
    """One detected face, in pixel coordinates of the (EXIF-upright) input image.

    ``box`` is (x, y, w, h); ``landmarks`` are five (x, y) points in LANDMARK_NAMES order.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class FaceResult:
    """A detected face plus the classifier's verdict on it."""

    box: tuple[float, float, float, float]
    score: float
    landmarks: list[tuple[float, float]]
    fake_probability: float
    label: str

    def to_json(self) -> dict:
        return {
            "box": [round(float(v), 1) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks],
            "fake_probability": round(float(self.fake_probability), 5),
            "label": self.label,
        }


@dataclass
class ImageReport:
    """What `check` says about one input: its faces, or why it could not be checked."""

    path: str
    faces: list[FaceResult] = field(default_factory=list)
    error: Optional[str] = None

    def to_json(self) -> dict:
        return {"path": self.path, "faces": [f.to_json() for f in self.faces], "error": self.error}
