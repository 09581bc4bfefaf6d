"""Face crops for calibration and parity: folders of PNG/JPG crops -> float32 RGB batches.

Crops are fed exactly as the edge runtime feeds them: RGB (or the contract's colour
order), float32 pixel values 0..255, ``input_size`` square.  Normalisation is inside
the model, so no scaling happens here.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fakeface.edge.contract import ModelContract, resize_square
from fakeface.edge.errors import ImageError
from fakeface.edge.imageio import is_image_name, load_image

from .errors import ExportError


@dataclass
class CropSet:
    """A batch of crops; ``y`` is 1 for fake, 0 for real (None for unlabelled calibration crops)."""

    x: np.ndarray
    paths: list[Path]
    y: Optional[np.ndarray] = None
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def find_images(root: Path) -> list[Path]:
    """Every image file under ``root``, hidden folders skipped, in a stable order."""
    found = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).parts
        if any(part.startswith(".") for part in rel):
            continue
        if p.is_file() and is_image_name(p):
            found.append(p)
    return found


def in_split(paths: Sequence[Path], root: Path, split: Optional[str]) -> list[Path]:
    """Keep the crops of one split of BASELINE.md's stable rule (train/val/test), the one
    ``fakeface train`` uses, so parity can be measured on crops the model never saw."""
    if split in (None, "all"):
        return list(paths)
    from fakeface.train.layout import SPLITS, source_key_of_crop, split_of

    if split not in SPLITS:
        raise ExportError(f"unknown split {split!r}; choose from {', '.join(SPLITS)} or all")
    return [p for p in paths if split_of(source_key_of_crop(p.relative_to(root).as_posix())) == split]


def _stable_order(paths: Sequence[Path], root: Path) -> list[Path]:
    # Ordering by a hash of the relative name mixes classes and sources, so taking the
    # first N gives a representative calibration subset that stays the same run to run.
    return sorted(paths, key=lambda p: hashlib.sha1(str(p.relative_to(root)).encode()).hexdigest())


def to_model_input(rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """An RGB uint8 crop -> the contract's ``(S, S, 3)`` float32 input (resized if it is not S x S)."""
    rgb = resize_square(rgb, contract.input_size)
    if contract.color_order == "BGR":
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb, dtype=np.float32)


def load_crops(paths: Sequence[Path], contract: ModelContract, desc: str) -> tuple[np.ndarray, list[Path], list[str]]:
    """Load crops; unreadable files are reported in one line each and skipped."""
    from tqdm import tqdm

    arrays, kept, skipped = [], [], []
    for p in tqdm(paths, desc=desc, unit="crop", leave=False, disable=len(paths) < 200):
        try:
            arrays.append(to_model_input(load_image(p), contract))
            kept.append(p)
        except ImageError as exc:
            skipped.append(str(exc))
            print(f"fakeface export: skipping {exc}", file=sys.stderr)
    size = contract.input_size
    x = np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.float32)
    return x, kept, skipped


def load_calibration_set(calib_dir: Optional[Path], contract: ModelContract, limit: int = 256,
                         split: Optional[str] = None) -> CropSet:
    """Real face crops for int8 calibration.  Never random data: a missing folder is an error."""
    if calib_dir is None:
        raise ExportError(
            "int8 formats need real face crops for calibration: pass --calib DIR "
            "(e.g. the crops folder written by 'fakeface prepare'), or leave the int8 formats out of --formats"
        )
    calib_dir = Path(calib_dir)
    if not calib_dir.is_dir():
        raise ExportError(f"{calib_dir}: calibration folder not found (--calib needs a folder of face crops)")
    paths = in_split(find_images(calib_dir), calib_dir, split)
    if not paths:
        raise ExportError(f"{calib_dir}: no PNG/JPG images found for calibration (split: {split or 'all'})")
    chosen = _stable_order(paths, calib_dir)[:limit]
    x, kept, skipped = load_crops(chosen, contract, "calibration crops")
    if len(kept) == 0:
        raise ExportError(f"{calib_dir}: none of the calibration images could be read")
    if len(kept) < 32:
        print(
            f"fakeface export: warning: only {len(kept)} calibration crops in {calib_dir}; "
            "int8 ranges from so few crops are often poor (100+ recommended)",
            file=sys.stderr,
        )
    return CropSet(x=x, paths=kept, skipped=skipped)


def load_eval_set(eval_dir: Optional[Path], contract: ModelContract, limit: Optional[int] = None,
                  split: Optional[str] = None) -> CropSet:
    """Labelled crops: ``<eval>/<real label>/**`` and ``<eval>/<fake label>/**``; the top folder is the label."""
    if eval_dir is None:
        raise ExportError("the parity check needs labelled crops: pass --eval DIR with real/ and fake/ sub-folders")
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        raise ExportError(f"{eval_dir}: evaluation folder not found")
    labelled: list[tuple[Path, int]] = []
    for y, label in enumerate(contract.labels):
        top = eval_dir / label
        if top.is_dir():
            labelled += [(p, y) for p in in_split(find_images(top), eval_dir, split)]
    if not labelled:
        raise ExportError(
            f"{eval_dir}: no crops under {'/ or '.join(contract.labels)}/ (the top folder names the label)"
        )
    if limit is not None and len(labelled) > limit:
        order = _stable_order([p for p, _ in labelled], eval_dir)[:limit]
        keep = set(order)
        labelled = [(p, y) for p, y in labelled if p in keep]
    label_of = dict(labelled)
    x, kept, skipped = load_crops([p for p, _ in labelled], contract, "evaluation crops")
    if len(kept) == 0:
        raise ExportError(f"{eval_dir}: none of the evaluation images could be read")
    y = np.array([label_of[p] for p in kept], dtype=np.int64)
    return CropSet(x=x, paths=kept, y=y, skipped=skipped)
