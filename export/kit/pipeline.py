"""pipeline.json: every constant and rule of the pipeline, read from the code that uses it.

Numbers come from the edge runtime's own module constants (:data:`CONSTANTS`, read when
the kit is built, never copied here), from the checker options the golden vectors were
computed with, from the classifier's sidecar and from the model files.  The text beside
them states the rule each number enters, as ``fakeface.edge`` applies it; PORTING.md
explains the same rules with the golden file that checks each.
"""

from __future__ import annotations

from typing import Any, Sequence

from fakeface.edge import __version__, working_image
from fakeface.edge.checker_options import CheckerOptions
from fakeface.edge.mtcnn import boxes, nets, pyramid, stages
from fakeface.edge.pipeline import MIN_FACE_BOX_SHARE

from .model_io import model_input

SCHEMA = 1

# (path in pipeline.json, module, attribute): each value is read from the module when the
# kit is built, so a changed constant changes pipeline.json (tests/test_kit_pipeline.py).
CONSTANTS: tuple = (
    ("image.working_pixels", working_image, "DEFAULT_WORKING_PIXELS"),
    ("pyramid.cell_size", pyramid, "CELL_SIZE"),
    ("pyramid.min_level_side", pyramid, "MIN_LEVEL_SIDE"),
    ("normalisation.mean", pyramid, "MEAN"),
    ("normalisation.scale", pyramid, "SCALE"),
    ("pnet.stride", boxes, "PNET_STRIDE"),
    ("pnet.cell_size", pyramid, "CELL_SIZE"),
    ("nms.pnet_level.overlap", stages, "NMS_PNET_LEVEL"),
    ("nms.pnet_all.overlap", stages, "NMS_PNET_ALL"),
    ("nms.rnet.overlap", stages, "NMS_RNET"),
    ("nms.onet.overlap", stages, "NMS_ONET"),
    ("nets.rnet.input_size", stages, "RNET_SIZE"),
    ("nets.onet.input_size", stages, "ONET_SIZE"),
    ("nets.outputs_by_last_dimension.regression", nets, "REGRESSION"),
    ("nets.outputs_by_last_dimension.landmarks", nets, "LANDMARKS"),
    ("nets.outputs_by_last_dimension.probability", nets, "PROBABILITY"),
)
# Contract fields a port needs to crop and decide (the rest is bookkeeping).
CONTRACT_FIELDS = ("input_size", "crop_margin", "crop_mode", "native_max_side", "color_order", "input_range",
                   "labels", "threshold")


