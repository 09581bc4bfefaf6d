"""Run the edge pipeline on one photo stage by stage and keep every stage's result.

Each step calls the edge runtime's own function for it (pyramid plan, P-Net decoding,
NMS, squaring, patch sampling, regression, landmarks, clipping, crop contract), in the
order ``fakeface.edge.mtcnn.stages`` runs them.  :func:`check_against_detector` then
runs the real Detector on the same photo: if the two ever disagree (the cascade was
changed and this file was not), the kit refuses to build instead of shipping golden
vectors the runtime no longer produces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from fakeface.edge.classifier import Classifier
from fakeface.edge.contract import crop_face, fake_probabilities
from fakeface.edge.mtcnn import stages
from fakeface.edge.mtcnn.boxes import clip_to_image, crop_patches, decode_landmarks, pnet_candidates, refine, square
from fakeface.edge.mtcnn.detector import Detector, DetectorOptions
from fakeface.edge.mtcnn.nets import LANDMARKS, PROBABILITY, REGRESSION, Net
from fakeface.edge.mtcnn.nms import SCORE, nms
from fakeface.edge.mtcnn.pyramid import PyramidPlan
from fakeface.edge.pipeline import MIN_FACE_BOX_SHARE

from ..errors import ExportError
from .stages import PATCH_SAMPLES, STAGES_BY_KEY

# Corners and scores the traced cascade may differ from Detector's by: none in practice
# (the same functions on the same inputs); the margin only absorbs summation order.
SAME_RESULT_ATOL = 1e-6


@dataclass
class StageTrace:
    """Every stage's array for one photo, by file name (see stages.STAGES)."""

    arrays: dict = field(default_factory=dict)
    chosen_level: int = 0

    def put(self, key: str, array: np.ndarray, format_key: str = "") -> None:
        self.arrays[STAGES_BY_KEY[key].filename(format_key)] = array


def _pnet_stage(pnet: Net, image: np.ndarray, options: DetectorOptions, trace: StageTrace) -> np.ndarray:
    plan = PyramidPlan(image.shape[0], image.shape[1], options.min_face_size, options.scale_factor)
    if not plan.levels:
        raise ExportError("the photo is too small for P-Net's 12-pixel window; pick a larger photo")
    threshold = float(options.thresholds[0])
    trace.put("pyramid_levels", np.array([(s, h, w) for s, (h, w) in plan.levels], np.float64).reshape(-1, 3))
    kept, any_cells = [], False
    for index, (scale, level) in enumerate(plan.scan(image)):
        out = pnet.run(level)
        regression, probability = out[REGRESSION][0], out[PROBABILITY][0]
        cells = bool(np.any(probability[..., 1] > threshold))
        # Levels come largest first: the last level with a cell wins (else the last level).
        if cells or not any_cells:
            any_cells, trace.chosen_level = any_cells or cells, index
            trace.put("pnet_input", level.copy())
            trace.put("pnet_output", np.concatenate([regression, probability], axis=-1).astype(np.float32))
        survivors = nms(pnet_candidates(regression, probability, scale, threshold), stages.NMS_PNET_LEVEL,
                        "union", presorted=True)
        kept.append(np.column_stack([survivors, np.full(len(survivors), index, np.float64)]))
    level_nms = np.concatenate(kept, axis=0)
    trace.put("pnet_level_nms", level_nms)
    merged = nms(level_nms[:, :5], stages.NMS_PNET_ALL, "union")
    trace.put("pnet_nms", merged)
    return square(merged)


def _patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    chunk = max(1, stages.CROP_PIXELS // (size * size))
    parts = [crop_patches(image, boxes[i:i + chunk], size) for i in range(0, len(boxes), chunk)]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, size, size, 3), np.float32)


