"""The table of export formats.  It drives the CLI, the Python API, the checks and the report.

Adding a format is one :class:`ExportFormat` row in :data:`FORMATS` plus its export
function.  Every export function has the signature
``export(job, dest, float_layers) -> list[str]`` (the names it actually kept in float)
and is only ever called through :func:`run_export`, which owns timing, file size and
failure logging.

Importing this module must stay cheap: the export functions import TensorFlow,
tf2onnx and onnxruntime inside their bodies.
"""

from __future__ import annotations

import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from fakeface.edge.backends import SUFFIX_BACKENDS
from fakeface.edge.contract import ModelContract
from fakeface.edge.interrupts import interrupt_received

from . import onnx_export, tflite_export
from .errors import ExportError


@dataclass
class ExportJob:
    """What every export function gets: the Keras model to convert and what it needs to convert it."""

    # The model converted: the source model cut before its sigmoid (export/logit.py).
    model: Any
    keras_path: Path
    contract: ModelContract
    # float32 RGB 0..255 crops, (N, S, S, 3); None when no selected format needs calibration.
    calib: Optional[np.ndarray]
    # Scratch folder for intermediates (the fp32 ONNX the int8 ONNX is made from...).
    workdir: Path
    cache: dict = field(default_factory=dict)
    # What ``model`` outputs ("logit" or "probability"; the sidecars' ``output``) and the
    # name of the Dense layer producing the logit (None for a probability model).
    output: str = "probability"
    logit_layer: Optional[str] = None


ExportFn = Callable[[ExportJob, Path, Sequence[str]], list]


@dataclass(frozen=True)
class ExportFormat:
    name: str  # shown in reports
    key: str  # the --formats key
    suffix: str  # file name = <model stem> + suffix; the last dot-part picks the runtime
    backends: tuple  # edge backends able to run the file, preferred first
    needs_calibration: bool  # int8 formats: need --calib crops, get per-layer diagnostics on failure
    export: ExportFn
    help: str = ""
    # `fakeface export ship` tries a runtime's formats in this order (1 first) for the
    # runtime's default model; 0: never shipped unless asked for by key.
    ship_rank: int = 0
    # int8 formats with a float output: the layer producing the logit stays in float, so
    # the logit (and p(fake)) is not rounded to 256 levels.  int8-I/O files stay integer
    # only: their int8 output rounds the logit anyway.
    float_logit: bool = False

    @property
    def runtime(self) -> str:
        """The file kind the edge runtime loads it as: "tflite" or "onnx"."""
        return self.suffix.rsplit(".", 1)[1]

    def filename(self, stem: str) -> str:
        return stem + self.suffix

    def failed_filename(self, stem: str) -> str:
        # "<stem>.int8.failed.tflite": not the runtime name, and written without a
        # sidecar, so the edge loader refuses it; kept for inspection only.
        base, ext = self.suffix.rsplit(".", 1)
        return f"{stem}{base}.failed.{ext}"


TFLITE = SUFFIX_BACKENDS[".tflite"]
ONNX = SUFFIX_BACKENDS[".onnx"]

FORMATS: list[ExportFormat] = [
    ExportFormat("TFLite fp32", "tflite-fp32", ".fp32.tflite", TFLITE, False, tflite_export.export_fp32,
                 "float32 reference TFLite", ship_rank=3),
    ExportFormat("TFLite fp16", "tflite-fp16", ".fp16.tflite", TFLITE, False, tflite_export.export_fp16,
                 "float16 weights, float compute: half the size, same accuracy", ship_rank=2),
    ExportFormat("TFLite dynamic-range", "tflite-dynamic", ".dynamic.tflite", TFLITE, False,
                 tflite_export.export_dynamic, "int8 weights, float activations; no calibration"),
    ExportFormat("TFLite int8 (float I/O)", "tflite-int8", ".int8.tflite", TFLITE, True,
                 tflite_export.export_int8, "full integer model with float input/output, the logit layer in float; "
                 "needs --calib", ship_rank=1, float_logit=True),
    ExportFormat("TFLite int8 (int8 I/O)", "tflite-int8-io", ".int8io.tflite", TFLITE, True,
                 tflite_export.export_int8_io, "full integer model, int8 input/output (NPU/MCU); needs --calib"),
    # For the Lite0 classifier onnxruntime runs the static-QDQ int8 graph no slower than fp32 on
    # x86 (benchmarks/README.md) from a quarter of the bytes: int8 ships first when it passes.
    ExportFormat("ONNX fp32", "onnx-fp32", ".fp32.onnx", ONNX, False, onnx_export.export_fp32,
                 "float32 ONNX via tf2onnx", ship_rank=2),
    ExportFormat("ONNX int8 (QDQ)", "onnx-int8", ".int8.onnx", ONNX, True, onnx_export.export_int8,
                 "static QDQ int8, per-channel weights, the logit layer in float, via onnxruntime; needs --calib",
                 ship_rank=1, float_logit=True),
]

