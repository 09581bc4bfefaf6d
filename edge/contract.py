"""The model contract: how a face is cropped and fed to the classifier, and how its output is read.

This is the single source of truth shared by ``train/`` (which builds training crops
with :func:`crop_face`) and by the edge runtime (which crops detected faces the same
way).  A contract travels with every model file as a JSON sidecar named
``<model file>.json`` (``fakeface.tflite`` -> ``fakeface.tflite.json``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

import cv2
import numpy as np

from . import strict_json
from .atomic import write_text_atomic
from .errors import ModelError

# The label order every model shares: index 1, "fake", is what p(fake) is the probability of.
LABELS = ("real", "fake")
# calibrate puts the threshold just above the highest real score when it accepts every real,
# which can be a hair above 1.
THRESHOLD_MAX = 1.0 + 1e-6

SCHEMA_VERSION = 1
SIDECAR_SUFFIX = ".json"
CROP_MODES = ("resize", "native")
# What a model file's last output unit holds.  "probability": p(fake) itself (Keras models,
# and every file exported before the field existed, whose sidecars lack it); "logit": the
# pre-sigmoid value, turned into p(fake) on the host (:func:`fake_probabilities`), so
# p(fake) is not rounded to the 256 levels of an int8 output.
OUTPUT_KINDS = ("probability", "logit")


@dataclass
class ModelContract:
    """Everything needed to turn a detected face into a decision, besides the weights.

    Inputs are RGB, float32 pixel values in [0, 255], NHWC, ``input_size`` square.
    Normalisation happens *inside* the model, so every format takes the same pixels.
    The single output is the probability that the face is fake, or its logit when
    ``output`` is "logit" (the threshold is a probability either way).
    """

    input_size: int = 128
    # Square crop around the detector's box: side = max(w, h) * (1 + 2 * crop_margin).
    crop_margin: float = 0.1
    # How the square becomes input_size pixels.  "resize": the whole square is resized.
    # "native": the centre input_size window at the photo's own pixel scale, so a
    # generator's pixel-level traces are not resampled away; squares larger than
    # native_max_side are first shrunk to it, smaller than input_size are enlarged.
    crop_mode: str = "resize"
    native_max_side: int = 288
    color_order: str = "RGB"
    input_range: Sequence[float] = (0.0, 255.0)
    labels: Sequence[str] = LABELS
    # fake_probability >= threshold -> "fake".  Set by `fakeface calibrate`.
    threshold: float = 0.5
    name: str = "fakeface"
    architecture: str = ""
    format: str = "keras"
    # sha256 of the model file this contract describes, and of the Keras model it came from.
    sha256: Optional[str] = None
    source_sha256: Optional[str] = None
    calibration: dict = field(default_factory=dict)
    # One of OUTPUT_KINDS.  Written only when it is "logit": a probability sidecar stays
    # readable by an older fakeface, which refuses a logit one (unknown key) rather than
    # reading logits as probabilities.
    output: str = "probability"
    schema: int = SCHEMA_VERSION

    # -- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["input_range"] = list(self.input_range)
        d["labels"] = list(self.labels)
        if self.output == "probability":
            del d["output"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "metadata") -> "ModelContract":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ModelError(f"{where}: unknown metadata keys {unknown} (newer fakeface?)")
        if d.get("schema", SCHEMA_VERSION) > SCHEMA_VERSION:
            raise ModelError(f"{where}: metadata schema {d['schema']} is newer than this fakeface")
        try:
            c = cls(**d)
        except TypeError as exc:
            raise ModelError(f"{where}: malformed metadata ({exc})") from None
        if c.color_order not in ("RGB", "BGR"):
            raise ModelError(f"{where}: color_order must be RGB or BGR, not {c.color_order!r}")
        if len(c.labels) != 2:
            raise ModelError(f"{where}: expected two labels (real, fake), got {list(c.labels)}")
        if not (isinstance(c.input_size, int) and 8 <= c.input_size <= 1024):
            raise ModelError(f"{where}: input_size {c.input_size!r} is not a sane integer")
        if c.crop_mode not in CROP_MODES:
            raise ModelError(f"{where}: crop_mode must be one of {list(CROP_MODES)}, not {c.crop_mode!r}")
        if not (isinstance(c.native_max_side, int) and c.native_max_side >= c.input_size):
            raise ModelError(f"{where}: native_max_side {c.native_max_side!r} must be an integer >= input_size")
        if c.output not in OUTPUT_KINDS:
            raise ModelError(f"{where}: output must be one of {list(OUTPUT_KINDS)}, not {c.output!r}")
        _check_decision_fields(c, where)
        return c

    def label_for(self, fake_probability: float) -> str:
        return self.labels[1] if fake_probability >= self.threshold else self.labels[0]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_decision_fields(c: "ModelContract", where: str) -> None:
    """The fields that decide a verdict, or whether the file is the one described: a sidecar
    must not be able to switch a check off (``sha256: null``), never judge anything fake
    (``threshold: 7``), or print FAKE for what it counts as real (swapped labels)."""
    if not (_is_number(c.threshold) and 0.0 <= c.threshold <= THRESHOLD_MAX):
        raise ModelError(f"{where}: threshold must be a number from 0 to 1, not {c.threshold!r}")
    if list(c.labels) != list(LABELS):
        raise ModelError(f"{where}: labels must be {list(LABELS)} in that order (index 1 = fake), not {list(c.labels)}")
    if not (len(c.input_range) == 2 and all(_is_number(v) for v in c.input_range)
            and [float(v) for v in c.input_range] == [0.0, 255.0]):
        raise ModelError(f"{where}: input_range must be [0, 255] (the runtime feeds raw pixels), not {c.input_range!r}")
    if not (_is_number(c.crop_margin) and 0.0 <= c.crop_margin <= 2.0):
        raise ModelError(f"{where}: crop_margin must be a number from 0 to 2, not {c.crop_margin!r}")
    if c.sha256 is not None and not _is_sha256(c.sha256):
        raise ModelError(f"{where}: sha256 must be the model file's 64-hex-digit hash, not {c.sha256!r}")


def _is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


def sidecar_path(model_path: str | os.PathLike) -> Path:
    return Path(str(model_path) + SIDECAR_SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_contract(model_path: str | os.PathLike, contract: ModelContract) -> Path:
    """Write the sidecar atomically next to ``model_path``."""
    path = sidecar_path(model_path)
    write_text_atomic(path, strict_json.dumps(contract.to_dict(), indent=2, sort_keys=True) + "\n")
    return path


def load_contract(model_path: str | os.PathLike, verify_hash: bool = True) -> ModelContract:
    """Read and check the sidecar of ``model_path``.

    With ``verify_hash`` the file's sha256 must equal the recorded one, so a model
    swapped or damaged after export is refused instead of silently misbehaving.
    """
    model_path = Path(model_path)
    path = sidecar_path(model_path)
    if not model_path.is_file():
        raise ModelError(f"{model_path}: model file not found")
    if not path.is_file():
        raise ModelError(f"{model_path}: metadata sidecar {path.name} not found")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: unreadable metadata ({exc})") from None
    if not isinstance(d, dict):
        raise ModelError(f"{path}: metadata must be a JSON object")
    contract = ModelContract.from_dict(d, where=str(path))
    if verify_hash and contract.sha256 is None:
        raise ModelError(f"{path}: no sha256 of the model file: a sidecar without one cannot be checked against "
                         "its file (export writes it; for a model of your own, add the file's sha256)")
    if verify_hash:
        actual = file_sha256(model_path)
        if actual != contract.sha256:
            raise ModelError(
                f"{model_path}: sha256 {actual[:12]}... does not match its metadata "
                f"({contract.sha256[:12]}...); the file was changed or damaged after export"
            )
    return contract


# -- crop geometry -----------------------------------------------------------------
def square_crop_box(box: Sequence[float], margin: float) -> tuple[int, int, int]:
    """Return (x0, y0, side) of the square crop, in integer pixels, for box (x, y, w, h)."""
    x, y, w, h = (float(v) for v in box)
    side = max(w, h) * (1.0 + 2.0 * margin)
    side_i = max(1, int(round(side)))
    cx, cy = x + w / 2.0, y + h / 2.0
    x0 = int(round(cx - side_i / 2.0))
    y0 = int(round(cy - side_i / 2.0))
    return x0, y0, side_i


def resize_square(patch: np.ndarray, size: int) -> np.ndarray:
    """Resize an image to ``size`` x ``size`` the way every crop is resized: area averaging
    when shrinking (keeps the noise statistics a detector reads), bilinear when enlarging."""
    if patch.shape[:2] == (size, size):
        return patch.copy()
    interp = cv2.INTER_AREA if max(patch.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def native_window(square: np.ndarray, size: int, max_side: int, context: int = 0) -> np.ndarray:
    """The centre ``size`` x ``size`` window of a square patch at its own pixel scale.

    A patch wider than ``max_side`` is first shrunk to ``max_side`` (area averaging), so
    a close-up phone selfie is seen at roughly the scale of the training photos; one
    narrower than ``size`` is enlarged to ``size`` (nothing to cut a window from).

    ``context`` > ``size`` (training only) returns the centre window of up to ``context``
    pixels instead, at the same scale, from which training cuts its ``size`` windows;
    its own centre ``size`` window is exactly the one returned without ``context`` as long
    as ``context - size`` is even."""
    side = square.shape[0]
    if side > max_side:
        square, side = resize_square(square, max_side), max_side
    if side <= size:
        return resize_square(square, size)
    window = min(side, max(size, context))
    off = (side - window) // 2
    return square[off:off + window, off:off + window].copy()


def square_patch(image_rgb: np.ndarray, box: Sequence[float], margin: float) -> np.ndarray:
    """The square around ``box`` (:func:`square_crop_box`) cut from an HxWx3 image; parts
    outside the image are filled by edge replication (a black border would be an easy,
    wrong cue)."""
    H, W = image_rgb.shape[:2]
    x0, y0, side = square_crop_box(box, margin)
    x1, y1 = x0 + side, y0 + side
    pad_l, pad_t = max(0, -x0), max(0, -y0)
    pad_r, pad_b = max(0, x1 - W), max(0, y1 - H)
    patch = image_rgb[max(0, y0):min(H, y1), max(0, x0):min(W, x1)]
    if patch.size == 0:
        raise ValueError(f"face box {tuple(box)} lies outside the {W}x{H} image")
    if pad_l or pad_t or pad_r or pad_b:
        patch = cv2.copyMakeBorder(patch, pad_t, pad_b, pad_l, pad_r, cv2.BORDER_REPLICATE)
    return patch


def crop_face(image_rgb: np.ndarray, box: Sequence[float], contract: ModelContract,
              context: int = 0) -> np.ndarray:
    """Cut the contract's square crop around ``box`` from an RGB uint8 image.

    Returns a ``(input_size, input_size, 3)`` uint8 array in the contract's colour
    order.  Parts of the square outside the image are filled by edge replication
    (:func:`square_patch`).  ``crop_mode`` "resize" scales the
    whole square, "native" keeps its centre window unscaled (:func:`native_window`).
    Shrinking uses area averaging, enlarging bilinear interpolation; training crops are
    made by this very function, so both sides see identical pixels.  ``context`` (native
    mode, training only) widens the window to up to that many pixels around the same
    centre (:func:`native_window`).
    """
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
        raise ValueError(f"crop_face needs an HxWx3 uint8 RGB image, got {image_rgb.shape} {image_rgb.dtype}")
    patch = square_patch(image_rgb, box, contract.crop_margin)
    if contract.crop_mode == "native":
        crop = native_window(patch, contract.input_size, contract.native_max_side, context)
    else:
        crop = resize_square(patch, contract.input_size)
    return np.ascontiguousarray(in_model_colour_order(crop, contract))


def in_model_colour_order(rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """RGB pixels (one crop or a batch, channels last) in the contract's colour order; a view."""
    return rgb[..., ::-1] if contract.color_order == "BGR" else rgb


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)) in float64, without overflow for any finite z (exp of -|z| only)."""
    z = np.asarray(logits, np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def last_unit(output: np.ndarray) -> np.ndarray:
    """The last value of each row of a model's output batch: what p(fake) is read from."""
    out = np.asarray(output)
    return out.reshape(len(out), -1)[:, -1] if len(out) else np.zeros(0, out.dtype)


def fake_probabilities(output: np.ndarray, kind: str = "probability") -> np.ndarray:
    """The fake probability per crop from a model's output batch.

    One sigmoid unit (N, 1) is P(fake); two softmax units (N, 2) are (P(real), P(fake)) in
    the order of ``labels``: either way it is the last value of each row.  With ``kind``
    "logit" (the contract's ``output``) that value is the pre-sigmoid logit, and the
    result is its sigmoid in float64.
    """
    if kind not in OUTPUT_KINDS:
        raise ValueError(f"output kind must be one of {list(OUTPUT_KINDS)}, not {kind!r}")
    values = last_unit(output)
    return sigmoid(values) if kind == "logit" else values
