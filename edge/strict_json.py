"""Strict JSON for every file and line the project writes.

JSON has no NaN or infinity.  Python's ``json`` writes them anyway (``NaN``, ``Infinity``),
and strict parsers, such as a mobile app's or a browser's ``JSON.parse``, then reject the
whole file.  Everything written goes through `dumps` (or `write_json`): a non-finite float
becomes ``null``, numpy scalars and arrays become plain numbers and lists, and
``allow_nan=False`` makes any NaN that slipped past an error instead of a broken file.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from .atomic import write_text_atomic

__all__ = ["json_safe", "dumps", "write_json", "loads_strict"]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and +-infinity replaced by None, in nested dicts, lists and tuples too;
    numpy scalars and arrays as Python numbers and lists."""
    if isinstance(value, float):  # numpy's float64 is a float too
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "dtype") and hasattr(value, "tolist"):  # numpy scalar or array
        return json_safe(value.tolist())
    return value


def dumps(value: Any, **kwargs) -> str:
    """``json.dumps`` of `json_safe(value)` with ``allow_nan=False``; other keywords as json's."""
    return json.dumps(json_safe(value), allow_nan=False, **kwargs)


def write_json(path: str | os.PathLike, value: Any, **kwargs) -> Path:
    """Write `dumps(value, **kwargs)` and a newline to ``path`` atomically."""
    path = Path(path)
    write_text_atomic(path, dumps(value, **kwargs) + "\n")
    return path


def _refuse_constant(name: str):
    raise ValueError(f"not strict JSON: {name}")


def loads_strict(text: str) -> Any:
    """``json.loads`` that refuses NaN, Infinity and -Infinity, as a strict parser does."""
    return json.loads(text, parse_constant=_refuse_constant)
