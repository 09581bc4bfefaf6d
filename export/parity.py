"""Parity of exported files against the Keras model: metrics, the pass/fail gate, the report.

Every number about an exported file is measured by running it in the edge runtime
(``fakeface.edge.backends.open_model``), exactly as ``fakeface check`` would.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from fakeface.edge.atomic import write_text_atomic
from fakeface.edge.backends import available_backends, open_model
from fakeface.edge.contract import fake_probabilities
from fakeface.edge.strict_json import dumps

from fakeface.train.reports.metrics import classification_report
from fakeface.train.reports.sample_size import MIN_PER_CLASS, shortfall

EVAL_BATCH = 32


@dataclass
class ParityRow:
    """One format (or the Keras reference) measured on the evaluation crops."""

    format: str
    name: str
    file: Optional[str] = None
    backend: Optional[str] = None
    size_bytes: Optional[int] = None
    accuracy: Optional[float] = None
    balanced_accuracy: Optional[float] = None
    roc_auc: Optional[float] = None
    agreement: Optional[float] = None  # fraction of crops labelled as Keras labels them
    max_abs_diff: Optional[float] = None  # fake-probability differences vs Keras
    mean_abs_diff: Optional[float] = None
    # How many different p(fake) values the crops got: a probability rounded to int8 gives
    # at most 256 (a staircase), p(fake) from a float logit about one per crop.
    distinct_p: Optional[int] = None
    output: Optional[str] = None  # what the file outputs: "logit" or "probability"
    latency_ms: Optional[float] = None  # median, 1 thread, one crop
    export_seconds: Optional[float] = None
    passed: Optional[bool] = None
    reasons: list = field(default_factory=list)
    float_layers: list = field(default_factory=list)
    diagnostics: list = field(default_factory=list)  # worst layers first, when an int8 format failed
    kept_as: Optional[str] = None  # where a failed file was kept (never the runtime name)

    @property
    def status(self) -> str:
        if self.passed is None:
            return "reference"
        return "pass" if self.passed else "FAIL"


@dataclass
class ParityReport:
    source: str
    source_sha256: str
    eval_dir: str
    n_real: int
    n_fake: int
    threshold: float
    max_acc_drop: float  # percentage points
    min_agreement: float  # percent
    keras: ParityRow
    rows: list = field(default_factory=list)
    out_dir: str = ""
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def failed(self) -> list:
        return [r for r in self.rows if not r.passed]

    def row(self, key: str) -> ParityRow:
        return next(r for r in self.rows if r.format == key)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["passed"] = self.passed
        return d

    def to_markdown(self) -> str:
        head = (
            f"Parity of exported models against `{Path(self.source).name}` on {self.n_real} real + "
            f"{self.n_fake} fake crops from `{self.eval_dir}` (threshold {self.threshold:g}).  \n"
            f"Gate: accuracy drop <= {self.max_acc_drop:g} points and label agreement >= "
            f"{self.min_agreement:g} %. Latency: median, 1 thread, one crop, edge runtime. "
            f"p(fake) of a file that outputs the logit is its sigmoid, on the host; distinct p: how many "
            f"different p(fake) values the {self.n_real + self.n_fake} crops got.\n\n"
        )
        cols = ["format", "file", "output", "size KiB", "acc %", "bal. acc %", "ROC AUC", "agree %",
                "max |dp|", "mean |dp|", "distinct p", "latency ms", "result"]
        lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in [self.keras] + self.rows:
            lines.append("| " + " | ".join([
                r.format, f"`{r.file}`" if r.file else (f"`{r.kept_as}`" if r.kept_as else "-"), r.output or "-",
                _fmt(r.size_bytes, 1024, 1), _fmt(r.accuracy, 0.01, 2), _fmt(r.balanced_accuracy, 0.01, 2),
                _fmt(r.roc_auc, 1, 4), _fmt(r.agreement, 0.01, 2), _fmt_g(r.max_abs_diff), _fmt_g(r.mean_abs_diff),
                "-" if r.distinct_p is None else str(r.distinct_p), _fmt(r.latency_ms, 1, 3), r.status,
            ]) + " |")
        notes = []
        for r in self.rows:
            if r.float_layers:
                notes.append(f"- **{r.format}** keeps in float: {', '.join(f'`{n}`' for n in r.float_layers)}")
            if not r.passed:
                where = f" Kept for inspection as `{r.kept_as}` (no sidecar, so the edge runtime refuses it)." if r.kept_as else ""
                notes.append(f"- **{r.format} failed**: {'; '.join(r.reasons)}.{where}")
                if r.diagnostics:
                    notes.append("  Layers losing most accuracy (worst first):")
                    for d in r.diagnostics[:8]:
                        notes.append(f"  - `{d['name']}` ({d['op']}): {d['metric']} = {d['value']:.4g}")
        return head + "\n".join(lines) + "\n" + ("\n" + "\n".join(notes) + "\n" if notes else "")

    def write(self, out_dir: Path) -> tuple[Path, Path]:
        out_dir = Path(out_dir)
        j, m = out_dir / "parity.json", out_dir / "parity.md"
        write_text_atomic(j, dumps(self.to_dict(), indent=2, default=_json_default) + "\n")
        write_text_atomic(m, self.to_markdown())
        return j, m


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def _fmt(v, unit, digits) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v / unit:.{digits}f}"


def _fmt_g(v) -> str:
    return "-" if v is None else f"{v:.2g}"


# -- measuring ------------------------------------------------------------------------
def runtime_backend(fmt) -> Optional[str]:
    """The first of the format's backends installed here (litert for TFLite on a workstation)."""
    have = available_backends()
    return next((b for b in fmt.backends if b in have), None)


