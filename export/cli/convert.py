"""``fakeface export MODEL``: Keras model -> TFLite/ONNX files, each checked against Keras before it is published.

Registering it imports only the format table; TensorFlow, tf2onnx and onnxruntime are
imported inside ``run``.
"""

from __future__ import annotations

import argparse
import sys

from fakeface.edge.cli_numbers import count_or_zero, percent, positive_int

from ..formats import FORMATS

EXIT_OK, EXIT_GATE_FAILED = 0, 1

EPILOG = """\
formats (--formats takes a comma list of these keys, default all):
{formats}

Every file is converted into a hidden staging folder in DIR, run by the edge runtime
(the same code as 'fakeface check') on the --eval crops, and compared with the Keras
model.  A format passes when its accuracy is at most --max-acc-drop points below
Keras and it labels at least --min-agreement % of the crops as Keras does.  Only then
is it renamed to its runtime name, e.g. DIR/fakeface.int8.tflite, next to its
metadata sidecar fakeface.int8.tflite.json (input contract, sha256 of the file and of
the .keras source; the edge loader refuses a file whose hash does not match).

A failed format makes the exit status 1.  Its file is kept as e.g.
fakeface.int8.failed.tflite WITHOUT a sidecar, so the edge runtime refuses it (use
--discard-failed to delete it); an older file under the runtime name is removed.
For a failed int8 format the report lists the layers that lose most accuracy
(TFLite quantization debugger / onnxruntime QDQ loss debugging).  Keep layers in
float with --float-layers conv2d_5,dense (Keras layer names or full names from the
report), or let --auto-float retry with the worst layers in float.

Results: DIR/parity.json and DIR/parity.md (also printed).

sub-commands (each has --help):
  fakeface export ship DIR       make the formats that passed in DIR the default models
  fakeface export mtcnn-nets     convert the mtcnn package's detector nets (fp32 rows of the table)
  fakeface export kit OUT        the mobile port kit: models, pipeline.json, golden vectors, PORTING.md

examples:
  fakeface export runs/best/model.keras --out dist/ --calib crops --calib-split train --eval crops --eval-split test
  fakeface export runs/best/fakeface.keras --out dist/ --calib crops/train --eval crops/test
  fakeface export model.keras --out dist/ --formats tflite-int8,onnx-fp32 --calib crops/train --eval crops/val
  fakeface export model.keras --out dist/ --formats tflite-int8 --calib crops/train --eval crops/val --auto-float 2
"""


def build_export_parser(subparsers) -> argparse.ArgumentParser:
    """The ``export`` parser itself; its sub-commands are attached by the package (see ``__init__``)."""
    table = "\n".join(
        f"  {f.key:<16}{f.name}: {f.help}" for f in FORMATS
    )
    p = subparsers.add_parser(
        "export",
        help="convert a trained .keras model to TFLite / ONNX (fp32, fp16, int8...) with a parity check",
        description="Convert a trained Keras model to the edge formats and check each against Keras.",
        epilog=EPILOG.format(formats=table),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="the .keras file (its sidecar MODEL.json gives the input contract)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the exported files and parity report")
    p.add_argument("--formats", default="all", metavar="LIST",
                   help="comma list of format keys (see below), or 'all' (default)")
    p.add_argument("--calib", metavar="DIR",
                   help="face crops (PNG/JPG, any folder tree, e.g. from 'fakeface prepare') for int8 calibration; "
                        "required by int8 formats. Never random data")
    p.add_argument("--calib-count", type=positive_int, default=256, metavar="N",
                   help="use at most N calibration crops, a fixed spread over the folder (default 256)")
    p.add_argument("--eval", required=True, metavar="DIR",
                   help="labelled crops for the parity check: DIR/real/** and DIR/fake/** (top folder = label); "
                        "use held-out crops, not the calibration ones")
    p.add_argument("--calib-split", default="all", choices=["all", "train", "val", "test"],
                   help="with a 'fakeface prepare' crops folder: calibrate on this split only (recommended: train)")
    p.add_argument("--eval-split", default="all", choices=["all", "train", "val", "test"],
                   help="with a 'fakeface prepare' crops folder: check parity on this split only (recommended: test)")
    p.add_argument("--eval-count", type=positive_int, metavar="N",
                   help="use at most N evaluation crops (default all)")
    p.add_argument("--max-acc-drop", type=percent, default=0.5, metavar="POINTS",
                   help="fail a format whose accuracy is more than POINTS percentage points below Keras (default 0.5)")
    p.add_argument("--min-agreement", type=percent, default=99.5, metavar="PERCENT",
                   help="fail a format that labels fewer than PERCENT %% of crops as Keras does (default 99.5)")
    p.add_argument("--float-layers", metavar="NAMES", default="",
                   help="comma list of layers to keep in float in int8 formats (Keras layer names such as conv2d_3, "
                        "or full names from the diagnostics)")
    p.add_argument("--auto-float", type=count_or_zero, nargs="?", const=2, default=0, metavar="K",
                   help="when an int8 format fails, retry it once with its K worst layers in float (default K: 2; "
                        "0, the default without the option: no retry)")
    p.add_argument("--discard-failed", action="store_true",
                   help="delete files that fail the gate instead of keeping them as NAME.failed.EXT")
    p.add_argument("--latency-runs", type=positive_int, default=30, metavar="N",
                   help="single-crop runs per format for the median latency (default 30)")
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from ..api import export_model

    report = export_model(
        args.model,
        args.out,
        formats=args.formats,
        calib_dir=args.calib,
        eval_dir=args.eval,
        max_acc_drop=args.max_acc_drop,
        min_agreement=args.min_agreement,
        float_layers=args.float_layers,
        auto_float=args.auto_float,
        keep_failed=not args.discard_failed,
        calib_limit=args.calib_count,
        eval_limit=args.eval_count,
        calib_split=args.calib_split,
        eval_split=args.eval_split,
        latency_runs=args.latency_runs,
    )
    print()
    print(report.to_markdown())
    print(f"Report: {args.out}/parity.md and parity.json")
    if not report.passed:
        names = ", ".join(r.format for r in report.failed)
        print(f"fakeface export: {len(report.failed)} format(s) failed the parity gate: {names}", file=sys.stderr)
        return EXIT_GATE_FAILED
    return EXIT_OK
