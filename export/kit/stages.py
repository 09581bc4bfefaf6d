"""The port kit's stages: one row per golden file, in pipeline order, with its tolerance.

This table is the one place a stage is described.  The kit's golden index, the
``--verify`` comparison and PORTING.md's stage list are all written from it, so a
tolerance or a file name is never typed twice.

Comparison kinds (see compare.py):

* ``levels``: rows scale, height, width; sizes must be equal, scales within ``scale``.
* ``array``: float arrays of equal shape, max |difference| within ``abs``.
* ``boxes``: candidate rows x1, y1, x2, y2, score[, more]; the same number of rows, each
  golden row matched to the nearest candidate row, corners (and landmarks) within
  ``px`` pixels, scores within ``score``.
* ``pixels``: uint8 crops of equal shape, max |difference| within ``abs`` grey levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# R-Net and O-Net input patches are kept for this many candidates (the first rows of the
# boxes each net sees); enough to catch a sampling error, small enough for an app repo.
PATCH_SAMPLES = 4
# The P-Net level whose input and output are kept (its index is in the golden index): a
# small one, where a face fills P-Net's window, yet one with candidates to check.
LEVEL_RULE = "the smallest level with a cell above the P-Net threshold (else the smallest level)"


@dataclass(frozen=True)
class Stage:
    key: str  # the file is golden/<photo>/<key>.npy (p_fake: <key>.<format key>.npy)
    title: str
    kind: str  # levels | array | boxes | pixels
    tolerance: dict
    content: str  # shape and columns of the file
    check: str  # what a port computes to reproduce it
    per_format: bool = False  # one file per classifier variant
    columns: tuple = field(default=())
    # per_format: the variants whose sidecar ``output`` is one of these get a file (a
    # stage no variant gets is left out of the kit).
    outputs: tuple = ("probability", "logit")

    def filename(self, format_key: str = "") -> str:
        return f"{self.key}.{format_key}.npy" if self.per_format else f"{self.key}.npy"

    def applies_to(self, output: str) -> bool:
        """Whether a classifier variant whose sidecar says ``output`` has a file in this stage."""
        return self.per_format and output in self.outputs


BOX_COLUMNS = ("x1", "y1", "x2", "y2", "score")
LANDMARK_COLUMNS = tuple(f"{axis}{i}" for axis in "xy" for i in range(1, 6))
# Candidate boxes: corners in image pixels after float arithmetic, never rounded.
BOX_TOLERANCE = {"px": 0.05, "score": 1e-4}
# Float net inputs and outputs, in normalised units (1/128 of a grey level = 0.0078).
FLOAT_ABS = 1e-3
# p(fake) of the same model file on another CPU: a bit over one output step of an int8
# model (1/256), far below any threshold's meaning.
P_FAKE_ABS = 5e-3
# The logit of the same model file on another CPU, in logit units: since dp/dz <= 1/4, it
# keeps p(fake) within P_FAKE_ABS everywhere, and far tighter at p near 0 or 1, where a
# probability tolerance cannot tell a face scored 1e-5 from one scored 1e-3.
LOGIT_ABS = 0.02

STAGES: tuple[Stage, ...] = (
    Stage("pyramid_levels", "Pyramid levels", "levels", {"scale": 1e-6},
          "(L, 3) float64: scale, height, width of every level P-Net runs on, largest first",
          "the level scales and the truncated level sizes"),
    Stage("pnet_input", "P-Net input (one level)", "array", {"abs": FLOAT_ABS},
          "(1, h, w, 3) float32: the chosen level, area-resized and normalised",
          "area resize of the photo to the level size, then normalised"),
    Stage("pnet_output", "P-Net output (one level)", "array", {"abs": FLOAT_ABS},
          "(h', w', 6) float32: regression dx1, dy1, dx2, dy2, then p(no face), p(face)",
          "P-Net run on the golden pnet_input (outputs matched by their last dimension)"),
    Stage("pnet_level_nms", "P-Net candidates after per-level NMS", "boxes", BOX_TOLERANCE,
          "(N, 6) float64: x1, y1, x2, y2, score, level index; levels in pyramid order",
          "cells above the threshold decoded to boxes, NMS 'union' within each level",
          columns=BOX_COLUMNS + ("level",)),
    Stage("pnet_nms", "P-Net candidates after cross-level NMS", "boxes", BOX_TOLERANCE,
          "(N, 5) float64: x1, y1, x2, y2, score", "NMS 'union' over all levels' survivors",
          columns=BOX_COLUMNS),
    Stage("rnet_boxes", "R-Net boxes (P-Net candidates squared)", "boxes", BOX_TOLERANCE,
          "(N, 5) float64", "each candidate squared about its centre", columns=BOX_COLUMNS),
    Stage("rnet_input", "R-Net input patches", "array", {"abs": FLOAT_ABS},
          f"(min(N, {PATCH_SAMPLES}), 24, 24, 3) float32: patches of the first rnet_boxes rows",
          "crop_and_resize sampling of the photo, normalised; 0 outside the photo"),
    Stage("rnet_nms", "R-Net candidates after NMS", "boxes", BOX_TOLERANCE,
          "(N, 5) float64", "R-Net score, box regression, threshold, NMS 'union'", columns=BOX_COLUMNS),
    Stage("onet_boxes", "O-Net boxes (R-Net candidates squared)", "boxes", BOX_TOLERANCE,
          "(N, 5) float64", "each candidate squared about its centre", columns=BOX_COLUMNS),
    Stage("onet_input", "O-Net input patches", "array", {"abs": FLOAT_ABS},
          f"(min(N, {PATCH_SAMPLES}), 48, 48, 3) float32: patches of the first onet_boxes rows",
          "crop_and_resize sampling as for R-Net, 48 x 48"),
    Stage("onet_nms", "O-Net candidates after NMS", "boxes", BOX_TOLERANCE,
          "(N, 15) float64: x1, y1, x2, y2, score, x1..x5, y1..y5 (landmarks)",
          "O-Net score, landmarks, box regression, threshold, NMS 'min'",
          columns=BOX_COLUMNS + LANDMARK_COLUMNS),
    Stage("faces", "Final faces", "boxes", BOX_TOLERANCE,
          "(F, 15) float64: as onet_nms, corners clipped to the photo, small faces dropped, best first",
          "clip corners to [0, W-1] x [0, H-1]; keep faces whose shorter side >= 0.9 x min face (min_face_box_share)",
          columns=BOX_COLUMNS + LANDMARK_COLUMNS),
    Stage("classifier_input", "Classifier input crops", "pixels", {"abs": 1},
          "(F, S, S, 3) uint8: the crop contract's crop of every final face, RGB",
          "square crop with margin, edge replication, native window or resize"),
    Stage("logit", "Classifier logit (before the sigmoid)", "array", {"abs": LOGIT_ABS},
          "(F,) float32: the classifier file's output, the logit of p(fake), one file per model variant "
          "whose sidecar says \"output\": \"logit\"",
          "the classifier run on the golden classifier_input; the last output unit as the file returns it "
          "(dequantised for an int8 output), no sigmoid", per_format=True, outputs=("logit",)),
    Stage("p_fake", "p(fake)", "array", {"abs": P_FAKE_ABS},
          "(F,) float32: the fake probability, one file per model variant",
          "output \"logit\": 1 / (1 + exp(-z)) of the logit z, on the host in float64; output \"probability\" "
          "(older files, no such field): the last output unit of the classifier run on the golden classifier_input",
          per_format=True),
)

STAGES_BY_KEY = {s.key: s for s in STAGES}


def stage_index(key: str) -> int:
    return [s.key for s in STAGES].index(key)
