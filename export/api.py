"""``export_model``: Keras model -> every selected format, each checked against Keras before it is published.

Each file is converted into a hidden staging folder inside ``out_dir``, measured
there by the edge runtime, and only renamed to its runtime name (with its sidecar)
when it passes the gate.  A failed file is kept as ``<stem>.<kind>.failed.<ext>``
without a sidecar (the edge loader refuses a model without one), or removed with
``keep_failed=False``; an earlier export under the runtime name is removed as well,
so the folder never offers a model that did not pass against this source.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fakeface.edge.atomic import make_shareable
from fakeface.edge.contract import (ModelContract, fake_probabilities, file_sha256, load_contract, save_contract,
                                    sidecar_path)
from fakeface.edge.interrupts import interrupt_received, signals_deferred, sigterm_as_interrupt
from fakeface.edge.errors import FakeFaceError
from fakeface.train.data.dataset import model_pixels
from fakeface.train.reports.sample_size import GATE_WARN_PER_CLASS, MIN_PER_CLASS, shortfall

from .crops import load_calibration_set, load_eval_set
from .diagnostics import diagnose, worst_layer_names
from .errors import ExportError
from .formats import ExportFormat, ExportJob, run_export, select_formats
from .logit import logit_source
from .parity import ParityReport, ParityRow, apply_gate, measure_file, runtime_backend, score

DEFAULT_MAX_ACC_DROP = 0.5  # percentage points
DEFAULT_MIN_AGREEMENT = 99.5  # percent


def _log(*args, file=None, **kw):
    print(*args, file=file or sys.stdout, flush=True, **kw)


def source_contract(keras_path: Path, model) -> ModelContract:
    """The Keras model's sidecar; without one, a default contract sized from the model's input."""
    if sidecar_path(keras_path).is_file():
        return load_contract(keras_path)
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3 or not shape[1]:
        raise ExportError(f"{keras_path}: no sidecar {sidecar_path(keras_path).name} and input shape {shape} is not (N, S, S, 3)")
    _log(f"fakeface export: warning: {keras_path} has no sidecar; using a default contract with input_size={shape[1]}",
         file=sys.stderr)
    return ModelContract(input_size=int(shape[1]), format="keras")


def _load_model(keras_path: Path):
    from .tf_import import load_keras_model

    if not keras_path.is_file():
        raise ExportError(f"{keras_path}: Keras model not found")
    try:
        return load_keras_model(keras_path)
    except (ValueError, OSError, TypeError) as exc:
        raise ExportError(f"{keras_path}: cannot load Keras model ({' '.join(str(exc).split())[:200]})") from None


def _unlink(*paths: Path) -> None:
    for p in paths:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _readable(*paths: Path) -> None:
    # Atomic writes go through mkstemp (mode 0600); exported models are meant to be shared.
    for p in paths:
        with contextlib.suppress(OSError):
            make_shareable(p)


def _parse_names(names) -> list[str]:
    if not names:
        return []
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n.strip()]


_STAGING_PREFIX = ".export-"


def _remove_dead_staging(out_dir: Path) -> None:
    """Remove staging folders of exports that were killed (SIGKILL, power loss).

    Each staging folder is named after its process id, so a folder whose process is
    gone is garbage, and one of a running export into the same folder is left alone.
    """
    for d in out_dir.glob(_STAGING_PREFIX + "*"):
        pid = d.name[len(_STAGING_PREFIX):].split("-", 1)[0]
        alive = False
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                alive = int(pid) != os.getpid()
            except ProcessLookupError:
                alive = False
            except PermissionError:  # another user's process
                alive = True
        if d.is_dir() and not alive:
            shutil.rmtree(d, ignore_errors=True)


def _export_model(
    keras_path,
    out_dir,
    formats: Optional[Sequence[str] | str] = None,
    calib_dir=None,
    eval_dir=None,
    *,
    max_acc_drop: float = DEFAULT_MAX_ACC_DROP,
    min_agreement: float = DEFAULT_MIN_AGREEMENT,
    float_layers: Sequence[str] | str = (),
    auto_float: int = 0,
    keep_failed: bool = True,
    calib_limit: int = 256,
    eval_limit: Optional[int] = None,
    calib_split: Optional[str] = None,
    eval_split: Optional[str] = None,
    latency_runs: int = 30,
    log=_log,
) -> ParityReport:
    """Export ``keras_path`` to ``formats`` in ``out_dir`` and return the parity report.

    Every file outputs the logit of the model's sigmoid (export/logit.py); ``float_layers``
    keeps the named layers (Keras layer names, or full names from the diagnostics) in float
    in the int8 formats, besides the logit layer in the formats with ``float_logit``.
    ``auto_float=k`` retries a failed int8 format once with its ``k`` worst layers (per the
    diagnostics) kept in float.
    The report is also written to ``out_dir``/parity.json and parity.md.
    """
    keras_path, out_dir = Path(keras_path), Path(out_dir)
    fmts: list[ExportFormat] = select_formats(formats)
    float_layers = _parse_names(float_layers)
    model = _load_model(keras_path)
    contract = source_contract(keras_path, model)
    source_sha = file_sha256(keras_path)

    calib = None
    if any(f.needs_calibration for f in fmts):
        calib = load_calibration_set(Path(calib_dir) if calib_dir else None, contract, limit=calib_limit,
                                      split=calib_split)
    evalset = load_eval_set(Path(eval_dir) if eval_dir else None, contract, limit=eval_limit, split=eval_split)
    eval_x, eval_y = model_pixels(evalset, contract).astype(np.float32), evalset.labels
    disjoint_splits = calib_split not in (None, "all") and calib_split != eval_split
    if calib_dir and eval_dir and Path(calib_dir).resolve() == Path(eval_dir).resolve() and not disjoint_splits:
        log("fakeface export: warning: --calib and --eval are the same folder; parity is then measured "
            "on the calibration crops and looks better than it is", file=sys.stderr)
    few = shortfall(eval_y, GATE_WARN_PER_CLASS, "evaluation crops")
    if few:  # below MIN_PER_CLASS the gate fails every format (parity.apply_gate)
        log(f"fakeface export: warning: parity is measured on {few}: one changed label is then more than "
            f"the gate's {100 - min_agreement:g} % (below {MIN_PER_CLASS} of a class every format fails)", file=sys.stderr)

    keras_probs = fake_probabilities(np.asarray(model.predict(eval_x, batch_size=64, verbose=0), np.float64))
    keras_row = score(ParityRow("keras", "Keras (reference)", file=keras_path.name, backend="tensorflow",
                                size_bytes=keras_path.stat().st_size, output="probability"),
                      eval_y, keras_probs, keras_probs, contract.threshold)
    report = ParityReport(
        source=str(keras_path), source_sha256=source_sha, eval_dir=f"{eval_dir} (split: {eval_split or 'all'})",
        n_real=int(np.sum(eval_y == 0)), n_fake=int(np.sum(eval_y == 1)),
        threshold=contract.threshold, max_acc_drop=max_acc_drop, min_agreement=min_agreement,
        keras=keras_row, out_dir=str(out_dir),
    )

    source = logit_source(model, log)  # before the staging folder: nothing between it and `try`
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_dead_staging(out_dir)
    stem = keras_path.stem
    # The staging folder is hidden and inside out_dir, so publishing is an atomic rename.
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{os.getpid()}-", dir=out_dir))
    job = ExportJob(model=source.model, keras_path=keras_path, contract=contract, calib=calib, workdir=staging,
                    output=source.output, logit_layer=source.logit_layer)
    log(f"Exporting {keras_path.name} ({len(fmts)} formats) to {out_dir}/; parity on {len(evalset)} crops")
    try:
        for fmt in fmts:
            row = _export_one(fmt, job, staging, stem, (eval_x, eval_y), keras_probs, keras_row, float_layers,
                              auto_float, max_acc_drop, min_agreement, latency_runs, log)
            _publish(fmt, row, staging / fmt.filename(stem), out_dir, stem,
                     dataclasses.replace(contract, output=job.output), source_sha, keep_failed)
            report.rows.append(row)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _readable(*report.write(out_dir))
    return report


@functools.wraps(_export_model)
def export_model(*args, **kwargs) -> ParityReport:
    with sigterm_as_interrupt():
        return _export_model(*args, **kwargs)


def _export_one(fmt, job, staging, stem, eval_crops, keras_probs, keras_row, float_layers, auto_float,
                max_acc_drop, min_agreement, latency_runs, log) -> ParityRow:
    staged = staging / fmt.filename(stem)
    row = ParityRow(fmt.key, fmt.name, file=staged.name)
    if fmt.float_logit and job.logit_layer and job.logit_layer not in float_layers:
        float_layers = float_layers + [job.logit_layer]
    backend = runtime_backend(fmt)
    if backend is None:
        row.passed, row.reasons = False, [f"no edge backend installed for {staged.suffix} ({', '.join(fmt.backends)})"]
        return row

    def attempt(names: Sequence[str]) -> Optional[ParityRow]:
        outcome = run_export(fmt, job, staged, names if fmt.needs_calibration else (), log=log)
        r = ParityRow(fmt.key, fmt.name, file=staged.name, export_seconds=round(outcome.seconds, 2))
        if not outcome.ok:
            r.passed, r.reasons = False, [f"export failed: {outcome.error}"]
            return r
        r.float_layers = outcome.float_layers
        try:
            measure_file(r, staged, backend, *eval_crops, keras_probs, job.contract.threshold, latency_runs,
                         output=job.output)
        except FakeFaceError as exc:  # the edge runtime refused the file: that is a failure of this format
            r.passed, r.reasons = False, [f"edge runtime cannot run it: {exc}"]
            return r
        return apply_gate(r, keras_row, max_acc_drop, min_agreement, eval_labels=eval_crops[1])

    row = attempt(float_layers)
    if row.passed or not fmt.needs_calibration or not staged.is_file():
        return row
    try:
        losses = diagnose(fmt, job, staged)
        row.diagnostics = [l.to_dict() for l in losses[:12]]
        worst = ", ".join(f"{l.name} ({l.metric} {l.value:.3g})" for l in losses[:3])
        log(f"  {fmt.key:<15} failed the gate; worst layers: {worst}", file=sys.stderr)
    except Exception as exc:  # diagnostics are a help, never a reason to abort the export
        if interrupt_received():  # ...but a SIGTERM swallowed by the converter still stops it
            raise KeyboardInterrupt from exc
        losses = []
        log(f"  {fmt.key:<15} diagnostics failed: {' '.join(str(exc).split())[:200]}", file=sys.stderr)
    if auto_float and losses:
        names = list(dict.fromkeys(float_layers + worst_layer_names(losses, auto_float)))
        log(f"  {fmt.key:<15} retrying with float layers: {', '.join(names)}")
        retry = attempt(names)
        retry.diagnostics = row.diagnostics
        if retry.passed or not staged.is_file():
            return retry
        retry.reasons = retry.reasons + [f"also failed with --auto-float {auto_float}"]
        return retry
    return row


def _publish(fmt, row: ParityRow, staged: Path, out_dir: Path, stem: str, contract: ModelContract,
             source_sha: str, keep_failed: bool) -> None:
    final = out_dir / fmt.filename(stem)
    failed = out_dir / fmt.failed_filename(stem)
    if row.passed:
        published = dataclasses.replace(contract, format=fmt.key, sha256=file_sha256(staged), source_sha256=source_sha)
        _unlink(failed)
        with signals_deferred():  # the file and its sidecar appear together or not at all
            os.replace(staged, final)
            save_contract(final, published)
        _readable(final, sidecar_path(final))
        row.file = final.name
        return
    # Nothing may stay under the runtime name: not this file, nor an older export of it.
    _unlink(final, sidecar_path(final))
    row.file = None
    if staged.is_file() and keep_failed:
        os.replace(staged, failed)
        _unlink(sidecar_path(failed))
        row.kept_as = failed.name
    else:
        _unlink(staged, failed)
