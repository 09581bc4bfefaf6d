"""Install exported files as the edge runtime's default models, only if they passed the gate.

    python -m fakeface.export.ship work/export      # TFLite: first passing of int8, fp16, fp32; ONNX: fp32, int8
    python -m fakeface.export.ship work/export --onnx onnx-int8,onnx-fp32

Copies ``<export>/<file>`` and its sidecar to ``edge/models/fakeface.tflite`` /
``fakeface.onnx`` (+ ``.json``), plus the parity report next to them.  The sidecar
records the file's sha256, not its name, so the renamed copy still verifies.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from fakeface.edge.atomic import atomic_path
from fakeface.edge.classifier import DEFAULT_MODEL_NAMES, MODELS_DIR
from fakeface.edge.contract import load_contract, sidecar_path

from .errors import ExportError


TFLITE_PREFERENCE = "tflite-int8,tflite-fp16,tflite-fp32"
# onnxruntime runs the static-QDQ int8 graph about 2x slower than fp32 on x86 for this small
# model (README, benchmarks), and fp32 matches Keras exactly; int8 only saves ~0.5 MB.
ONNX_PREFERENCE = "onnx-fp32,onnx-int8"


def _passed_row(report: dict, keys: str) -> dict:
    """The report row of the first format in ``keys`` (comma list) that passed the gate."""
    rows = {row["format"]: row for row in report.get("rows", [])}
    why = []
    for key in keys.split(","):
        row = rows.get(key)
        if row is None:
            why.append(f"{key}: not exported")
        elif not row.get("passed"):
            why.append(f"{key}: failed the gate ({'; '.join(row.get('reasons', []))})")
        else:
            for line in why:
                print(f"fakeface ship: skipping {line}", file=sys.stderr)
            return row
    raise ExportError("no format passed the parity gate: " + " | ".join(why))


def _copy_atomic(src: Path, dst: Path) -> None:
    with atomic_path(dst) as tmp:
        shutil.copyfile(src, tmp)


def ship(export_dir: str | Path, models_dir: str | Path = MODELS_DIR, tflite: str = TFLITE_PREFERENCE,
         onnx: str = ONNX_PREFERENCE) -> list[Path]:
    export_dir, models_dir = Path(export_dir), Path(models_dir)
    report_path = export_dir / "parity.json"
    if not report_path.is_file():
        raise ExportError(f"{report_path}: no parity report; run 'fakeface export' into {export_dir} first")
    report = json.loads(report_path.read_text())
    written = []
    for key, kind in ((tflite, "tflite"), (onnx, "onnx")):
        row = _passed_row(report, key)
        src = export_dir / row["file"]
        load_contract(src)  # refuses a file that does not match its sidecar
        dst = models_dir / DEFAULT_MODEL_NAMES[kind]
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m fakeface.export.ship", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("export_dir", help="folder written by 'fakeface export' (with parity.json)")
    p.add_argument("--to", default=str(MODELS_DIR), help=f"models folder (default: {MODELS_DIR})")
    p.add_argument("--tflite", default=TFLITE_PREFERENCE,
                   help=f"format keys to ship as fakeface.tflite, first that passed wins (default {TFLITE_PREFERENCE})")
    p.add_argument("--onnx", default=ONNX_PREFERENCE,
                   help=f"format keys to ship as fakeface.onnx, first that passed wins (default {ONNX_PREFERENCE})")
    args = p.parse_args(argv)
    try:
        for path in ship(args.export_dir, args.to, args.tflite, args.onnx):
            print(f"shipped {path}")
    except ExportError as exc:
        print(f"fakeface ship: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
