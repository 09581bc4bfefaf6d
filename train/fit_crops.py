"""The crops a training run reads: the three splits of a crop folder, the geometry they were
cut with, and prepare's wider face windows when an augmentation cuts from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from fakeface.edge.errors import FakeFaceError

from .data.dataset import CropSet, attach_context, load_split, read_geometry
from .fit_options import TrainOptions


@dataclass
class RunCrops:
    """The three splits of a crop folder and the geometry they were cut with."""

    geometry: dict
    train: CropSet
    val: CropSet
    test: CropSet
    size: int  # crop side, pixels
    margin: float
    context: int = 0  # side of the wider face windows in use, 0 when none


def load_run_crops(crops_dir: Path, opts: TrainOptions) -> RunCrops:
    geometry = read_geometry(crops_dir)
    train_cs, bad = load_split(crops_dir, "train", progress=opts.verbose, limit=opts.limit, seed=opts.seed,
                               shares=opts.source_shares)
    if len(train_cs) == 0:
        raise FakeFaceError(f"{crops_dir}: no training crops (is it a 'fakeface prepare' output?)")
    size = int(train_cs.images.shape[1])
    if geometry.get("input_size", size) != size:
        raise FakeFaceError(f"{crops_dir}: crops are {size} px but crops.json says {geometry['input_size']}")
    val_cs, bad_val = load_split(crops_dir, "val", size=size, progress=opts.verbose)
    if opts.skip_test:  # never read: nothing will score it
        test_cs, bad_test = CropSet(train_cs.images[:0], train_cs.labels[:0], [], []), []
    else:
        test_cs, bad_test = load_split(crops_dir, "test", size=size, progress=opts.verbose)
    if opts.verbose:
        print(f"train: {len(train_cs)} train / {len(val_cs)} val / "
              + ("test not scored (--skip-test)" if opts.skip_test else f"{len(test_cs)} test")
              + f" crops of {size} px"
              + "".join(f"; {share:g} of {src}'s training photos" for src, share in opts.source_shares.items())
              + (f"; {len(bad) + len(bad_val) + len(bad_test)} unreadable skipped" if bad or bad_val or bad_test else ""))
    return RunCrops(geometry, train_cs, val_cs, test_cs, size, float(geometry.get("crop_margin", 0.1)))


def attach_context_windows(crops_dir: Path, crops: RunCrops, opts: TrainOptions) -> None:
    """Read prepare's wider face windows (--context), but only when an augmentation cuts from them."""
    a, size = opts.augment_options, crops.size
    wants_context = opts.augment and (a.scale_p > 0 or a.window_shift > 0)
    crops.context = int(crops.geometry.get("context", 0)) if wants_context else 0
    if wants_context and crops.context <= size:
        raise FakeFaceError(f"{crops_dir}: --scale-augment needs the wider face windows of "
                            "'fakeface prepare --context 160'; these crops were cut without them")
    if crops.context:
        found = attach_context(crops.train, crops_dir, crops.context, progress=opts.verbose)
        if opts.verbose:
            print(f"train: {found} of {len(crops.train)} crops have a {crops.context} px context window: "
                  f"{a.scale_p:.0%} are shrunk {a.scale_range[0]:g}-{a.scale_range[1]:g}x before their {size} px "
                  f"window is cut, at most {a.window_shift} px from the centre")
