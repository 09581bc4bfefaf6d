"""Score labelled faces with any model format: the shared core of `evaluate` and `calibrate`.

``.keras`` runs through Keras (loaded with ``safe_mode=True``: no arbitrary code from
a model file); ``.tflite`` and ``.onnx`` run through the edge runtime's backends, so
what is measured is what ships.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from fakeface.edge.contract import ModelContract, crop_face, fake_probabilities, load_contract
from fakeface.edge.errors import FakeFaceError, ImageError, ModelError
from fakeface.edge.imageio import load_image
from fakeface.edge.tf_environment import set_tf_environment

from ..data.dataset import WRONG_SIZE, load_crops, model_pixels
from ..data.layout import Sample, scan_folder, select_split

CHUNK = 32  # photos detected per batch


@dataclass
class ScoredFaces:
    labels: np.ndarray
    scores: np.ndarray
    sources: list
    paths: list
    no_face: list = field(default_factory=list)  # relative paths
    unreadable: list = field(default_factory=list)  # (relative path, reason)


def load_keras_model(model_path: Path):
    """A .keras classifier (custom layers registered, safe mode), or one ModelError line."""
    set_tf_environment()
    import keras

    from ..models.face_oval import register

    register()
    try:
        return keras.models.load_model(model_path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ModelError(f"{model_path}: cannot load Keras model ({' '.join(str(exc).split())[:200]})") from None


def open_scorer(model_path: str | os.PathLike, backend: str = "auto") -> tuple[ModelContract, Callable]:
    """Return (contract, score) where score(float32 NHWC pixels) -> fake probabilities."""
    model_path = Path(model_path)
    contract = load_contract(model_path, verify_hash=True)
    suffix = model_path.suffix.lower()
    if suffix == ".keras":
        model = load_keras_model(model_path)
        return contract, lambda x: fake_probabilities(model(x, training=False))
    from fakeface.edge.backends import open_model

    runner = open_model(model_path, backend=backend)
    # An exported file may output the logit (its sidecar says so): p(fake) is its sigmoid.
    return contract, lambda x: fake_probabilities(runner.run(x)[0], contract.output)


def score_batches(score: Callable, images: np.ndarray, batch_size: int) -> np.ndarray:
    out = [score(images[i:i + batch_size].astype(np.float32)) for i in range(0, len(images), batch_size)]
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def score_folder(model_path, data_dir, split: Optional[str], cropped: bool, detector: str = "edge",
                 backend: str = "auto", batch_size: int = 64, progress: bool = True) -> tuple[ModelContract, ScoredFaces]:
    """Score every face of one split of ``data_dir`` (raw photos or `prepare` crops)."""

    contract, score = open_scorer(model_path, backend)
    samples = select_split(scan_folder(data_dir, cropped=cropped), split)
    if not samples:
        raise FakeFaceError(f"{data_dir}: no images in split {split}")
    if cropped:
        cs, bad = load_crops(samples, contract.input_size, progress, resize=False)
        if not len(cs) and bad and all(reason.endswith(WRONG_SIZE) for _, reason in bad):
            raise FakeFaceError(f"{data_dir}: no crop is {contract.input_size} px, the input of "
                                f"{Path(model_path).name}; cut crops with --input-size {contract.input_size}")
        scores = score_batches(score, model_pixels(cs, contract, data_dir), batch_size)
        return contract, ScoredFaces(cs.labels, scores, cs.sources, cs.paths, [], bad)
    return contract, _score_raw(contract, score, samples, detector, batch_size, progress)


def _score_raw(contract, score, samples: list[Sample], detector: str, batch_size: int, progress: bool) -> ScoredFaces:
    from tqdm import tqdm

    from ..data.detectors import make_detector

    detect = make_detector(detector)
    labels, scores, sources, paths, no_face, unreadable = [], [], [], [], [], []
    bar = tqdm(total=len(samples), desc="evaluate", unit="photo", disable=not progress)
    for i in range(0, len(samples), CHUNK):
        chunk = samples[i:i + CHUNK]
        images = {}
        for s in chunk:
            try:
                images[s.rel] = load_image(s.path)
            except ImageError as exc:
                unreadable.append((s.rel, str(exc)))
        by_shape: dict = {}
        for s in chunk:
            if s.rel in images:
                by_shape.setdefault(images[s.rel].shape, []).append(s)
        crops, kept = [], []
        for group in by_shape.values():
            for s, faces in zip(group, detect([images[s.rel] for s in group])):
                if not faces:
                    no_face.append(s.rel)
                    continue
                crops.append(crop_face(images[s.rel], faces[0].box, contract))
                kept.append(s)
        if crops:
            scores.append(score_batches(score, np.stack(crops), batch_size))
            labels += [s.label for s in kept]
            sources += [s.source for s in kept]
            paths += [s.rel for s in kept]
        bar.update(len(chunk))
    bar.close()
    return ScoredFaces(np.array(labels, np.int32), np.concatenate(scores) if scores else np.zeros(0),
                       sources, paths, no_face, unreadable)