def predict_file(runner, x: np.ndarray, output: str = "probability") -> np.ndarray:
    """p(fake) per crop; a file whose ``output`` is "logit" gets the host's float64 sigmoid, as in the edge runtime."""
    probs = []
    for i in range(0, len(x), EVAL_BATCH):
        batch = x[i : i + EVAL_BATCH]
        probs.append(fake_probabilities(np.asarray(runner.run(batch)[0], np.float64), output))
    return np.concatenate(probs)


def median_latency_ms(runner, crop: np.ndarray, runs: int = 30, warmup: int = 3) -> float:
    one = crop[None]
    for _ in range(warmup):
        runner.run(one)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        runner.run(one)
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(statistics.median(times))


def score(row: ParityRow, y: np.ndarray, probs: np.ndarray, ref_probs: np.ndarray, threshold: float) -> ParityRow:
    pred = (probs >= threshold).astype(np.int64)
    ref_pred = (ref_probs >= threshold).astype(np.int64)
    diff = np.abs(probs - ref_probs)
    # One definition of accuracy and AUC for train, evaluate and export.
    rep = classification_report(y, probs, threshold)
    row.accuracy = rep.accuracy
    row.balanced_accuracy = rep.balanced_accuracy
    row.roc_auc = None if np.isnan(rep.roc_auc) else rep.roc_auc
    row.agreement = float(np.mean(pred == ref_pred))
    row.max_abs_diff = float(diff.max())
    row.mean_abs_diff = float(diff.mean())
    row.distinct_p = int(len(np.unique(probs)))
    return row


def measure_file(row: ParityRow, path: Path, backend: str, x: np.ndarray, y: np.ndarray,
                 ref_probs: np.ndarray, threshold: float, latency_runs: int = 30,
                 output: str = "probability") -> ParityRow:
    """Run ``path`` on every evaluation crop in the edge runtime and fill the row's metrics;
    ``output``: what the file outputs (its sidecar's field), so p(fake) is read as the runtime reads it."""
    row.backend = backend
    row.size_bytes = path.stat().st_size
    row.output = output
    with open_model(path, backend=backend, threads=1) as runner:
        probs = predict_file(runner, x, output)
        row.latency_ms = median_latency_ms(runner, x[0], runs=latency_runs)
    return score(row, y, probs, ref_probs, threshold)


def apply_gate(row: ParityRow, keras: ParityRow, max_acc_drop: float, min_agreement: float,
               eval_labels=None) -> ParityRow:
    """Fail a format that loses more than ``max_acc_drop`` points or agrees with Keras on < ``min_agreement`` %,
    and every format measured on fewer than MIN_PER_CLASS crops of a class (``eval_labels``)."""
    reasons = []
    short = None if eval_labels is None else shortfall(eval_labels, MIN_PER_CLASS, "evaluation crops")
    if short:
        reasons.append(f"too few crops to judge: {short} (pass a larger --eval)")
    drop = (keras.accuracy - row.accuracy) * 100.0
    # A tiny tolerance so float round-off in the fraction never fails a format at exactly the limit.
    if drop > max_acc_drop + 1e-9:
        reasons.append(f"accuracy {row.accuracy * 100:.2f} % is {drop:.2f} points below Keras (limit {max_acc_drop:g})")
    if row.agreement * 100.0 < min_agreement - 1e-9:
        reasons.append(f"label agreement with Keras {row.agreement * 100:.2f} % < {min_agreement:g} %")
    row.reasons = reasons
    row.passed = not reasons
    return row
