"""``fakeface export kit OUT/``: build the mobile port kit into one folder.

The kit is built in a hidden staging folder beside OUT and renamed into place at the end,
so OUT is either the previous kit or the new one, never half of each.  An existing OUT
must be empty or a kit (it has golden/index.json); anything else is refused.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from fakeface.edge.atomic import make_shareable, write_bytes_atomic, write_text_atomic
from fakeface.edge.checker_options import CheckerOptions
from fakeface.edge.classifier import MODELS_DIR
from fakeface.edge.mtcnn.nets import NET_NAMES

from ..errors import ExportError
from .files import save_json, tree_size
from .golden import GOLDEN_DIR, INDEX_NAME, write_golden
from .models import classifier_variants, copy_classifier, copy_mtcnn_nets
from .photos import encode_png, kit_photos
from .pipeline import build_pipeline
from .porting import porting_markdown

PIPELINE_NAME = "pipeline.json"
PORTING_NAME = "PORTING.md"


@dataclass(frozen=True)
class KitSummary:
    out: Path
    files: list  # (relative path, bytes)
    total_bytes: int
    faces: dict  # photo name -> faces found


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / GOLDEN_DIR / INDEX_NAME).is_file():
        raise ExportError(f"{out}: folder is not empty and not a port kit; choose an empty or new folder")


def _fill(kit: Path, models_dir: Path, options: CheckerOptions) -> dict:
    variants = classifier_variants(models_dir)
    model_dest = kit / "models"
    net_files = copy_mtcnn_nets(model_dest)
    for variant in variants:
        copy_classifier(variant, model_dest)
    per_net = {name: [f for f in net_files if f.startswith(name + ".")] for name in NET_NAMES}
    pipeline = build_pipeline(options, variants, per_net)
    save_json(kit / PIPELINE_NAME, pipeline)
    photos = kit_photos()
    for photo in photos:
        write_bytes_atomic(kit / "photos" / f"{photo.name}.png", encode_png(photo.rgb))
    index = write_golden(kit, photos, variants, options)
    files, _ = tree_size(kit)  # PORTING.md lists every file but itself
    write_text_atomic(kit / PORTING_NAME, porting_markdown(pipeline, index, files))
    return {p["name"]: p["faces"] for p in index["photos"]}


def _swap_in(staging: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_kit(out, models_dir=MODELS_DIR, options: Optional[CheckerOptions] = None) -> KitSummary:
    out = Path(out)
    options = options or CheckerOptions()
    options.validate()
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    # mkdtemp makes a private (0700) folder; the kit gets a plain mkdir's permissions.
    make_shareable(staging, directory=True)
    try:
        faces = _fill(staging, Path(models_dir), options)
        _swap_in(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    files, total = tree_size(out)
    return KitSummary(out, files, total, faces)
