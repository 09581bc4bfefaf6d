"""Which model files go into the port kit, and copying them with their sidecars.

The classifier variants are the model files of a models folder (the shipped
``edge/models`` by default, or a ``fakeface export`` output folder) whose sidecar names a
format of the export formats table that passed the parity gate in that folder's
``parity.json``.  Each is copied as ``fakeface<suffix>`` (the table's own file name, e.g.
``fakeface.fp16.tflite``) with its sidecar; the sidecar records the file's sha256, not its
name, so the renamed copy still verifies.  The MTCNN nets are copied with
``mtcnn_nets.json`` after checking each file's recorded sha256.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from fakeface.edge.atomic import atomic_path
from fakeface.edge.classifier import MODELS_DIR
from fakeface.edge.contract import ModelContract, file_sha256, load_contract, sidecar_path
from fakeface.edge.errors import ModelError
from fakeface.edge.mtcnn import nets as mtcnn_nets

from ..errors import ExportError
from ..formats import FORMATS_BY_KEY, ExportFormat

MTCNN_SIDECAR = "mtcnn_nets.json"
KIT_MODEL_STEM = "fakeface"


@dataclass(frozen=True)
class ClassifierVariant:
    fmt: ExportFormat
    source: Path
    contract: ModelContract

    @property
    def kit_name(self) -> str:
        return self.fmt.filename(KIT_MODEL_STEM)


def _passed_formats(models_dir: Path) -> set:
    report = models_dir / "parity.json"
    if not report.is_file():
        raise ExportError(f"{models_dir}: no parity.json, so no format is known to have passed the gate")
    try:
        rows = json.loads(report.read_text(encoding="utf-8")).get("rows", [])
    except (OSError, ValueError, AttributeError) as exc:
        raise ExportError(f"{report}: unreadable parity report ({exc})") from None
    return {row.get("format") for row in rows if isinstance(row, dict) and row.get("passed")}


def classifier_variants(models_dir: Path = MODELS_DIR) -> list[ClassifierVariant]:
    """Every classifier file of ``models_dir`` whose format passed the gate, one per format."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise ExportError(f"{models_dir}: models folder not found")
    passed = _passed_formats(models_dir)
    found: dict[str, ClassifierVariant] = {}
    for path in sorted(models_dir.glob("*.tflite")) + sorted(models_dir.glob("*.onnx")):
        if not sidecar_path(path).is_file():
            continue  # a failed export is kept without a sidecar
        try:
            contract = load_contract(path)
        except ModelError as exc:
            raise ExportError(str(exc)) from None
        fmt = FORMATS_BY_KEY.get(contract.format)
        if fmt is None or fmt.key not in passed or not path.name.endswith(fmt.suffix.rsplit(".", 1)[-1]):
            continue
        found.setdefault(fmt.key, ClassifierVariant(fmt, path, contract))
    if not found:
        raise ExportError(f"{models_dir}: no classifier file with a sidecar whose format passed the parity gate")
    return [found[key] for key in FORMATS_BY_KEY if key in found]


def _copy(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def copy_mtcnn_nets(dest: Path, source_dir: Path = mtcnn_nets.MODEL_DIR) -> list[str]:
    """Copy every P-/R-/O-Net file and their shared sidecar into ``dest``; the names written."""
    sidecar = source_dir / MTCNN_SIDECAR
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError) as exc:
        raise ExportError(f"{sidecar}: unreadable MTCNN sidecar ({exc})") from None
    names = []
    for net in mtcnn_nets.NET_NAMES:
        for fmt in mtcnn_nets.FORMATS:
            src = mtcnn_nets.net_path(net, fmt, source_dir)
            expected = recorded.get(src.name, {}).get("sha256")
            if not src.is_file() or file_sha256(src) != expected:
                raise ExportError(f"{src}: missing, or its sha256 differs from {MTCNN_SIDECAR}")
            _copy(src, dest / src.name)
            names.append(src.name)
    _copy(sidecar, dest / MTCNN_SIDECAR)
    return names + [MTCNN_SIDECAR]


def copy_classifier(variant: ClassifierVariant, dest: Path) -> list[str]:
    model = dest / variant.kit_name
    _copy(variant.source, model)
    _copy(sidecar_path(variant.source), sidecar_path(model))
    load_contract(model)  # the copy still matches its sidecar
    return [model.name, sidecar_path(model).name]