def _refine_stage(net: Net, image: np.ndarray, boxes: np.ndarray, size: int, threshold: float,
                  nms_threshold: float, nms_kind: str, with_landmarks: bool) -> tuple[np.ndarray, np.ndarray]:
    """(input patches, candidates after NMS) of R-Net (no landmarks) or O-Net."""
    patches = _patches(image, boxes, size)
    width = 15 if with_landmarks else 5
    if len(boxes) == 0:
        return patches, np.empty((0, width))
    out = net.run_batch(patches)
    cands = boxes.copy()
    cands[:, SCORE] = out[PROBABILITY][:, 1]
    cands = refine(cands, out[REGRESSION])
    if with_landmarks:
        # Landmarks are relative to the box O-Net saw, not to its refined box.
        points = decode_landmarks(out[LANDMARKS], boxes)
        cands = np.concatenate([cands, points[:, :, 0], points[:, :, 1]], axis=1)
    cands = cands[cands[:, SCORE] > threshold]
    return patches, nms(cands, nms_threshold, nms_kind)


def trace_detection(nets: Mapping[str, Net], image: np.ndarray, options: DetectorOptions,
                    min_face: float) -> StageTrace:
    """Every detection stage of ``image`` (RGB uint8, searched as it is: no working copy)."""
    trace = StageTrace()
    t_r, t_o = float(options.thresholds[1]), float(options.thresholds[2])
    rnet_boxes = _pnet_stage(nets["pnet"], image, options, trace)
    trace.put("rnet_boxes", rnet_boxes)
    patches, rnet_nms = _refine_stage(nets["rnet"], image, rnet_boxes, stages.RNET_SIZE, t_r,
                                      stages.NMS_RNET, "union", False)
    trace.put("rnet_input", patches[:PATCH_SAMPLES])
    trace.put("rnet_nms", rnet_nms)
    onet_boxes = square(rnet_nms)
    trace.put("onet_boxes", onet_boxes)
    patches, onet_nms = _refine_stage(nets["onet"], image, onet_boxes, stages.ONET_SIZE, t_o,
                                      stages.NMS_ONET, "min", True)
    trace.put("onet_input", patches[:PATCH_SAMPLES])
    trace.put("onet_nms", onet_nms)
    faces = clip_to_image(onet_nms, image.shape[0], image.shape[1])
    faces = faces[np.argsort(-faces[:, SCORE], kind="stable")]
    sides = np.minimum(faces[:, 2] - faces[:, 0], faces[:, 3] - faces[:, 1])
    trace.put("faces", faces[sides >= MIN_FACE_BOX_SHARE * min_face])
    return trace


def trace_classifiers(trace: StageTrace, image: np.ndarray, classifiers: Mapping[str, Classifier]) -> None:
    """Add the crops and every classifier variant's logit (files that output one) and p(fake)
    (``classifiers``: format key -> Classifier)."""
    faces = trace.arrays[STAGES_BY_KEY["faces"].filename()]
    boxes = [(r[0], r[1], r[2] - r[0], r[3] - r[1]) for r in faces]
    crops = None
    for key, classifier in classifiers.items():
        size = classifier.contract.input_size
        these = (np.stack([crop_face(image, b, classifier.contract) for b in boxes]) if boxes
                 else np.zeros((0, size, size, 3), np.uint8))
        if crops is not None and (crops.shape != these.shape or not np.array_equal(crops, these)):
            raise ExportError(f"classifier {key} crops faces differently from the other variants; "
                              "a kit holds variants of one model only")
        crops = these
        output, kind = classifier.model_outputs(crops), classifier.contract.output
        if STAGES_BY_KEY["logit"].applies_to(kind):
            trace.put("logit", output, key)
        # What Classifier.predict_crops returns: the host's float64 sigmoid of a logit.
        trace.put("p_fake", fake_probabilities(output, kind).astype(np.float32), key)
    if crops is not None:
        trace.put("classifier_input", crops)


def check_against_detector(trace: StageTrace, detector: Detector, image: np.ndarray) -> None:
    """Refuse a trace whose final boxes are not what ``detector`` finds on the same photo."""
    expected = detector.detect_array(image)
    onet_nms = trace.arrays[STAGES_BY_KEY["onet_nms"].filename()]
    got = clip_to_image(onet_nms, image.shape[0], image.shape[1])
    if expected.shape != got.shape or not np.allclose(expected, got, rtol=0, atol=SAME_RESULT_ATOL):
        raise ExportError(f"the kit's stage-by-stage cascade found {len(got)} face(s) where the edge Detector "
                          f"finds {len(expected)} (or different boxes); export/kit/trace.py no longer follows "
                          "fakeface.edge.mtcnn.stages")