def _plain(value: Any) -> Any:
    """numpy scalars and tuples as JSON types."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _put(tree: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = _plain(value)


def _rules(options: CheckerOptions) -> dict:
    detector = options.detector_options()
    t_p, t_r, t_o = (float(t) for t in detector.thresholds)
    return {
        "image": {
            "input": "RGB uint8, H x W x 3, upright (EXIF orientation applied), decoded losslessly",
            "working_copy": "when H*W > working_pixels: s = sqrt(working_pixels / (H*W)), w = int(W*s), "
                            "h = int(H*s), area resize; found boxes are divided by (w/W, h/H). The kit's "
                            "photos are below working_pixels and searched as they are",
        },
        "detection": {
            "min_face_size": options.min_face_size,
            "min_face_box_share": MIN_FACE_BOX_SHARE,
            "min_face_rule": "after detection, keep a face when min(x2 - x1, y2 - y1) >= min_face_box_share * "
                             "min_face_size (the detector returns a face of min_face_size up to 8 % smaller) "
                             "(photo pixels); on a working copy the pyramid's min face is "
                             "max(min_face_size * s, cell_size)",
            "thresholds": {"pnet": t_p, "rnet": t_r, "onet": t_o},
            "threshold_rule": "a candidate survives when p(face) > threshold (strict)",
        },
        "pyramid": {
            "scale_factor": float(detector.scale_factor),
            "min_face_size": detector.min_face_size,
            "first_scale": "cell_size / min_face_size",
            "level_count": "round(-(log(min(H, W) / cell_size) / log(scale_factor) + 1)), round half to even",
            "scales": "first_scale * scale_factor ** k, k = 0 .. level_count - 1, in float64",
            "level_size": "h = int(H * scale), w = int(W * scale): truncated, float64 product",
            "skip_rule": "levels with min(h, w) < min_level_side are skipped",
            "resize": "area average: output pixel (i, j) is the mean of the input over the footprint "
                      "[i*H/h, (i+1)*H/h) x [j*W/w, (j+1)*W/w), partly covered pixels weighted by the "
                      "share covered (tf.image.resize AREA; OpenCV INTER_AREA on a float image)",
            "normalise": "after resizing, in float32",
        },
        "normalisation": {"formula": "(v - mean) * scale, v the RGB value 0..255", "applies_to": "P-, R-, O-Net"},
        "nets": {
            "layout": "NHWC float32, RGB",
            "pnet": {"input": "(1, h, w, 3): one pyramid level"},
            "rnet": {"input": "(N, input_size, input_size, 3) patches"},
            "onet": {"input": "(N, input_size, input_size, 3) patches"},
            "output_rule": "outputs are told apart by their last dimension, not their order; "
                           "p(face) is index 1 of the probability output",
        },
        "pnet": {
            "window": "cell (y, x): x1 = stride*x + 1, y1 = stride*y + 1, x2 = stride*x + cell_size, "
                      "y2 = stride*y + cell_size (one-based corners)",
            "regression": "x1 += dx1*(cell_size - 1), y1 += dy1*(cell_size - 1), x2 += dx2*(cell_size - 1), "
                          "y2 += dy2*(cell_size - 1); then every corner / scale",
            "order": "a level's candidates sorted by descending score before its NMS",
        },
        "nms": {
            "pnet_level": {"kind": "union", "applies": "candidates of one pyramid level"},
            "pnet_all": {"kind": "union", "applies": "all levels' survivors, in level order"},
            "rnet": {"kind": "union", "applies": "R-Net survivors after regression"},
            "onet": {"kind": "min", "applies": "O-Net survivors after regression"},
            "overlap": "union: inter / (area_a + area_b - inter); min: inter / min(area_a, area_b); "
                       "area = (x2 - x1) * (y2 - y1), no +1",
            "rule": "sort by descending score; box i is dropped when ANY box before it (dropped or not) "
                    "overlaps it by more than the threshold (strict >); mtcnn 1.0.0's rule, not greedy NMS",
            "ties": "equal scores: reverse order of a stable ascending sort (the later row first)",
        },
        "boxes": {
            "square": "side = max(x2 - x1, y2 - y1); x1 += (x2 - x1 - side) / 2, y1 += (y2 - y1 - side) / 2; "
                      "x2 = x1 + side, y2 = y1 + side (after P-Net's and R-Net's NMS)",
            "refine": "w = x2 - x1 + 1, h = y2 - y1 + 1; x1 += dx1*w, y1 += dy1*h, x2 += dx2*w, y2 += dy2*h; "
                      "R-Net and O-Net, before their threshold",
            "landmarks": "O-Net's 10 values x1..x5, y1..y5: x = w*lx + x1 - 1, y = h*ly + y1 - 1 with w, h, "
                         "x1, y1 of the box O-Net saw (before its regression)",
            "clip": "final corners clipped to [0, W-1] x [0, H-1]; landmarks not clipped",
            "rounding": "none: boxes stay float64 from P-Net to the final face; the classifier crop rounds",
            "output": "box (x, y, w, h) = (x1, y1, x2 - x1, y2 - y1), faces by descending score",
        },
        "patches": {
            "sampling": "tf.image.crop_and_resize, bilinear: along x, sample k of n is "
                        "x1*(W-1)/W + k*(x2 - x1)*(W-1)/W/(n - 1), likewise y; samples outside "
                        "[0, W-1] x [0, H-1] are 0 after normalisation (mid-grey)",
            "value": "bilinear mix of the 4 neighbouring uint8 pixels, then normalised",
        },
    }


def classifier_section(contract, variants: Sequence) -> dict:
    return {
        "contract": {name: _plain(getattr(contract, name)) for name in CONTRACT_FIELDS},
        "crop": {
            "square": "side = max(w, h) * (1 + 2*crop_margin); side_i = max(1, round(side)); "
                      "x0 = round(x + w/2 - side_i/2), y0 = round(y + h/2 - side_i/2); round half to even",
            "outside": "pixels of the square outside the photo repeat the nearest edge pixel",
            "native": "crop_mode native: a square wider than native_max_side is first area-resized to "
                      "native_max_side; one narrower than input_size is resized up to it; else the centre "
                      "input_size window, offset (side - input_size) // 2",
            "resize": "crop_mode resize: the whole square resized to input_size",
            "resampling": "shrinking: area average (OpenCV INTER_AREA); enlarging: bilinear with "
                          "half-pixel centres (OpenCV INTER_LINEAR); results rounded to uint8",
            "input": "float32 RGB values 0..255, NHWC; normalisation is inside the model",
        },
        "output": {
            "logit": "a variant whose output is \"logit\" returns z, the pre-sigmoid logit, in its last "
                     "output unit; the host computes p(fake) = 1 / (1 + exp(-z)) in float64, as "
                     "exp(z) / (1 + exp(z)) when z < 0 so that exp never overflows",
            "probability": "a variant whose output is \"probability\" (older files; their sidecar has no "
                           "output field) returns p(fake) itself in its last output unit",
        },
        "decision": "labels[1] (fake) when p(fake) >= threshold; the threshold is a probability, "
                    "compared after the sigmoid",
        "variants": [
            {"format": v.fmt.key, "name": v.fmt.name, "file": f"models/{v.kit_name}",
             "runtimes": list(v.fmt.backends), "input": model_input(v.source), "output": v.contract.output,
             "int8_input_rule": "int8 input: q = clip(round(x / scale + zero_point), -128, 127); "
                                "int8 output: value = (q - zero_point) * scale"}
            for v in variants
        ],
    }


def build_pipeline(options: CheckerOptions, variants: Sequence, net_files: dict) -> dict:
    """The pipeline.json tree.  ``net_files``: net name -> kit file names of that net."""
    tree = {"schema": SCHEMA, "generated_by": f"fakeface {__version__}: fakeface export kit"}
    tree.update(_rules(options))
    for path, module, attribute in CONSTANTS:
        _put(tree, path, getattr(module, attribute))
    for name, files in net_files.items():
        _put(tree, f"nets.{name}.files", [f"models/{f}" for f in files])
    tree["classifier"] = classifier_section(variants[0].contract, variants)
    return tree
