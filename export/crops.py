"""Face crops for calibration and parity: folders of PNG/JPG crops -> float32 RGB batches.

Crops are fed exactly as the edge runtime feeds them: RGB (or the contract's colour
order), float32 pixel values 0..255, ``input_size`` square.  Normalisation is inside
the model, so no scaling happens here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fakeface.edge.contract import ModelContract
from fakeface.edge.imageio import is_image_name
from fakeface.train.data.dataset import CropSet, load_crops, model_pixels
from fakeface.train.data.layout import (CLASS_NAMES, SPLITS, Sample, calibration_choice, source_key_of_crop, split_of,
                                         stable_order_key)

from .errors import ExportError


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
    if split not in SPLITS:
        raise ExportError(f"unknown split {split!r}; choose from {', '.join(SPLITS)} or all")
    return [p for p in paths if split_of(source_key_of_crop(p.relative_to(root).as_posix())) == split]


def _stable_order(paths: Sequence[Path], root: Path) -> list[Path]:
    # Taking the first N of this order gives a representative subset that stays the same run to run.
    return sorted(paths, key=lambda p: stable_order_key(p.relative_to(root).as_posix()))


def _load(paths: Sequence[Path], root: Path, labels: Sequence[int], contract: ModelContract) -> CropSet:
    """Load crops at the contract's size; an unreadable file is reported in one line and skipped."""
    samples = []
    for p, label in zip(paths, labels):
        rel = p.relative_to(root).as_posix()
        samples.append(Sample(p, rel, label, rel.rpartition("/")[0], source_key_of_crop(rel)))
    cs, bad = load_crops(samples, contract.input_size, progress=len(samples) >= 200)
    for _, reason in bad:
        print(f"fakeface export: skipping {reason}", file=sys.stderr)
    return cs


def calibration_paths(calib_dir: Path, limit: int, split: Optional[str] = None) -> list[Path]:
    """The crops int8 calibration uses: the first ``limit`` of the split in the stable order.

    A folder that ``prepare`` wrote (real/ and fake/ class folders) contributes only its class
    folders, as training reads it: never its context/ windows, which show the face at another
    scale.  ``train --int8-consistency`` picks the same crops (``layout.calibration_choice``)."""
    roots = [calib_dir / c for c in CLASS_NAMES] if all((calib_dir / c).is_dir() for c in CLASS_NAMES) else [calib_dir]
    paths = in_split([p for root in roots for p in find_images(root)], calib_dir, split)
    return [paths[i] for i in calibration_choice([p.relative_to(calib_dir).as_posix() for p in paths], limit)]


def load_calibration_set(calib_dir: Optional[Path], contract: ModelContract, limit: int = 256,
                         split: Optional[str] = None) -> np.ndarray:
    """Real face crops for int8 calibration as the model takes them, float32 (N, S, S, 3).

    Never random data: a missing folder is an error."""
    if calib_dir is None:
        raise ExportError(
            "int8 formats need real face crops for calibration: pass --calib DIR "
            "(e.g. the crops folder written by 'fakeface prepare'), or leave the int8 formats out of --formats"
        )
    calib_dir = Path(calib_dir)
    if not calib_dir.is_dir():
        raise ExportError(f"{calib_dir}: calibration folder not found (--calib needs a folder of face crops)")
    chosen = calibration_paths(calib_dir, limit, split)
    if not chosen:
        raise ExportError(f"{calib_dir}: no PNG/JPG images found for calibration (split: {split or 'all'})")
    cs = _load(chosen, calib_dir, [-1] * len(chosen), contract)  # -1: calibration crops are unlabelled
    if len(cs) == 0:
        raise ExportError(f"{calib_dir}: none of the calibration images could be read")
    if len(cs) < 32:
        print(
            f"fakeface export: warning: only {len(cs)} calibration crops in {calib_dir}; "
            "int8 ranges from so few crops are often poor (100+ recommended)",
            file=sys.stderr,
        )
    return model_pixels(cs, contract).astype(np.float32)


def load_eval_set(eval_dir: Optional[Path], contract: ModelContract, limit: Optional[int] = None,
                  split: Optional[str] = None) -> CropSet:
    """Labelled crops: ``<eval>/<real label>/**`` and ``<eval>/<fake label>/**``; the top folder is the label.

    The model takes them as ``model_pixels(crops, contract)``, cast to float32."""
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
    cs = _load([p for p, _ in labelled], eval_dir, [y for _, y in labelled], contract)
    if len(cs) == 0:
        raise ExportError(f"{eval_dir}: none of the evaluation images could be read")
    return cs
