"""Which classifier files to benchmark, and how to name their format in tables."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from fakeface.edge.backends import available_backends, backends_for
from fakeface.edge.classifier import default_model_path
from fakeface.edge.contract import sidecar_path

from .flops import model_macs


@dataclass
class ModelFile:
    path: Path
    format: str  # "tflite int8", "onnx fp32", ...
    backends: tuple  # backends that can run it here: backends_for(path) ∩ available_backends()
    size_bytes: int
    macs: Optional[int]
    macs_source: str

    @property
    def flops(self) -> Optional[int]:
        return 2 * self.macs if self.macs is not None else None

    def to_json(self) -> dict:
        return {"path": str(self.path), "name": self.path.name, "format": self.format,
                "backends": list(self.backends), "size_bytes": self.size_bytes,
                "macs": self.macs, "flops": self.flops, "macs_source": self.macs_source}


def format_label(path: Path) -> str:
    """The format its sidecar records ('tflite-int8' -> 'tflite int8'); without a sidecar that
    says, the variant in the file name ('m.int8.tflite' -> 'tflite int8'), else fp32."""
    ext = path.suffix.lstrip(".").lower()
    try:
        recorded = str(json.loads(sidecar_path(path).read_text()).get("format", ""))
    except (OSError, ValueError, AttributeError):
        recorded = ""
    if recorded.startswith(ext + "-"):
        return f"{ext} {recorded[len(ext) + 1:]}"
    parts = path.name.split(".")
    return f"{ext} {'.'.join(parts[1:-1]) if len(parts) > 2 else 'fp32'}"


def discover_models(model_files: Sequence[str | os.PathLike] = (), models_dir: Optional[str | os.PathLike] = None,
                    exclude_backends: Sequence[str] = ()) -> tuple[list[ModelFile], list[str]]:
    """The classifier files to run, and one line per file skipped (and why)."""
    paths: list[Path] = [Path(p) for p in model_files]
    notes: list[str] = []
    if models_dir is not None:
        d = Path(models_dir)
        if not d.is_dir():
            notes.append(f"{d}: not a folder")
        else:
            for p in sorted(d.iterdir()):
                if p.suffix in (".tflite", ".onnx"):
                    if ".failed." in p.name:
                        continue  # export's kept-for-inspection failures carry no sidecar
                    paths.append(p)
    if not paths:
        paths = [p for p in (default_model_path("litert"), default_model_path("onnxruntime")) if p.is_file()]
        if not paths:
            notes.append("no classifier model given and none shipped yet: classify and end-to-end stages skipped "
                         "(use --model FILE or --models DIR)")
    have = [b for b in available_backends() if b not in exclude_backends]
    out = []
    seen = set()
    for p in paths:
        if p.resolve() in seen:
            continue
        seen.add(p.resolve())
        if not p.is_file():
            notes.append(f"{p}: model file not found")
            continue
        if not sidecar_path(p).is_file():
            notes.append(f"{p}: no {sidecar_path(p).name} sidecar, skipped")
            continue
        backends = tuple(b for b in backends_for(p) if b in have)
        if not backends:
            notes.append(f"{p}: no installed backend runs {p.suffix} files, skipped")
            continue
        macs, source = model_macs(p)
        out.append(ModelFile(p, format_label(p), backends, p.stat().st_size, macs, source))
    return out, notes
