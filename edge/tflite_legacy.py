"""The legacy interpreter (tflite-runtime 2.14, the ``[legacy]`` extra) with its int8 kernels on XNNPACK.

Why this exists: the tflite-runtime 2.14 wheel applies XNNPACK by default only to float ops.
Its default delegate options leave out the int8 flag (``TFLITE_XNNPACK_DELEGATE_FLAG_QS8``;
``TfLiteXNNPackDelegateOptionsDefault()`` returns flags 0), so a full-int8 model such as the
shipped classifier runs entirely on TFLite's built-in int8 kernels: 26.5 ms a face against
litert's 1.9 ms on one x86 thread.  ai-edge-litert's default XNNPACK takes the int8 ops.

The wheel's own library exports XNNPACK's C API (``TfLiteXNNPackDelegateCreate`` and the
rest), and its Python ``Interpreter`` accepts any object with ``_get_native_delegate_pointer``
as an experimental delegate.  So the runner makes the delegate itself, with the int8 flag set,
and opens the interpreter with the default delegates off (one XNNPACK, not two).  Float ops
(the MTCNN nets, a logit model's float last layer) go to the same delegate, as before.
Where the library lacks that API or the delegate refuses the model, the interpreter opens as
before (built-in int8 kernels), and ``note`` says so.

Threads: the thread pools of that release (XNNPACK's and ruy's) spin while they wait, and a
worker that loses its CPU stalls every op.  With more threads than CPUs (``--threads 2`` under
``taskset -c 0``) a 5 ms inference took 0.5-3.5 s; with 2 threads on 2 CPUs that other jobs kept
busy, p50 394 ms against 6.5 ms for litert at 2 threads, and ``check`` on 20 photos 29 s against
0.7 s at 1 thread.  So tflite-runtime runs 1 thread unless asked for more (``DEFAULT_THREADS``,
applied by ``backends.open_model`` when ``threads`` is None), and never more than the CPUs this
process may use.
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from typing import Optional

from .cpus import usable_cpus

# tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h
FLAG_QS8 = 0x1  # signed int8 (per-channel weights included): what full-int8 TFLite files use


class _Options(ctypes.Structure):
    """TfLiteXNNPackDelegateOptions.  Only the two leading fields are written; the rest keep
    what ``TfLiteXNNPackDelegateOptionsDefault`` put there (``_rest`` leaves room for fields
    this module does not name, so a struct returned by value always fits)."""

    _fields_ = [("num_threads", ctypes.c_int32), ("flags", ctypes.c_uint32), ("_rest", ctypes.c_byte * 256)]


@lru_cache(maxsize=1)
def _xnnpack_api():
    """The wheel library's XNNPACK functions, or the reason they cannot be used (a str)."""
    try:
        from tflite_runtime import _pywrap_tensorflow_interpreter_wrapper as wrapper

        lib = ctypes.CDLL(wrapper.__file__)  # already loaded: the same handle, the same XNNPACK
        default, create, delete = (lib.TfLiteXNNPackDelegateOptionsDefault, lib.TfLiteXNNPackDelegateCreate,
                                   lib.TfLiteXNNPackDelegateDelete)
    except (ImportError, OSError, AttributeError) as exc:
        return f"no XNNPACK C API in this tflite-runtime ({' '.join(str(exc).split())[:120]})"
    default.restype, default.argtypes = _Options, []
    create.restype, create.argtypes = ctypes.c_void_p, [ctypes.POINTER(_Options)]
    delete.restype, delete.argtypes = None, [ctypes.c_void_p]
    return default, create, delete


class Int8XNNPackDelegate:
    """An XNNPACK delegate with int8 ops on, for ``Interpreter(experimental_delegates=[...])``.
    The interpreter keeps it in its delegate list and drops the interpreter first, so the
    delegate is deleted after the graph that uses it."""

    def __init__(self, threads: int):
        api = _xnnpack_api()
        if isinstance(api, str):
            raise RuntimeError(api)
        default, create, self._delete = api
        opts = default()
        opts.num_threads = max(1, int(threads))  # 1: no thread pool
        opts.flags |= FLAG_QS8
        self._ptr = create(ctypes.byref(opts))
        if not self._ptr:
            raise RuntimeError("TfLiteXNNPackDelegateCreate returned NULL")

    def _get_native_delegate_pointer(self):
        return self._ptr

    def __del__(self):
        ptr, self._ptr = getattr(self, "_ptr", None), None
        if ptr:
            self._delete(ptr)


DEFAULT_THREADS = 1  # where no thread count was asked for (above)


def legacy_threads(threads: int) -> int:
    """Interpreter and delegate threads for tflite-runtime: at most the usable CPUs (above)."""
    return max(1, min(int(threads), usable_cpus()))


NOTE_INT8 = ("tflite-runtime: int8 ops on XNNPACK (fakeface turns them on: the 2.14 wheel's default leaves "
             "them on 10x slower kernels); 1 thread unless --threads N, at most the usable CPUs (its pools spin)")
NOTE_STOCK = "tflite-runtime as the wheel opens files: int8 ops on its built-in kernels, threads as asked"


def open_interpreter(interpreter_class, path: str, threads: int, stock: bool = False):
    """(interpreter, note): ``path`` opened with the int8 XNNPACK delegate and capped threads, or
    as tflite-runtime opens it by default where that fails (``note`` then gives the reason).
    ``stock=True`` opens it as the wheel does by default (its own delegate, ``threads`` as asked),
    for comparisons.  Invalid model files raise from the plain open, as before."""
    if stock:
        interp = interpreter_class(model_path=path, num_threads=threads)
        interp.allocate_tensors()
        return interp, NOTE_STOCK
    threads = legacy_threads(threads)
    try:
        from tflite_runtime.interpreter import OpResolverType

        interp = interpreter_class(
            model_path=path, num_threads=threads, experimental_delegates=[Int8XNNPackDelegate(threads)],
            experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interp.allocate_tensors()
        return interp, NOTE_INT8
    except (ImportError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:160]
    interp = interpreter_class(model_path=path, num_threads=threads)
    interp.allocate_tensors()
    return interp, f"tflite-runtime: int8 ops on its built-in kernels, not XNNPACK ({reason})"


def delegated(interp) -> bool:
    """Whether any of the interpreter's nodes runs in a delegate (XNNPACK)."""
    try:
        return any(op.get("op_name") == "DELEGATE" for op in interp._get_ops_details())
    except (AttributeError, ValueError, RuntimeError):
        return False


def int8_xnnpack_note() -> Optional[str]:
    """The one line ``bench`` prints where tflite-runtime is installed; None where it is not."""
    try:
        import tflite_runtime  # noqa: F401
    except ImportError:
        return None
    api = _xnnpack_api()
    if isinstance(api, str):
        return f"tflite-runtime: int8 ops on its built-in kernels, not XNNPACK ({api})"
    return NOTE_INT8
