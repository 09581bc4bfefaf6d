"""The legacy install's classifier against litert's, side by side in one run.

    python -m fakeface.benchmarks.legacy_speed                      # the Makefile's venvs, 1 thread
    taskset -c 0 python -m fakeface.benchmarks.legacy_speed --threads 1 2 --rounds 40

``[legacy]`` (tflite-runtime 2.14, numpy 1.26) and ``[edge]`` (ai-edge-litert, numpy 2) cannot
share a process or a venv, so each interpreter runs in a worker process of its own venv: the
main process sends every worker, one at a time and in a new random order each round, a request
for ``--batch`` timed classifications of the same face crop (one face a call, as ``bench
--stages classify`` times), so all of them meet the same load.  Rows:

- ``litert``: the [edge] install's ``--backend auto`` (the reference);
- ``legacy auto``: what the [legacy] install's ``--backend auto`` opens (tflite-runtime, its int8
  ops on XNNPACK: edge/tflite_legacy.py);
- ``legacy as the wheel opens it``: tflite-runtime with its own default delegate (int8 ops on the
  built-in kernels) and the threads as asked: what ``auto`` gave before;
- ``onnxruntime`` in each venv, on the ONNX file.

The ratio of each row to litert is the median of the per-round ratios of batch medians (the
load moves between rounds, not within a batch); the target is legacy auto at most 2x litert at
1 thread.  Every worker also reports p(fake) for the crop, the same file through each runtime.
Exit code 0: the target holds at every thread count; 1: it does not; 2: a venv is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fakeface.edge.strict_json import dumps, write_json

TARGET_RATIO = 2.0
WORKER_KINDS = ("auto", "tflite-runtime-plain", "onnxruntime")


# -- worker (runs in either venv) -----------------------------------------------------
def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for dist in ("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def _open(kind: str, model: str, threads: int):
    from fakeface.edge.backends import TFLiteRunner
    from fakeface.edge.classifier import Classifier

    if kind == "auto":
        return Classifier(model, backend="auto", threads=threads)
    if kind == "onnxruntime":
        return Classifier(model, backend="onnxruntime", threads=threads)
    if kind == "tflite-runtime-plain":
        clf = Classifier(model, backend="tflite-runtime", threads=threads)
        clf.runner.close()
        clf.runner = TFLiteRunner(Path(model), threads, "tflite-runtime", stock=True)
        return clf
    raise SystemExit(f"unknown worker kind {kind!r}")


def worker(kind: str, model: str, threads: int, crops_path: str) -> int:
    crops = np.load(crops_path)
    t0 = time.perf_counter()
    clf = _open(kind, model, threads)
    init_ms = (time.perf_counter() - t0) * 1e3
    p = clf.predict_crops(crops)
    ready = {"backend": clf.runner.backend, "threads": clf.runner.threads, "note": getattr(clf.runner, "note", ""),
             "init_ms": round(init_ms, 1), "p_fake": [round(float(v), 5) for v in p], "versions": _versions()}
    print(dumps(ready), flush=True)
    one = crops[:1]
    for line in sys.stdin:
        n = int(line)
        if n <= 0:
            break
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            clf.predict_crops(one)
            samples.append((time.perf_counter() - t) * 1e3)
        print(dumps(samples), flush=True)
    clf.close()
    return 0


# -- main -------------------------------------------------------------------------------
class Worker:
    def __init__(self, label: str, python: str, kind: str, model: Path, threads: int, crops: Path):
        self.label, self.threads, self.model = label, threads, model
        cmd = [python, "-m", "fakeface.benchmarks.legacy_speed", "--worker", kind, str(model), str(threads), str(crops)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{label}: the worker ended before it was ready ({' '.join(cmd)})")
        self.info = json.loads(line)
        self.samples: list[float] = []
        self.batch_medians: list[float] = []

    def time(self, n: int) -> float:
        self.proc.stdin.write(f"{n}\n")
        self.proc.stdin.flush()
        batch = json.loads(self.proc.stdout.readline())
        self.samples += batch
        self.batch_medians.append(float(np.median(batch)))
        return self.batch_medians[-1]

    def close(self) -> None:
        try:
            self.proc.stdin.write("0\n")
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        self.proc.wait(timeout=30)


def _face_crops(model: Path) -> np.ndarray:
    from fakeface.edge.contract import load_contract

    from .frames import load_photos
    from .suite import face_crops

    photos, _ = load_photos([])
    return face_crops(photos, load_contract(model, verify_hash=False).input_size)


def compare(legacy_python: str, edge_python: str, model: Path, onnx: Path | None, threads: list[int],
            rounds: int, batch: int, log=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="legacy-speed-") as tmp:
        crops_path = Path(tmp) / "crops.npy"
        np.save(crops_path, _face_crops(model))
        rows = {}
        for t in threads:
            specs = [("litert", edge_python, "auto", model), ("legacy auto", legacy_python, "auto", model),
                     ("legacy as the wheel opens it", legacy_python, "tflite-runtime-plain", model)]
            if onnx is not None:
                specs += [("onnxruntime [edge]", edge_python, "onnxruntime", onnx),
                          ("onnxruntime [legacy]", legacy_python, "onnxruntime", onnx)]
            workers = [Worker(label, py, kind, path, t, crops_path) for label, py, kind, path in specs]
            try:
                for w in workers:  # untimed warm-up
                    w.time(3)
                    w.samples.clear()
                    w.batch_medians.clear()
                for r in range(rounds):
                    for w in random.sample(workers, len(workers)):
                        w.time(batch)
            finally:
                for w in workers:
                    w.close()
            ref = workers[0]
            for w in workers:
                per_round = np.array(w.batch_medians) / np.array(ref.batch_medians)
                rows[(w.label, t)] = {
                    "label": w.label, "threads": t, "backend": w.info["backend"],
                    "threads_used": w.info["threads"], "file": w.model.name,
                    "p50_ms": round(float(np.median(w.samples)), 3),
                    "p10_ms": round(float(np.percentile(w.samples, 10)), 3),
                    "ratio_to_litert": round(float(np.median(per_round)), 2), "p_fake": w.info["p_fake"],
                    "note": w.info["note"], "versions": w.info["versions"],
                }
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"rounds": rounds, "batch": batch, "cpus": cpus, "target_ratio": TARGET_RATIO, "rows": list(rows.values())}


def table(doc: dict) -> list[str]:
    lines = [f"{'runtime':30s} {'backend':15s} {'file':16s} {'thr':>3s} {'p50 ms':>8s} {'p10 ms':>8s} "
             f"{'/ litert':>8s}  p(fake)"]
    for r in doc["rows"]:
        thr = f"{r['threads']}" if r["threads_used"] == r["threads"] else f"{r['threads']}>{r['threads_used']}"
        lines.append(f"{r['label']:30s} {r['backend']:15s} {r['file']:16s} {thr:>3s} {r['p50_ms']:8.2f} "
                     f"{r['p10_ms']:8.2f} {r['ratio_to_litert']:7.2f}x  {', '.join(f'{p:.5f}' for p in r['p_fake'])}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fakeface.benchmarks.legacy_speed",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", nargs=4, metavar=("KIND", "MODEL", "THREADS", "CROPS"), help=argparse.SUPPRESS)
    ap.add_argument("--legacy-python", default=".venv-legacy/bin/python", help="the [legacy] venv's python")
    ap.add_argument("--edge-python", default=".venv-edge/bin/python", help="the [edge] venv's python")
    ap.add_argument("--model", help="the .tflite classifier (default: the shipped one)")
    ap.add_argument("--onnx", help="the .onnx classifier (default: the shipped one; 'none' to skip)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--batch", type=int, default=5, help="timed calls per worker per round")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    if args.worker:
        kind, model, threads, crops = args.worker
        return worker(kind, model, int(threads), crops)

    from fakeface.edge.classifier import MODELS_DIR

    for name, py in (("--legacy-python", args.legacy_python), ("--edge-python", args.edge_python)):
        if not Path(py).is_file():
            print(f"legacy_speed: error: {name} {py} not found (make .venv-legacy/.test-installed "
                  ".venv-edge/.test-installed)", file=sys.stderr)
            return 2
    model = Path(args.model or MODELS_DIR / "fakeface.tflite").resolve()
    onnx = None if args.onnx == "none" else Path(args.onnx or MODELS_DIR / "fakeface.onnx").resolve()
    doc = compare(args.legacy_python, args.edge_python, model, onnx, args.threads, args.rounds, args.batch)
    for line in table(doc):
        print(line)
    notes = {r["note"] for r in doc["rows"] if r["note"]}
    for n in sorted(notes):
        print(f"note: {n}")
    ok = True
    for r in doc["rows"]:
        if r["label"] == "legacy auto":
            passed = r["ratio_to_litert"] <= TARGET_RATIO
            ok &= passed or r["threads"] != 1
            verdict = "" if r["threads"] != 1 else (": PASS" if passed else ": FAIL")
            print(f"legacy auto / litert at {r['threads']} thread(s): {r['ratio_to_litert']:.2f}x "
                  f"(target <= {TARGET_RATIO:g}x at 1 thread){verdict}")
    versions = {venv: r["versions"] for r in doc["rows"]
                for venv, label in (("[edge]", "litert"), ("[legacy]", "legacy auto")) if r["label"] == label}
    print("versions: " + "; ".join(f"{k} " + ", ".join(f"{d} {v}" for d, v in vs.items())
                                   for k, vs in versions.items()))
    if args.json:
        write_json(args.json, doc, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
