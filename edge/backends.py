"""Interpreter backends behind one small interface: ai-edge-litert, tflite-runtime, onnxruntime.

Every runner takes float32 inputs and returns float32 outputs: for int8-I/O models
the runner applies the model's own quantisation parameters, so callers never care
how a file was exported.  Inputs may change shape between calls (MTCNN's P-Net
sees one shape per pyramid level); the runner re-plans only when the shape changes.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from .cpus import usable_cpus
from .errors import BackendError, ModelError

BACKENDS = ("litert", "tflite-runtime", "onnxruntime")
SUFFIX_BACKENDS = {".tflite": ("litert", "tflite-runtime"), ".onnx": ("onnxruntime",)}


def default_threads() -> int:
    """Interpreter threads when none are asked for: the CPUs this process may use
    (tflite-runtime: 1, edge/tflite_legacy.py)."""
    return usable_cpus()


class ModelRunner:
    """Runs one model file.  Subclasses implement ``_run``; ``run`` converts dtypes."""

    backend: str = ""

    def __init__(self, path: Path, threads: int):
        self.path = Path(path)
        self.threads = threads

    @property
    def input_shape(self) -> tuple:
        raise NotImplementedError

    closed: bool = False

    def run(self, x: np.ndarray) -> list[np.ndarray]:
        """Run on one batch; returns the outputs in the model's declared order, as float32."""
        if self.closed:
            raise BackendError(f"{self.path}: the {self.backend} runner was closed")
        x = np.ascontiguousarray(x, dtype=np.float32)
        return self._run(x)

    def _run(self, x: np.ndarray) -> list[np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Free the interpreter, its arena and its worker threads now, not at the next garbage
        collection.  Idempotent; ``run`` after it raises BackendError."""
        self.closed = True
        self._release()

    def _release(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# -- TFLite (ai-edge-litert or the legacy tflite-runtime) ---------------------------
def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return x
    scale, zero = detail["quantization"]
    if not scale:
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if y.dtype == np.float32:
        return y
    scale, zero = detail["quantization"]
    if not scale:
        return y.astype(np.float32)
    return (y.astype(np.float32) - zero) * scale


@contextlib.contextmanager
def _native_stderr_muted():
    """Silence C-level stderr (the interpreter's one-off "Created XNNPACK delegate" INFO
    line, which no log-level variable turns off).  Failures still surface as exceptions."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, ValueError, OSError):  # no real stderr (pytest capture, GUI)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class TFLiteRunner(ModelRunner):
    """``note``: how tflite-runtime runs the file (edge/tflite_legacy.py); "" for litert.
    ``stock=True`` opens tflite-runtime as the wheel opens files by default (for comparisons)."""

    note: str = ""

    def __init__(self, path: Path, threads: int, backend: str, stock: bool = False):
        super().__init__(path, threads)
        self.backend = backend
        Interpreter = _tflite_interpreter_class(backend)
        try:
            with _native_stderr_muted():
                if backend == "tflite-runtime":
                    # Its default XNNPACK leaves int8 ops on slow kernels, and its thread pools
                    # spin: the legacy module turns int8 on and caps the threads.
                    from .tflite_legacy import legacy_threads, open_interpreter

                    self.threads = threads if stock else legacy_threads(threads)
                    self._interp, self.note = open_interpreter(Interpreter, str(path), threads, stock)
                else:
                    self._interp = Interpreter(model_path=str(path), num_threads=threads)
                    self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise _explain_tflite_failure(path, backend, exc) from None
        self._in = self._interp.get_input_details()[0]
        self._outs = self._interp.get_output_details()
        self._shape = tuple(self._in["shape"])

    @property
    def input_shape(self) -> tuple:
        return tuple(int(v) for v in self._in["shape_signature"])

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        if x.shape != self._shape:
            self._interp.resize_tensor_input(self._in["index"], list(x.shape), strict=False)
            self._interp.allocate_tensors()
            self._in = self._interp.get_input_details()[0]
            self._outs = self._interp.get_output_details()
            self._shape = x.shape
        self._interp.set_tensor(self._in["index"], _quantize(x, self._in))
        self._interp.invoke()
        return [_dequantize(self._interp.get_tensor(d["index"]), d) for d in self._outs]

    def _release(self) -> None:
        # The interpreter owns the tensor arena and XNNPack's thread pool; nothing else holds
        # it (get_tensor returns copies), so dropping the last reference frees both.
        self._interp = None


def _tflite_interpreter_class(backend: str):
    if backend == "litert":
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise BackendError(f"backend litert needs ai-edge-litert: pip install 'fakeface[edge]' ({exc})") from None
        return Interpreter
    try:
        from tflite_runtime.interpreter import Interpreter
    except ImportError as exc:
        raise BackendError(
            f"backend tflite-runtime is not importable ({exc}); it needs numpy<2 and no TensorFlow in "
            "the same process: pip install 'fakeface[legacy]', or use --backend litert"
        ) from None
    return Interpreter


def _explain_tflite_failure(path: Path, backend: str, exc: Exception) -> Exception:
    msg = " ".join(str(exc).split())
    if backend == "tflite-runtime":
        if "opcode" in msg or "version" in msg:
            return BackendError(
                f"{path}: tflite-runtime 2.14 cannot run this model ({msg[:160]}); dynamic-range "
                "and other newer op versions need ai-edge-litert (--backend litert)"
            )
        if "numpy" in msg.lower() or "_ARRAY_API" in msg:
            return BackendError(f"{path}: tflite-runtime needs numpy<2 ({msg[:160]}); use --backend litert")
    if "flatbuffer" in msg.lower() or "model" in msg.lower() or "identifier" in msg.lower():
        return ModelError(f"{path}: not a valid TFLite model ({msg[:200]})")
    return BackendError(f"{path}: {backend} failed to load the model ({msg[:200]})")


# -- ONNX -------------------------------------------------------------------------
class OnnxRunner(ModelRunner):
    backend = "onnxruntime"

    def __init__(self, path: Path, threads: int):
        super().__init__(path, threads)
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendError(f"backend onnxruntime is not installed: pip install 'fakeface[edge]' ({exc})") from None
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Several sessions (P/R/O-Net + classifier) share few cores: spinning threads
        # would steal the CPU from each other between runs.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Run a QDQ (int8) graph as its QuantizeLinear/DequantizeLinear pairs rather than fused
        # into QLinearConv / QLinearMatMul: on x86 CPUs without VNNI, ONNX Runtime's fused u8s8
        # kernels use VPMADDUBSW, whose int16 sums saturate.  With the shipped int8 file that
        # turned p(fake) 1.00 into 0.00 for about a third of generated-photos fakes on an AVX2
        # EPYC (tests/test_fake_photos.py); unfused it matches TFLite.  The price there: 8.5
        # instead of 6.0 ms of CPU time per face (one thread).  Float graphs are unaffected.
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
        opts.log_severity_level = 3
        try:
            self._sess = ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            msg = " ".join(str(exc).split())
            raise ModelError(f"{path}: not a valid ONNX model ({msg[:200]})") from None
        self._in = self._sess.get_inputs()[0]
        self._out_names = [o.name for o in self._sess.get_outputs()]
        self._input_shape = tuple(d if isinstance(d, int) else -1 for d in self._in.shape)

    @property
    def input_shape(self) -> tuple:
        return self._input_shape

    def _run(self, x: np.ndarray) -> list[np.ndarray]:
        outs = self._sess.run(self._out_names, {self._in.name: x})
        return [np.asarray(o, dtype=np.float32) for o in outs]

    def _release(self) -> None:
        # The session owns its intra-op thread pool: dropping it joins those threads.  Its
        # input's NodeArg keeps the session alive too, so it goes first.
        self._in = None
        self._sess = None


# -- factory ----------------------------------------------------------------------
def available_backends() -> list[str]:
    """Backends importable in this environment (without importing TensorFlow)."""
    import importlib.util

    found = []
    if importlib.util.find_spec("ai_edge_litert") is not None:
        found.append("litert")
    if importlib.util.find_spec("tflite_runtime") is not None:
        found.append("tflite-runtime")
    if importlib.util.find_spec("onnxruntime") is not None:
        found.append("onnxruntime")
    return found


def backends_for(path: str | os.PathLike) -> tuple[str, ...]:
    return SUFFIX_BACKENDS.get(Path(path).suffix.lower(), ())


def resolve_backend(path: str | os.PathLike, backend: str = "auto") -> str:
    path = Path(path)
    candidates = backends_for(path)
    if not candidates:
        raise ModelError(f"{path}: unknown model format {path.suffix!r}; expected .tflite or .onnx")
    if backend == "auto":
        have = available_backends()
        for name in candidates:
            if name in have:
                return name
        raise BackendError(f"{path}: no interpreter for {path.suffix} installed; pip install 'fakeface[edge]'")
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r}; choose from auto, {', '.join(BACKENDS)}")
    if backend not in candidates:
        raise BackendError(f"{path}: backend {backend} cannot run {path.suffix} files (use {', '.join(candidates)})")
    return backend


def open_model(path: str | os.PathLike, backend: str = "auto", threads: Optional[int] = None) -> ModelRunner:
    """Open ``path`` with the named backend (or the best available one for its suffix)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: model file is empty")
    name = resolve_backend(path, backend)
    if threads is None and name == "tflite-runtime":
        from .tflite_legacy import DEFAULT_THREADS  # its thread pools spin: edge/tflite_legacy.py

        threads = DEFAULT_THREADS
    threads = threads or default_threads()
    if name == "onnxruntime":
        return OnnxRunner(path, threads)
    return TFLiteRunner(path, threads, name)
