"""Reading and writing the kit's files: .npy arrays and JSON, atomically, with one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from fakeface.edge.atomic import write_bytes_atomic, write_text_atomic
from fakeface.edge.strict_json import dumps

from ..errors import ExportError


def save_array(path: Path, array: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    write_bytes_atomic(path, buffer.getvalue())


def load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise ExportError(f"{path}: file not found") from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{path}: not a readable .npy array ({' '.join(str(exc).split())[:120]})") from None


def save_json(path: Path, tree: dict) -> None:
    write_text_atomic(path, dumps(tree, indent=2) + "\n")


def load_json(path: Path) -> dict:
    try:
        tree = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportError(f"{path}: unreadable JSON ({exc})") from None
    if not isinstance(tree, dict):
        raise ExportError(f"{path}: expected a JSON object")
    return tree


def tree_size(folder: Path) -> tuple[list, int]:
    """([(relative path, bytes)], total bytes) of every file under ``folder``, sorted."""
    files = sorted((p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file())
    return files, sum(size for _, size in files)
