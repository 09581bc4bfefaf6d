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
# P-Net interpreters kept per input shape; a pyramid of a 4K frame has ~17 levels.
PNET_CACHE_SIZE = 40


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
    few level shapes on every frame of a video, so with ``per_shape`` one interpreter is
    kept per shape (least recently used ones are closed).  ONNX Runtime takes any shape
    without re-planning, so one session serves all.
    """

    def __init__(self, path: Path, backend: str = "auto", threads: Optional[int] = None,
                 per_shape: bool = False, cache_size: int = PNET_CACHE_SIZE):
        self.path = Path(path)
        self._backend = backend
        self._threads = threads
        self._first = open_model(self.path, backend, threads)
        self.backend = self._first.backend
        self._per_shape = per_shape and self.backend != "onnxruntime"
        self._cache_size = cache_size
        self._runners: OrderedDict[tuple, object] = OrderedDict()

    def _runner_for(self, shape: tuple):
        if not self._per_shape:
            return self._first
        runner = self._runners.get(shape)
        if runner is not None:
            self._runners.move_to_end(shape)
            return runner
        runner = open_model(self.path, self.backend, self._threads)
        self._runners[shape] = runner
        while len(self._runners) > self._cache_size:
            _, old = self._runners.popitem(last=False)
            old.close()
        return runner

    def run(self, x: np.ndarray) -> dict[int, np.ndarray]:
        outs = self._runner_for(tuple(x.shape)).run(x)
        return {int(o.shape[-1]): o for o in outs}

    def close(self) -> None:
        for runner in self._runners.values():
            runner.close()
        self._runners.clear()
        self._first.close()


def open_nets(model_format: str = "tflite", backend: str = "auto", threads: Optional[int] = None,
              model_dir: Optional[Path] = None) -> dict[str, Net]:
    fmt = pick_format(model_format, backend)
    nets: dict[str, Net] = {}
    try:
        for name in NET_NAMES:
            nets[name] = Net(net_path(name, fmt, model_dir), backend, threads, per_shape=(name == "pnet"))
    except BaseException:
        for net in nets.values():
            net.close()
        raise
    return nets
