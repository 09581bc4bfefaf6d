"""Install exported files as the edge runtime's default models, only if they passed the gate.

    fakeface export ship work/export --to edge/models   # TFLite: first passing of int8, fp16, fp32; ONNX: int8, fp32
    fakeface export ship work/export --to edge/models --onnx onnx-fp32,onnx-int8

Which formats are tried, in which order, is the formats table's ``ship_rank``.  Copies
``<export>/<file>`` and its sidecar to ``<to>/fakeface.tflite`` / ``fakeface.onnx``
(+ ``.json``), plus the parity report next to them.  ``--to`` is required: the installed
package's own models folder (site-packages) is never written unasked.  The sidecar records the file's
sha256, not its name, so the renamed copy still verifies.  ``python -m
fakeface.export.ship`` is the same command.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Optional, Sequence

from fakeface.edge.atomic import atomic_path
from fakeface.edge.classifier import DEFAULT_MODEL_NAMES
from fakeface.edge.contract import load_contract, sidecar_path

from .errors import ExportError
from .formats import ExportFormat, formats_in_order, ship_preference


def _passed_row(report: dict, candidates: Sequence[ExportFormat]) -> dict:
    """The report row of the first of ``candidates`` that passed the gate."""
    rows = {row["format"]: row for row in report.get("rows", [])}
    why = []
    for fmt in candidates:
        row = rows.get(fmt.key)
        if row is None:
            why.append(f"{fmt.key}: not exported")
        elif not row.get("passed"):
            why.append(f"{fmt.key}: failed the gate ({'; '.join(row.get('reasons', []))})")
        else:
            for line in why:
                print(f"fakeface export ship: skipping {line}", file=sys.stderr)
            return row
    raise ExportError("no format passed the parity gate: " + " | ".join(why))


def _copy_atomic(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def ship(export_dir: str | Path, models_dir: str | Path, tflite: Optional[str] = None,
         onnx: Optional[str] = None) -> list[Path]:
    """Copy the first passing format per runtime into ``models_dir``; ``tflite``/``onnx`` are
    comma lists of format keys in order of preference (default: the table's ship_rank)."""
    export_dir, models_dir = Path(export_dir), Path(models_dir)
    report_path = export_dir / "parity.json"
    if not report_path.is_file():
        raise ExportError(f"{report_path}: no parity report; run 'fakeface export' into {export_dir} first")
    report = json.loads(report_path.read_text())
    written = []
    for runtime, keys in (("tflite", tflite), ("onnx", onnx)):
        candidates = ship_preference(runtime) if keys is None else formats_in_order(keys, runtime)
        row = _passed_row(report, candidates)
        src = export_dir / row["file"]
        load_contract(src)  # refuses a file that does not match its sidecar
        dst = models_dir / DEFAULT_MODEL_NAMES[runtime]
        # Model first, sidecar last: a reader never sees a sidecar for the wrong bytes
        # for longer than the two renames.
        _copy_atomic(src, dst)
        _copy_atomic(sidecar_path(src), sidecar_path(dst))
        load_contract(dst)
        written += [dst, sidecar_path(dst)]
    for name in ("parity.md", "parity.json"):
        _copy_atomic(export_dir / name, models_dir / name)
        written.append(models_dir / name)
    return written


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m fakeface.export.ship``: the ``fakeface export ship`` command under its older name."""
    from fakeface.edge.cli import main as fakeface_main

    return fakeface_main(["export", "ship", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
