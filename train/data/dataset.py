"""Crops in memory, and the tf.data pipelines that feed them to Keras.

A crop folder is small (15k crops of 96 px are ~400 MB as uint8), so it is decoded
once into arrays and shuffled there; decoding PNGs every epoch would cost more CPU
than training on two cores.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from fakeface.edge.contract import ModelContract, in_model_colour_order, resize_square
from fakeface.edge.errors import FakeFaceError, ImageError
from fakeface.edge.imageio import load_image

from .layout import CONTEXT_DIR, Sample, group_of, keep_source_shares, scan_folder, select_split, source_key_of_crop


@dataclass
class CropSet:
    """Crops of one split as arrays, with where each came from."""

    images: np.ndarray  # (N, S, S, 3) uint8 RGB
    labels: np.ndarray  # (N,) int32, 1 = fake
    sources: list  # source folder per crop, e.g. "fake/stylegan1-140k"
    paths: list  # relative paths
    # Optional wider windows of the same faces at the same scale (prepare's context/), each
    # centred in a (C, C) canvas, and how many pixels of it are real: training cuts its
    # crop-sized window from the real part anew every epoch (augment.make_window).
    context: Optional[np.ndarray] = None  # (N, C, C, 3) uint8
    context_sides: Optional[np.ndarray] = None  # (N,) int32

    def __len__(self) -> int:
        return len(self.labels)


def take(cs: CropSet, keep: np.ndarray) -> CropSet:
    """The crops at the indices (or where the mask is true) ``keep``, in order, without context."""
    idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep)
    return CropSet(cs.images[idx], cs.labels[idx], [cs.sources[i] for i in idx], [cs.paths[i] for i in idx])


def at_most_per_source(cs: CropSet, limit: int, seed: int = 1) -> CropSet:
    """A random subset with at most ``limit`` crops of every source folder (small sources
    whole), in the original order; ``cs`` itself when no source is over the limit."""
    rng = np.random.default_rng(seed)
    sources = np.asarray(cs.sources)
    keep = []
    for src in sorted(set(cs.sources)):
        where = np.flatnonzero(sources == src)
        keep.append(where if len(where) <= limit else rng.choice(where, limit, replace=False))
    keep = np.sort(np.concatenate(keep)) if keep else np.empty(0, np.intp)
    if len(keep) == len(cs):
        return cs
    return take(cs, keep)


def read_geometry(crops_dir: str | os.PathLike) -> dict:
    """The crop geometry `prepare` recorded in crops.json ({} if the folder has none)."""
    p = Path(crops_dir) / "crops.json"
    if not p.is_file():
        return {}
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FakeFaceError(f"{p}: unreadable ({exc})") from None


WRONG_SIZE = "not a crop of the model's input size"


def load_crops(samples: list[Sample], size: Optional[int] = None, progress: bool = True,
               threads: int = 0, resize: bool = True) -> tuple[CropSet, list]:
    """Decode crops into one array; returns (CropSet, [(relative path, reason) for unusable files]).

    Normally all crops already have the model's input ``size``.  One that does not is
    resized (INTER_AREA down, bilinear up), or with ``resize=False`` listed as unusable:
    a crop folder may hold strays (a full photo, a 1x1 image) that must not be scored
    as faces.  Without ``size`` the crops must all share one size.
    """
    from tqdm import tqdm

    threads = threads or min(4, os.cpu_count() or 1)

    def read(s: Sample):
        try:
            img = load_image(s.path)
        except ImageError as exc:
            return None, str(exc)
        if size is not None and img.shape[:2] != (size, size):
            if not resize:
                return None, f"{s.rel}: {img.shape[1]}x{img.shape[0]} px, {WRONG_SIZE}"
            img = resize_square(img, size)
        return img, None

    with ThreadPoolExecutor(threads) as pool:  # cv2 decoding releases the GIL
        results = list(tqdm(pool.map(read, samples), total=len(samples), desc="load crops", unit="crop",
                            disable=not progress, leave=False))
    bad = [(s.rel, err) for s, (img, err) in zip(samples, results) if img is None]
    kept = [(s, img) for s, (img, _) in zip(samples, results) if img is not None]
    if kept:
        shapes = {img.shape for _, img in kept}
        if len(shapes) > 1:
            raise FakeFaceError(f"crops have different sizes {sorted(shapes)[:3]}; cut them all with one "
                                "'fakeface prepare' run (or pass an input size)")
        images = np.stack([img for _, img in kept])
    else:
        images = np.zeros((0, size or 1, size or 1, 3), np.uint8)
    cs = CropSet(images=images, labels=np.array([s.label for s, _ in kept], np.int32),
                 sources=[s.source for s, _ in kept], paths=[s.rel for s, _ in kept])
    return cs, bad


def model_pixels(cs: CropSet, contract: ModelContract, where="crops") -> np.ndarray:
    """The crops in the contract's colour order, a uint8 view: scorers cast each batch to
    float32, since a float32 copy of a whole crop folder would take 4x the memory."""
    if len(cs) and cs.images.shape[1] != contract.input_size:
        raise FakeFaceError(f"{where}: crops are {cs.images.shape[1]} px but the model takes "
                            f"{contract.input_size} px; cut crops with --input-size {contract.input_size}")
    return in_model_colour_order(cs.images, contract)


def resolve_source_shares(shares: dict, samples: list[Sample], crops_dir, split: str) -> dict:
    """``shares`` keyed by full source folder: ``stylegan1-140k`` may stand for
    ``fake/stylegan1-140k`` when only one folder ends so."""
    known = sorted({s.source for s in samples})
    out = {}
    for name, value in shares.items():
        match = [k for k in known if k == name] or [k for k in known if k.endswith("/" + name)]
        if len(match) != 1:
            why = "names several sources" if match else f"has no {split} crops"
            raise FakeFaceError(f"--source-share {name}: {why} in {crops_dir} (sources: {', '.join(known)})")
        out[match[0]] = value
    return out


def load_split(crops_dir, split: str, size: Optional[int] = None, progress: bool = True,
               limit: int = 0, seed: int = 1, shares: Optional[dict] = None) -> tuple[CropSet, list]:
    """One split of a crop folder; ``shares`` keeps only part of some sources' photos
    (:func:`keep_source_shares`), ``limit`` then caps the crops at random."""
    samples = select_split(scan_folder(crops_dir, cropped=True), split)
    if shares:
        samples = keep_source_shares(samples, resolve_source_shares(shares, samples, crops_dir, split))
    if limit and len(samples) > limit:
        rng = np.random.default_rng(seed)
        samples = [samples[i] for i in sorted(rng.choice(len(samples), limit, replace=False))]
    return load_crops(samples, size=size, progress=progress)


def attach_context(cs: CropSet, crops_dir: str | os.PathLike, context: int, progress: bool = True) -> int:
    """Load ``crops_dir/context/<crop>`` for every crop of ``cs`` into ``cs.context``.

    A missing or unreadable context file, or one of the wrong size, falls back to the crop
    itself (nothing to move then).  Returns how many crops had a usable context window."""
    from tqdm import tqdm

    size = int(cs.images.shape[1])
    canvas = np.zeros((len(cs), context, context, 3), np.uint8)
    sides = np.full(len(cs), size, np.int32)
    root = Path(crops_dir) / CONTEXT_DIR

    def read(i: int) -> bool:
        try:
            img = load_image(root / cs.paths[i])
        except ImageError:
            img = None
        side = img.shape[0] if img is not None else 0
        ok = img is not None and img.shape[1] == side and size <= side <= context
        if not ok:
            img, side = cs.images[i], size
        off = (context - side) // 2
        canvas[i, off:off + side, off:off + side] = img
        sides[i] = side
        return ok

    with ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        found = sum(tqdm(pool.map(read, range(len(cs))), total=len(cs), desc="load context", unit="crop",
                         disable=not progress, leave=False))
    cs.context, cs.context_sides = canvas, sides
    return int(found)


def class_weights(labels: np.ndarray) -> dict:
    """Weights that make real and fake count equally (the metric we report is balanced)."""
    n = len(labels)
    counts = np.bincount(labels, minlength=2).astype(np.float64)
    return {c: float(n / (2.0 * counts[c])) if counts[c] else 1.0 for c in range(2)}


BALANCE_MODES = ("class", "source")


def sample_weights(cs: CropSet, balance: str = "class", source_weights: Optional[dict] = None) -> np.ndarray:
    """Per-crop loss weights, mean 1.

    "class": real and fake count equally.  "source": each class counts half, and within
    a class every source folder counts equally, so a small source (the 140k twins have
    ~760 training photos, the 128-px ones ~2,000) is not drowned by the large ones; within
    a source every person counts equally (:func:`~.layout.group_of`: 35 near-identical
    webcam frames of one person weigh as much as 16 studio photos of another).

    ``source_weights`` ({"fake/generated-photos": 0.25}) then scales whole sources, and each
    class is brought back to its own total, so the other sources of that class take up what
    one gave away (0: the source teaches nothing, though it stays in the data)."""
    if balance == "class":
        weights = class_weights(cs.labels)
        w = np.array([weights[int(c)] for c in cs.labels], np.float32)
    else:
        w = _source_balanced(cs, balance)
    return scale_sources(w, cs, source_weights) if source_weights else w


def resolve_source_weights(weights: dict, sources) -> dict:
    """``--source-weight`` names (``fake/generated-photos`` or ``generated-photos``) as the
    crops' source folders; an unknown name is an error that lists the known ones."""
    known = sorted(set(sources))
    out = {}
    for name, factor in weights.items():
        match = [s for s in known if s == name or s.split("/", 1)[-1] == name]
        if len(match) != 1:
            what = "names more than one source folder" if match else "no such source folder"
            raise FakeFaceError(f"--source-weight {name}: {what} among the training crops (have {', '.join(known)})")
        out[match[0]] = float(factor)
    return out


