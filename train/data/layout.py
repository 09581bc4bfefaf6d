"""Where things are in a face folder: class folders, source folders, and the stable split.

A data folder holds ``real/`` and ``fake/``, each with any number of nested source
folders.  Raw photos and prepared crops share this layout: ``prepare`` writes the crop
of ``fake/src/x.jpg`` to ``fake/src/x.jpg.png`` so that a crop names the photo it came
from, and the split of a crop is the split of its photo without reading any manifest.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from fakeface.edge.imageio import is_image_name

CLASS_NAMES = ("real", "fake")  # label index = position: real 0, fake 1
SPLITS = ("train", "val", "test")
CROP_SUFFIX = ".png"
# A photo with several faces under `--faces all` gives x.jpg.png, x.jpg.face1.png, ...
_FACE_TAG = re.compile(r"\.face\d+$")
# Beside real/ and fake/, prepare's wider training windows of the same crops (same names).
CONTEXT_DIR = "context"
# Fake sources with a real twin that went through the same processing (BASELINE.md): a
# model must tell these apart by the generator's traces, not by the look of the photos.
TWIN_PAIRS = {"fake/stylegan1-140k": "real/ffhq-140k", "fake/stylegan2-tpdne-128": "real/ffhq-128"}


# File names that say whose face a photo shows: (pattern, what the id is).  Photos of one
# person must share a split, or near-duplicate frames of one face land in train and test.
PERSON_NAME_PATTERNS = (
    (re.compile(r"^(nuaa)_(\d{4})_"), "NUAA subject number"),
    (re.compile(r"^(tw)_(\d{2})"), "Taiwanese expression database subject"),
    (re.compile(r"^(canada)_(\d+)"), "studio stimulus number, one person each"),
)


def person_of(key: str) -> Optional[str]:
    """The person a photo shows, as ``<source folder>/<prefix>_<id>``, when its file name
    carries one (:data:`PERSON_NAME_PATTERNS`), else None.  ``key`` as in :func:`split_of`.

    >>> person_of("real/nuaa-webcam/nuaa_0007_00_00_01_12.jpg")
    'real/nuaa-webcam/nuaa_0007'
    """
    folder, _, name = key.rpartition("/")
    for pattern, _what in PERSON_NAME_PATTERNS:
        m = pattern.match(name)
        if m:
            return f"{folder}/{m.group(1)}_{m.group(2)}"
    return None


def group_of(key: str) -> str:
    """What must stay together in one split and count once when rates are counted by
    person: the person where the file name names one, else the photo itself."""
    return person_of(key) or key


def split_of(key: str) -> str:
    """The split of a photo (BASELINE.md's rule, made to keep people together).

    A digit 0-9 decides: 0-7 train, 8 validation, 9 test.  The digit is the md5 of the
    photo's relative path mod 10, except where the file name numbers the person
    (:func:`person_of`): then it is that number mod 10, so all photos of one person share a
    split and a source of ten people numbered 1-10 puts exactly one in validation and one in
    test (an md5 of ten names can leave a split empty).  ``key`` is the POSIX path relative
    to the data folder, class folder included, e.g. ``fake/stylegan1-140k/x.jpg``.
    """
    person = person_of(key)
    if person is not None:
        digit = int(person.rpartition("_")[2]) % 10
    else:
        digit = int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if digit <= 7 else ("val" if digit == 8 else "test")


def share_position(key: str) -> float:
    """A number in [0, 1) fixed for each photo (``key`` as in :func:`split_of`) and
    independent of its split digit: keeping a source's photos below F keeps a share F of
    them, and the shares nest (the photos kept at 0.25 are among those kept at 0.5), so a
    learning curve adds photos rather than drawing new ones."""
    return int(hashlib.sha1(("share:" + key).encode("utf-8")).hexdigest()[:12], 16) / float(1 << 48)


def stable_order_key(rel: str) -> str:
    """Sort key that mixes classes and sources but never changes run to run: the sha1 of a
    crop's POSIX path relative to its folder.  The first N crops in this order are the int8
    calibration set, both for ``fakeface export --calib`` and for ``train --int8-consistency``,
    so the ranges the training imitates are the ranges the export will measure."""
    return hashlib.sha1(rel.encode("utf-8")).hexdigest()


def calibration_choice(rels: list[str], count: int) -> list[int]:
    """Indices of the first ``count`` of ``rels`` (crop paths relative to their folder) in the
    stable order: the crops int8 calibration uses."""
    return sorted(range(len(rels)), key=lambda i: stable_order_key(rels[i]))[:count]


def crop_relpath(source_rel: str, face_index: int = 0) -> str:
    tag = "" if face_index == 0 else f".face{face_index}"
    return f"{source_rel}{tag}{CROP_SUFFIX}"


def source_key_of_crop(crop_rel: str) -> str:
    """Invert :func:`crop_relpath`: ``fake/s/x.jpg.face1.png`` -> ``fake/s/x.jpg``.

    A crop folder made by other tools (``x.png`` without the photo's suffix) still
    gets a stable key: its own relative path.
    """
    if not crop_rel.endswith(CROP_SUFFIX):
        return crop_rel
    stem = _FACE_TAG.sub("", crop_rel[: -len(CROP_SUFFIX)])
    return stem if is_image_name(stem) else crop_rel


@dataclass(frozen=True)
class Sample:
    """One image file under a data folder."""

    path: Path
    rel: str  # POSIX path relative to the data folder
    label: int  # 0 real, 1 fake
    source: str  # class folder plus sub-folders, e.g. "fake/stylegan1-140k"
    key: str  # split key: the relative path of the original photo

    @property
    def split(self) -> str:
        return split_of(self.key)


def scan_folder(root: str | os.PathLike, cropped: bool = False) -> list[Sample]:
    """List every image under ``root/real`` and ``root/fake``, sorted by relative path.

    With ``cropped`` the files are crops written by ``prepare`` and their split key is
    the photo they came from.  Missing class folders are an error the caller reports.
    """
    root = Path(root)
    missing = [c for c in CLASS_NAMES if not (root / c).is_dir()]
    if missing:
        from fakeface.edge.errors import FakeFaceError

        raise FakeFaceError(f"{root}: expected class folders real/ and fake/, missing {', '.join(missing)}/")
    samples = []
    for label, cls in enumerate(CLASS_NAMES):
        for dirpath, dirnames, filenames in os.walk(root / cls):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith(".") or not is_image_name(name):
                    continue
                path = Path(dirpath) / name
                rel = path.relative_to(root).as_posix()
                key = source_key_of_crop(rel) if cropped else rel
                source = rel.rsplit("/", 1)[0]
                samples.append(Sample(path, rel, label, source, key))
    samples.sort(key=lambda s: s.rel)
    return samples


def select_split(samples: Iterable[Sample], split: Optional[str]) -> list[Sample]:
    """Keep the samples of one split; ``None`` or ``"all"`` keeps everything."""
    if split in (None, "all"):
        return list(samples)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)} or all")
    return [s for s in samples if s.split == split]


def keep_source_shares(samples: Iterable[Sample], shares: dict) -> list[Sample]:
    """Keep, of every source folder named in ``shares`` (``{"fake/stylegan1-140k": 0.5}``),
    the photos whose :func:`share_position` is below its share; other sources whole.  All
    faces of a photo stay together."""
    return [s for s in samples if s.source not in shares or share_position(s.key) < shares[s.source]]


def people_of_crops(crop_rels: Iterable[str]) -> list[Optional[str]]:
    """:func:`person_of` for each crop (or photo) path relative to its data folder."""
    return [person_of(source_key_of_crop(rel)) for rel in crop_rels]
