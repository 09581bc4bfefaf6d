"""Real/fake classification of face crops, driven entirely by the model's contract."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .backends import ModelRunner, open_model
from .contract import ModelContract, crop_face, fake_probabilities, last_unit, load_contract
from .errors import ModelError
from .faces import FaceBox, FaceResult

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL_NAMES = {"tflite": "fakeface.tflite", "onnx": "fakeface.onnx"}


def default_model_path(backend: str = "auto") -> Path:
    """The shipped classifier for a backend: ONNX for onnxruntime, TFLite otherwise."""
    kind = "onnx" if backend == "onnxruntime" else "tflite"
    return MODELS_DIR / DEFAULT_MODEL_NAMES[kind]


class Classifier:
    """Scores face crops with one model file (.tflite or .onnx) and its sidecar contract."""

    def __init__(self, model_path: str | os.PathLike, backend: str = "auto", threads: Optional[int] = None):
        self.model_path = Path(model_path)
        self.contract: ModelContract = load_contract(self.model_path)
        self.runner: ModelRunner = open_model(self.model_path, backend=backend, threads=threads)
        self._check_input_shape()

    def _check_input_shape(self) -> None:
        shape = self.runner.input_shape
        s = self.contract.input_size
        if len(shape) != 4 or tuple(shape[1:]) != (s, s, 3):
            raise ModelError(
                f"{self.model_path}: model input shape {shape} does not match its metadata "
                f"(expected [batch, {s}, {s}, 3])"
            )

    def model_outputs(self, crops: np.ndarray) -> np.ndarray:
        """The file's own output per crop (float32): the logit when the sidecar's ``output`` is
        "logit", else p(fake); for a (N, S, S, 3) uint8 batch of contract crops."""
        if len(crops) == 0:
            return np.zeros((0,), np.float32)
        return last_unit(self.runner.run(np.asarray(crops, dtype=np.float32))[0]).astype(np.float32)

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """Fake probabilities for a (N, S, S, 3) uint8 batch of contract crops; a logit output
        goes through a float64 sigmoid here, on the host."""
        return fake_probabilities(self.model_outputs(crops), self.contract.output).astype(np.float32)

    def crops_for(self, image_rgb: np.ndarray, faces: Sequence[FaceBox]) -> np.ndarray:
        s = self.contract.input_size
        if not faces:
            return np.zeros((0, s, s, 3), np.uint8)
        return np.stack([crop_face(image_rgb, f.box, self.contract) for f in faces])

    def classify(self, image_rgb: np.ndarray, faces: Sequence[FaceBox]) -> list[FaceResult]:
        probs = self.predict_crops(self.crops_for(image_rgb, faces))
        return [
            FaceResult(f.box, f.score, list(f.landmarks), float(p), self.contract.label_for(float(p)))
            for f, p in zip(faces, probs)
        ]

    def close(self) -> None:
        self.runner.close()
