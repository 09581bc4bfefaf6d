"""``fakeface generalise capture``: are real people turned away when their photo is taken
differently (and, with ``--fakes``, do generated faces pass)?  The measuring half: every
photo, every variant, through the edge pipeline.

For each real photo the edge checker (the one ``fakeface check`` runs: MTCNN, then the
classifier on a crop of the full-resolution photo) finds the most confident face as it is.
Each variant of :mod:`.capture_variants` is then made from the photo and that face box, run
through the same checker, and the face whose box best overlaps where the original box
lands in the variant is the one judged (none overlapping by at least :data:`MIN_IOU`: "no
face").  Photos without a face as they are, and unreadable photos, are counted and left out.
No TensorFlow: the model is a ``.tflite`` or ``.onnx`` file with its sidecar.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fakeface.edge.errors import FakeFaceError, ImageError
from fakeface.edge.imageio import load_image
from fakeface.edge.mtcnn.nms import overlap  # pairwise IoU of corner boxes

from .capture_groups import name_groups
from .capture_inputs import PhotoSet
from .capture_variants import AS_IS, VARIANTS, Variant

MIN_IOU = 0.3  # a face in a variant is the photo's face when its box overlaps this much
EDGE_SUFFIXES = (".tflite", ".onnx")


@dataclass
class PhotoResult:
    key: str
    source: str
    groups: dict  # from the file name: {"sex": "female", ...}, {"person": "nuaa_0007"} or {}
    scores: dict  # variant name -> p(fake) of the face, or None where no face was found
    sides: dict  # variant name -> the found face box's shorter side in px, or None


@dataclass
class Measurement:
    model: str
    photos: str
    split: str
    threshold: float
    results: dict  # source -> list[PhotoResult] (photos with a face as they are)
    photo_counts: dict  # source -> photos tried
    no_face: dict  # source -> photos without a face as they are
    unreadable: dict  # source -> [[key, reason], ...]
    empty_sources: list = field(default_factory=list)
    seconds: float = 0.0
    photos_are: str = "real"  # "fake": generated faces, where acceptance is the share that passes as real


def _corners(boxes) -> np.ndarray:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def match_face(faces, expected_box, min_iou: float = MIN_IOU):
    """The face whose box overlaps ``expected_box`` (x, y, w, h) most, or None below ``min_iou``."""
    if not faces:
        return None
    ious = np.nan_to_num(overlap(_corners([f.box for f in faces]), _corners([expected_box]))[:, 0])
    best = int(np.argmax(ious))
    return faces[best] if ious[best] >= min_iou else None


def measure_photo(checker, rgb: np.ndarray, variants: Sequence[Variant] = VARIANTS) -> Optional[tuple[dict, dict]]:
    """({variant: p(fake) or None}, {variant: face side or None}) for one RGB photo, or None
    when no face is found in it as it is."""
    faces = checker.check(rgb)
    if not faces:
        return None
    ref = faces[0]
    scores, sides = {}, {}
    for v in variants:
        if v.name == AS_IS:
            face = ref
        else:
            image, place = v.make(rgb, ref.box)
            same = image.shape == rgb.shape and np.array_equal(image, rgb)  # e.g. PNG: the as-is result
            face = ref if same else match_face(checker.check(image), place.box(ref.box))
        scores[v.name] = None if face is None else float(face.fake_probability)
        sides[v.name] = None if face is None else float(min(face.box[2], face.box[3]))
    return scores, sides


def check_model(model) -> Path:
    """The model file, or a one-line error: missing, or not a file the edge pipeline runs."""
    path = Path(model)
    if not path.is_file():
        raise FakeFaceError(f"{model}: no such model file")
    if path.suffix.lower() not in EDGE_SUFFIXES:
        raise FakeFaceError(f"{model}: capture runs the edge pipeline and needs a .tflite or .onnx model "
                            "(make one from a .keras model with 'fakeface export')")
    return path


def open_checker(model, backend: str = "auto", threads: Optional[int] = None, threshold: Optional[float] = None,
                 min_face: int = 20):
    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    path = check_model(model)
    return FakeFaceChecker(CheckerOptions(model_path=str(path), backend=backend, threads=threads,
                                          threshold=threshold, min_face_size=min_face))


def _progress(total: int, enabled: Optional[bool]):
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, desc="capture", unit="photo", disable=not show, file=sys.stderr)


def measure(photo_set: PhotoSet, model, backend: str = "auto", threads: Optional[int] = None,
            threshold: Optional[float] = None, min_face: int = 20, progress: Optional[bool] = None,
            variants: Sequence[Variant] = VARIANTS) -> Measurement:
    """Every photo of ``photo_set`` in every variant.  ``progress`` None: a bar on stderr when
    it is a terminal."""
    start = time.perf_counter()
    results, counts, no_face, unreadable = {}, {}, {}, {}
    with open_checker(model, backend, threads, threshold, min_face) as checker:
        t = float(checker.threshold)
        with _progress(sum(len(p) for p in photo_set.sources.values()), progress) as bar:
            for source, photos in photo_set.sources.items():
                bar.set_postfix_str(source.rpartition("/")[2], refresh=False)
                results[source], counts[source], no_face[source], unreadable[source] = [], len(photos), 0, []
                for photo in photos:
                    try:
                        rgb = load_image(photo.path)
                    except ImageError as exc:
                        unreadable[source].append([photo.key, exc.reason])
                        bar.update()
                        continue
                    got = measure_photo(checker, rgb, variants)
                    if got is None:
                        no_face[source] += 1
                    else:
                        results[source].append(PhotoResult(photo.key, source, name_groups(photo.key), *got))
                    bar.update()
    return Measurement(model=str(model), photos=str(photo_set.root), split=photo_set.split, threshold=t,
                       results=results, photo_counts=counts, no_face=no_face, unreadable=unreadable,
                       empty_sources=list(photo_set.empty), seconds=time.perf_counter() - start,
                       photos_are=photo_set.kind)