FORMATS_BY_KEY = {f.key: f for f in FORMATS}
RUNTIMES = tuple(dict.fromkeys(f.runtime for f in FORMATS))
# The MTCNN nets are converted in float32 only: no calibration crops exist for a detector's
# pyramid levels, and fp32 reproduces the mtcnn package's boxes (tests/test_mtcnn_parity.py).
MTCNN_NET_FORMATS = ("tflite-fp32", "onnx-fp32")


def select_formats(keys: Optional[Sequence[str] | str]) -> list[ExportFormat]:
    """``None``/"all" -> every format; otherwise the named keys, in table order."""
    if keys is None:
        return list(FORMATS)
    if isinstance(keys, str):
        keys = [k for k in (s.strip() for s in keys.split(",")) if k]
    if list(keys) == ["all"]:
        return list(FORMATS)
    unknown = [k for k in keys if k not in FORMATS_BY_KEY]
    if unknown:
        raise ExportError(f"unknown format(s) {', '.join(unknown)}; choose from all, {', '.join(FORMATS_BY_KEY)}")
    if not keys:
        raise ExportError("--formats is empty")
    wanted = set(keys)
    return [f for f in FORMATS if f.key in wanted]


def formats_in_order(keys: str | Sequence[str], runtime: Optional[str] = None) -> list[ExportFormat]:
    """The named formats in the order given (a preference), all of ``runtime`` if it is given."""
    if isinstance(keys, str):
        keys = [k for k in (s.strip() for s in keys.split(",")) if k]
    unknown = [k for k in keys if k not in FORMATS_BY_KEY]
    if unknown or not keys:
        raise ExportError(f"unknown format(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(FORMATS_BY_KEY)}")
    chosen = [FORMATS_BY_KEY[k] for k in keys]
    wrong = [f.key for f in chosen if runtime is not None and f.runtime != runtime]
    if wrong:
        raise ExportError(f"{', '.join(wrong)}: not {runtime} format(s); choose from "
                          f"{', '.join(f.key for f in FORMATS if f.runtime == runtime)}")
    return chosen


def ship_preference(runtime: str) -> list[ExportFormat]:
    """The formats `fakeface export ship` tries for ``runtime``'s default model, first choice first."""
    return sorted((f for f in FORMATS if f.runtime == runtime and f.ship_rank), key=lambda f: f.ship_rank)


@dataclass
class ExportOutcome:
    fmt: ExportFormat
    path: Path
    seconds: float
    size_bytes: int = 0
    float_layers: list = field(default_factory=list)
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


def run_export(fmt: ExportFormat, job: ExportJob, dest: Path, float_layers: Sequence[str] = (), log=print) -> ExportOutcome:
    """Run one export function; the one place that times it, sizes the file and logs a failure.

    A converter crash becomes ``outcome.error`` (one line; the traceback goes to stderr
    only with FAKEFACE_DEBUG set) so the other formats still get exported.
    """
    import os

    t0 = time.perf_counter()
    try:
        kept = fmt.export(job, dest, list(float_layers)) or []
        if not dest.is_file() or dest.stat().st_size == 0:
            raise ExportError(f"the converter wrote no {dest.name}")
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # converters raise anything from ValueError to ConverterError
        if interrupt_received():  # a SIGTERM that the converter's native code turned into another error
            raise KeyboardInterrupt from exc
        seconds = time.perf_counter() - t0
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        if os.environ.get("FAKEFACE_DEBUG"):
            traceback.print_exc()
        log(f"  {fmt.key:<15} export FAILED after {seconds:.1f} s: {msg}", file=sys.stderr)
        return ExportOutcome(fmt, dest, seconds, error=msg)
    seconds = time.perf_counter() - t0
    size = dest.stat().st_size
    extra = f", float layers: {', '.join(kept)}" if kept else ""
    log(f"  {fmt.key:<15} exported in {seconds:5.1f} s, {size / 1024:8.1f} KiB{extra}")
    return ExportOutcome(fmt, dest, seconds, size, list(kept))

