"""Golden vectors: every stage of every kit photo, written as .npy plus golden/index.json.

The arrays are computed with the model files already copied into the kit, so they
belong to exactly the classifier shipped at build time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

from fakeface.edge.checker_options import CheckerOptions
from fakeface.edge.classifier import Classifier
from fakeface.edge.mtcnn.detector import Detector
from fakeface.edge.mtcnn.nets import open_nets, pick_format

from ..errors import ExportError
from .files import save_array, save_json
from .photos import KitPhoto
from .stages import LEVEL_RULE, PATCH_SAMPLES, STAGES
from .trace import StageTrace, check_against_detector, trace_classifiers, trace_detection

GOLDEN_DIR = "golden"
INDEX_NAME = "index.json"


def trace_photos(photos: Sequence[KitPhoto], model_dir: Path, variants: Sequence, options: CheckerOptions,
                 net_format: str = "auto", backend: str = "auto") -> dict[str, StageTrace]:
    """Every stage of every photo, with the nets and classifier files of ``model_dir``."""
    detector_options = dataclasses.replace(options.detector_options(), model_format=net_format, backend=backend)
    classifiers, traces = {}, {}
    try:
        for v in variants:
            classifiers[v.fmt.key] = Classifier(Path(model_dir) / v.kit_name, threads=options.threads)
        nets = open_nets(net_format, backend, options.threads, model_dir)
        with Detector(detector_options, model_dir=model_dir) as detector:
            for photo in photos:
                if photo.rgb.shape[0] * photo.rgb.shape[1] > options.working_pixels:
                    raise ExportError(f"kit photo {photo.name} is larger than working_pixels; "
                                      "the golden cascade searches photos as they are")
                trace = trace_detection(nets, photo.rgb, detector_options, options.min_face_size)
                check_against_detector(trace, detector, photo.rgb)
                trace_classifiers(trace, photo.rgb, classifiers)
                traces[photo.name] = trace
        for net in nets.values():
            net.close()
    finally:
        for classifier in classifiers.values():
            classifier.close()
    return traces


def write_trace(trace: StageTrace, folder: Path) -> list[str]:
    for name, array in trace.arrays.items():
        save_array(Path(folder) / name, array)
    return sorted(trace.arrays)


def stage_rows(variants: Sequence) -> list[dict]:
    """The index's stage rows; a per-variant stage that no variant's output has (the logit of
    files that output probabilities) is left out."""
    rows = []
    for s in STAGES:
        if s.per_format:
            files = [s.filename(v.fmt.key) for v in variants if s.applies_to(v.contract.output)]
            if not files:
                continue
        else:
            files = [s.filename()]
        rows.append({"key": s.key, "title": s.title, "files": files, "kind": s.kind, "tolerance": s.tolerance,
                     "content": s.content, "check": s.check})
    return rows


def write_golden(kit: Path, photos: Sequence[KitPhoto], variants: Sequence, options: CheckerOptions) -> dict:
    """Trace the photos with the kit's own models and write golden/<photo>/*.npy and the index."""
    model_dir = kit / "models"
    net_format = pick_format("auto", options.backend)
    traces = trace_photos(photos, model_dir, variants, options, net_format)
    index = {
        "schema": 1,
        "computed_with": {"nets": f"models/*.{net_format}",
                          "classifier": {v.fmt.key: f"models/{v.kit_name}" for v in variants},
                          "classifier_output": {v.fmt.key: v.contract.output for v in variants}},
        "chosen_level_rule": LEVEL_RULE,
        "patch_samples": PATCH_SAMPLES,
        "stages": stage_rows(variants),
        "photos": [],
    }
    for photo in photos:
        trace = traces[photo.name]
        files = write_trace(trace, kit / GOLDEN_DIR / photo.name)
        index["photos"].append({
            "name": photo.name, "photo": f"photos/{photo.name}.png", "description": photo.description,
            "height": int(photo.rgb.shape[0]), "width": int(photo.rgb.shape[1]),
            "chosen_level": trace.chosen_level, "faces": int(len(trace.arrays["faces.npy"])), "files": files,
        })
    save_json(kit / GOLDEN_DIR / INDEX_NAME, index)
    return index
