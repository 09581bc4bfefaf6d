"""The photos ``fakeface generalise capture`` measures, grouped by source folder.

Two kinds of folder: a data folder with the ``real/<source>`` layout (only ``real/`` is
read, or only ``fake/`` with ``--fakes``; the split is the one every other command uses,
``layout.split_of`` of the path relative to the data folder, so ``--split test`` measures
the photos ``evaluate --split test`` would), or any folder of photos, whose sub-folders are
its sources.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from fakeface.edge.errors import FakeFaceError
from fakeface.edge.imageio import is_image_name

from ..data.layout import SPLITS, split_of, stable_order_key


@dataclass(frozen=True)
class Photo:
    path: Path
    key: str  # POSIX path relative to the folder given (with real/ in a data folder): the split key
    source: str  # the folder it lies in, relative to the folder given ("real/nuaa-webcam"), or the folder's name


@dataclass(frozen=True)
class PhotoSet:
    root: Path
    layout: bool  # a data folder with real/ (and fake/)
    split: str  # "train", "val", "test" or "all"
    sources: dict  # source -> list[Photo], sorted by key
    empty: tuple = ()  # sources with photos, none of them in the split
    kind: str = "real"  # what the photos are: "real" people, or "fake" (generated) faces


KINDS = ("real", "fake")


def is_data_folder(root: Path) -> bool:
    return any((root / kind).is_dir() for kind in KINDS)


def _walk(top: Path, root: Path, own_name: str) -> dict:
    found: dict = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or not is_image_name(name):
                continue
            path = Path(dirpath) / name
            key = path.relative_to(root).as_posix()
            source = key.rpartition("/")[0] or own_name
            found.setdefault(source, []).append(Photo(path, key, source))
    return found


def _pick_sources(found: dict, wanted: Sequence[str], root: Path, kind: str = "real") -> dict:
    """The sources named in ``wanted``: by their whole name (``real/nuaa-webcam``) or their last part."""
    picked = {}
    for name in wanted:
        name = name.strip().strip("/")
        hits = [s for s in found if s == name or s.rpartition("/")[2] == name or s == f"{kind}/{name}"]
        if not hits:
            raise FakeFaceError(f"{root}: no {kind} photos in a source named {name!r} "
                                f"(sources: {', '.join(sorted(found)) or 'none'})")
        picked.update({s: found[s] for s in hits})
    return picked


def find_photos(folder, split: Optional[str] = None, sources: Optional[Sequence[str]] = None,
                limit: Optional[int] = None, kind: str = "real") -> PhotoSet:
    """The photos to measure, per source.  ``split`` None: ``test`` in a data folder, every
    photo elsewhere.  ``limit``: at most that many per source, spread over its persons (the
    first in a stable hash order, not the first by name).  ``kind``: "fake" reads a data
    folder's ``fake/`` instead of its ``real/`` (any other folder is taken as it is)."""
    if kind not in KINDS:
        raise FakeFaceError(f"photos are {' or '.join(KINDS)}, not {kind!r}")
    root = Path(folder)
    if not root.is_dir():
        raise FakeFaceError(f"{folder}: no such folder" if not root.exists() else f"{folder}: not a folder")
    layout = is_data_folder(root)
    split = split or ("test" if layout else "all")
    if split not in SPLITS + ("all",):
        raise FakeFaceError(f"unknown split {split!r}; choose from {', '.join(SPLITS)} or all")
    if layout and not (root / kind).is_dir():
        other = next(k for k in KINDS if (root / k).is_dir())
        raise FakeFaceError(f"{root}: has {other}/ but no {kind}/ folder, so it reads as a data folder without "
                            f"{kind} photos; point at a folder of {kind} photos itself")
    found = _walk(root / kind if layout else root, root, root.resolve().name)
    if not found:
        where = f"{root}/{kind}" if layout else str(root)
        raise FakeFaceError(f"{where}: no photos found (.jpg, .png, .webp, ...)")
    if sources:
        found = _pick_sources(found, sources, root, kind)
    picked, empty = {}, []
    for source, photos in sorted(found.items()):
        chosen = [p for p in photos if split == "all" or split_of(p.key) == split]
        if limit:
            chosen = sorted(sorted(chosen, key=lambda p: stable_order_key(p.key))[:limit], key=lambda p: p.key)
        if chosen:
            picked[source] = chosen
        else:
            empty.append(source)
    if not picked:
        raise FakeFaceError(f"{folder}: no photos in split {split} of {', '.join(sorted(found))}")
    return PhotoSet(root, layout, split, picked, tuple(empty), kind)