def scale_sources(w: np.ndarray, cs: CropSet, source_weights: dict) -> np.ndarray:
    """``w`` with every crop of a source in ``source_weights`` scaled by its factor, each class
    renormalised to the total it had."""
    factor = np.array([source_weights.get(src, 1.0) for src in cs.sources], np.float64)
    out = w.astype(np.float64) * factor
    for label in np.unique(cs.labels):
        m = cs.labels == label
        if out[m].sum() <= 0:
            raise FakeFaceError(f"--source-weight leaves the {'fake' if label else 'real'} class with no weight")
        out[m] *= w[m].sum() / out[m].sum()
    return out.astype(np.float32)


def _source_balanced(cs: CropSet, balance: str) -> np.ndarray:
    if balance != "source":
        raise FakeFaceError(f"balance must be one of {BALANCE_MODES}, not {balance!r}")
    n = len(cs.labels)
    groups = [group_of(source_key_of_crop(rel)) for rel in cs.paths]
    sources: dict = {}  # label -> source -> group -> crops
    for label, src, group in zip(cs.labels.tolist(), cs.sources, groups):
        per_group = sources.setdefault(label, {}).setdefault(src, {})
        per_group[group] = per_group.get(group, 0) + 1
    w = np.empty(n, np.float32)
    for i, (label, src, group) in enumerate(zip(cs.labels.tolist(), cs.sources, groups)):
        per_group = sources[label][src]
        w[i] = n / (len(sources) * len(sources[label]) * len(per_group) * per_group[group])
    return w


