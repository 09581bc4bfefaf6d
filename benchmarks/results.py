"""The results file: one JSON document per `fakeface bench` run, written atomically."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from fakeface.edge.atomic import write_text_atomic
from fakeface.edge.strict_json import dumps

SCHEMA = 1


def default_results_path(device_name: str, folder: str | os.PathLike = "results") -> Path:
    return Path(folder) / f"{device_name}-{time.strftime('%Y%m%d-%H%M%S')}.json"


def write_results(path: str | os.PathLike, doc: dict[str, Any]) -> Path:
    path = Path(path)
    write_text_atomic(path, dumps(doc, indent=1, default=_jsonable) + "\n")
    return path


def _jsonable(v):
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results file; ValueError with a one-line reason when it is not one."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: not a readable results file ({exc})") from None
    if not isinstance(doc, dict) or "device" not in doc or not isinstance(doc.get("results"), list):
        raise ValueError(f"{path}: not a fakeface bench results file (no device / results)")
    if doc.get("schema", SCHEMA) > SCHEMA:
        raise ValueError(f"{path}: results schema {doc['schema']} is newer than this fakeface")
    return doc
