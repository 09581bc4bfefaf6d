"""The shipped P-, R- and O-Net files and the runners that execute them.

Nets are TFLite (fp32) or ONNX conversions of mtcnn 1.0.0's Keras weights, made by
``fakeface.export.mtcnn_nets``.  Outputs are picked by their last dimension, not by
position: TFLite reorders them (P-Net comes back probability-first).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Optional

import numpy as np

from ..backends import available_backends, open_model
from ..errors import BackendError, ModelError

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "mtcnn"
NET_NAMES = ("pnet", "rnet", "onet")
FORMATS = ("tflite", "onnx")
# Last dimension of each output -> what it is; distinct within every net.
REGRESSION, LANDMARKS, PROBABILITY = 4, 10, 2
# Interpreters kept per input shape: a 4K frame's pyramid has ~17 levels, plus the buckets.
CACHE_SIZE = 48
# Batch sizes R- and O-Net run at, largest first.  A batch of n is split greedily into
# these, so with 1 among them nothing is padded; XNNPack's cost per patch is flat from
# batch 4 up (litert, 1 thread: R-Net 0.046-0.051 ms a patch at 4..256), so small
# buckets cost no speed.  What they buy: each bucket keeps its own interpreter, and none
# is re-planned when the candidate count changes from frame to frame (ai-edge-litert 2.3
# on x86: ~0.5 ms per change for O-Net, ~0.02 ms for R-Net; more where weights are re-packed).
BATCH_BUCKETS = (64, 16, 4, 1)
# Interpreters for inputs up to this many pixels are kept (a 1080p frame's largest level at
# min face 20 has 0.75 MP).  A photo's bigger levels get an interpreter for the one call:
# P-Net with XNNPack needs ~185 bytes per input pixel, and a 4000x3000 detection peaked
# at 1.9 GB with every level's interpreter kept, 1.1 GB with these freed after use.
KEEP_INPUT_PIXELS = 1_000_000


def bucket_sizes(n: int, buckets: tuple[int, ...] = BATCH_BUCKETS) -> list[int]:
    """Batch sizes, from ``buckets`` (descending, ending in 1), that add up to ``n``."""
    sizes = []
    for b in buckets:
        count, n = divmod(n, b)
        sizes += [b] * count
    return sizes


def net_path(name: str, model_format: str, model_dir: Optional[Path] = None) -> Path:
    return Path(model_dir or MODEL_DIR) / f"{name}.{model_format}"


def pick_format(model_format: str, backend: str) -> str:
    """Which shipped files to use: ``tflite`` / ``onnx``, or ``auto`` to follow the backend."""
    if model_format in FORMATS:
        return model_format
    if model_format != "auto":
        raise ModelError(f"unknown MTCNN model format {model_format!r}; choose auto, tflite or onnx")
    if backend == "onnxruntime":
        return "onnx"
    if backend in ("litert", "tflite-runtime"):
        return "tflite"
    have = available_backends()
    if "litert" in have or "tflite-runtime" in have:
        return "tflite"
    if "onnxruntime" in have:
        return "onnx"
    raise BackendError("no interpreter installed for the MTCNN nets; pip install 'fakeface[edge]'")


class Net:
    """One MTCNN net.  ``run`` returns {last dimension: output} for a float32 NHWC batch.

    A TFLite interpreter re-plans (and XNNPack re-packs weights) whenever its input shape
    changes, which costs as much as running P-Net on a large level.  P-Net sees the same
    few level shapes on every frame of a video, R- and O-Net the same few batch buckets,
    so one interpreter is kept per shape (least recently used ones are closed).  ONNX
    Runtime takes any shape without re-planning, so one session serves all.
    """

    def __init__(self, path: Path, backend: str = "auto", threads: Optional[int] = None,
                 per_shape: bool = True, cache_size: int = CACHE_SIZE):
        self.path = Path(path)
        self._threads = threads
        self._first = open_model(self.path, backend, threads)
        self.backend = self._first.backend
        self._per_shape = per_shape and self.backend != "onnxruntime"
        self._cache_size = cache_size
        self._runners: OrderedDict[tuple, object] = OrderedDict()
        # The probe interpreter serves the first shape, rather than being opened in vain.
        self._spare = self._first if self._per_shape else None

    def _runner_for(self, shape: tuple):
        if not self._per_shape:
            return self._first
        runner = self._runners.get(shape)
        if runner is not None:
            self._runners.move_to_end(shape)
            return runner
        runner = self._spare or open_model(self.path, self.backend, self._threads)
        self._spare = None
        self._runners[shape] = runner
        while len(self._runners) > self._cache_size:
            _, old = self._runners.popitem(last=False)
            old.close()
        return runner

    def run(self, x: np.ndarray) -> dict[int, np.ndarray]:
        if self._per_shape and x.shape[1] * x.shape[2] > KEEP_INPUT_PIXELS:
            runner = open_model(self.path, self.backend, self._threads)
            try:
                outs = runner.run(x)
            finally:
                runner.close()
                del runner  # frees the arena now, not at the next garbage collection
        else:
            outs = self._runner_for(tuple(x.shape)).run(x)
        return {int(o.shape[-1]): o for o in outs}

    def run_batch(self, x: np.ndarray) -> dict[int, np.ndarray]:
        """``run`` on a batch of any size: in fixed buckets where shapes cost a re-plan."""
        sizes = bucket_sizes(len(x)) if self._per_shape else [len(x)]
        parts, start = [], 0
        for size in sizes:
            parts.append(self.run(x[start:start + size]))
            start += size
        return {k: np.concatenate([p[k] for p in parts], axis=0) for k in parts[0]}

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
        self._runners.clear()
        if self._spare is not None or not self._per_shape:
            self._first.close()


def open_nets(model_format: str = "tflite", backend: str = "auto", threads: Optional[int] = None,
              model_dir: Optional[Path] = None) -> dict[str, Net]:
    fmt = pick_format(model_format, backend)
    nets: dict[str, Net] = {}
    try:
        for name in NET_NAMES:
            nets[name] = Net(net_path(name, fmt, model_dir), backend, threads)
    except BaseException:
        for net in nets.values():
            net.close()
        raise
    return nets