def make_dataset(cs: CropSet, batch_size: int, training: bool, augment=None, seed: int = 1,
                 balance: str = "class", window=None, source_weights: Optional[dict] = None):
    """A tf.data pipeline of (float32 pixels 0..255, float32 label[, weight]) batches.

    In training, crops with context windows (:func:`attach_context`) are cut anew every
    epoch by ``window(canvas, side)`` (default: the centre, unscaled: the crop itself)."""
    import tensorflow as tf

    from .augment import make_window

    w = sample_weights(cs, balance, source_weights)
    y = cs.labels.astype(np.float32)[:, None]
    windows = training and cs.context is not None
    if windows:
        ds = tf.data.Dataset.from_tensor_slices((cs.context, cs.context_sides, y, w))
    else:
        ds = tf.data.Dataset.from_tensor_slices((cs.images, y, w))
    if training:
        ds = ds.shuffle(len(cs), seed=seed, reshuffle_each_iteration=True)
    if windows:
        cut = window or make_window(int(cs.images.shape[1]))
        ds = ds.map(lambda c, s, y_, wt: (cut(c, s), y_, wt), num_parallel_calls=tf.data.AUTOTUNE)
    if training and augment is not None:
        ds = ds.map(lambda x, y, wt: (*augment(x, y), wt), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = ds.map(lambda x, y, wt: (tf.cast(x, tf.float32), y, wt), num_parallel_calls=tf.data.AUTOTUNE)
    if not training:
        ds = ds.map(lambda x, y, wt: (x, y))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
