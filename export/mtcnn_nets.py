"""Convert the ``mtcnn`` package's P-, R- and O-Net to TFLite (fp32) and ONNX for the edge runtime.

Run with the full (TensorFlow) environment::

    fakeface export mtcnn-nets --out edge/models/mtcnn      # or: python -m fakeface.export.mtcnn_nets

The formats are the table's :data:`~.formats.MTCNN_NET_FORMATS` rows (fp32 TFLite and ONNX).

Writes ``pnet|rnet|onet`` ``.tflite`` and ``.onnx`` plus ``mtcnn_nets.json``, which records
the source package version, each file's sha256 and the largest output difference of every
converted net against its Keras original (:func:`net_parity`).

Inputs of every net: float32 NHWC, pixels already normalised as ``(rgb - 127.5) / 128``.
P-Net takes any H, W >= 12; R-Net 24x24 and O-Net 48x48 take any batch size.
Outputs, in the Keras models' order (the edge runtime does not rely on the order, it picks
each output by its last dimension, which differs between all outputs of a net):

- P-Net: box regression (N, h, w, 4), face probabilities (N, h, w, 2)
- R-Net: box regression (N, 4), face probabilities (N, 2)
- O-Net: box regression (N, 4), landmarks (N, 10: x1..x5, y1..y5), face probabilities (N, 2)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from fakeface.edge.atomic import atomic_path
from fakeface.edge.backends import open_model
from fakeface.edge.contract import file_sha256
from fakeface.edge.strict_json import dumps

from .formats import MTCNN_NET_FORMATS, ExportFormat, formats_in_order
from .tf_import import import_tf

NETS = ("pnet", "rnet", "onet")
# Input shape per net without the batch axis; None = any size.
INPUT_SHAPES = {"pnet": (None, None, 3), "rnet": (24, 24, 3), "onet": (48, 48, 3)}
# Output names by their last dimension: unambiguous within every net.
OUTPUT_KINDS = {4: "box_regression", 10: "landmarks", 2: "face_probability"}
SIDECAR = "mtcnn_nets.json"


def load_keras_nets() -> dict:
    """The mtcnn package's three nets, weights loaded, wrapped as functional Keras models."""
    tf = import_tf()  # first: mtcnn imports TensorFlow itself
    from mtcnn.network.onet import ONet
    from mtcnn.network.pnet import PNet
    from mtcnn.network.rnet import RNet
    from mtcnn.utils.tensorflow import load_weights

    models = {}
    for name, cls in (("pnet", PNet), ("rnet", RNet), ("onet", ONet)):
        net = cls()
        net.build()
        net.set_weights(load_weights(f"{name}.lz4"))
        # The converters need a functional model with a declared input signature; the
        # package's subclassed models only have one after being called.
        inp = tf.keras.Input(shape=INPUT_SHAPES[name], batch_size=None, name="input", dtype="float32")
        outs = net(inp)
        models[name] = tf.keras.Model(inp, list(outs), name=name)
    return models


def to_tflite(model, name: str) -> bytes:
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = []
    data = conv.convert()
    if name == "pnet":
        data = with_default_input_shape(data, (1, PNET_MIN_SIDE, PNET_MIN_SIDE, 3))
    return data


# P-Net's smallest input that yields one output cell.
PNET_MIN_SIDE = 12


def with_default_input_shape(data: bytes, shape: tuple) -> bytes:
    """Give a dynamic-shape TFLite model a usable default input shape; the signature stays dynamic.

    The converter writes 1 for every unknown dimension, so an interpreter that allocates
    right after loading plans P-Net for a 1x1 image, which XNNPack refuses to prepare.
    """
    from tensorflow.lite.tools import flatbuffer_utils as fbu

    model = fbu.convert_bytearray_to_object(bytearray(data))
    graph = model.subgraphs[0]
    for index in graph.inputs:
        graph.tensors[index].shape = np.asarray(shape, dtype=np.int32)
    return bytes(fbu.convert_object_to_bytearray(model))


def to_onnx(model, name: str) -> bytes:
    import tensorflow as tf
    import tf2onnx

    shape = (None,) + INPUT_SHAPES[name]
    spec = (tf.TensorSpec(shape, tf.float32, name="input"),)
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=13)
    return proto.SerializeToString()


# One converter per runtime kind of the formats table.
CONVERTERS = {"tflite": to_tflite, "onnx": to_onnx}


def sample_inputs(name: str, seed: int = 0) -> list[np.ndarray]:
    """Inputs to compare converted nets on: noise plus smooth face-like gradients, in [-1, 1]."""
    rng = np.random.default_rng(seed)
    if name == "pnet":
        shapes = [(1, 12, 12, 3), (1, 97, 131, 3), (1, 240, 320, 3)]
    else:
        side = INPUT_SHAPES[name][0]
        shapes = [(1, side, side, 3), (17, side, side, 3)]
    out = []
    for s in shapes:
        noise = rng.uniform(-1, 1, s)
        yy, xx = np.meshgrid(np.linspace(-1, 1, s[1]), np.linspace(-1, 1, s[2]), indexing="ij")
        blob = np.exp(-(xx**2 + yy**2) * 3)[None, :, :, None] * 1.6 - 0.8
        out.append(np.clip(0.3 * noise + blob, -1, 1).astype(np.float32))
    return out


@dataclass
class NetParity:
    net: str
    format: str
    max_abs_diff: dict = field(default_factory=dict)  # output kind -> largest |converted - keras|

    @property
    def worst(self) -> float:
        return max(self.max_abs_diff.values()) if self.max_abs_diff else float("nan")


def by_kind(outputs: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {OUTPUT_KINDS[int(o.shape[-1])]: o for o in outputs}


def net_parity(out_dir: Path, models: dict | None = None,
               formats: Optional[Sequence[ExportFormat]] = None) -> list[NetParity]:
    """Largest output difference of each converted net vs the Keras original."""
    models = models or load_keras_nets()
    formats = formats or formats_in_order(MTCNN_NET_FORMATS)
    results = []
    for name in NETS:
        for fmt in formats:
            path = Path(out_dir) / f"{name}.{fmt.runtime}"
            report = NetParity(name, fmt.runtime)
            # The table's first backend: litert, never tflite-runtime, which crashes in a
            # process that imported TF.
            with open_model(path, fmt.backends[0], threads=1) as runner:
                for x in sample_inputs(name):
                    want = by_kind([np.asarray(o) for o in models[name](x, training=False)])
                    got = by_kind(runner.run(x))
                    for kind, ref in want.items():
                        diff = float(np.max(np.abs(got[kind] - ref)))
                        report.max_abs_diff[kind] = max(report.max_abs_diff.get(kind, 0.0), diff)
            results.append(report)
    return results


def export_nets(out_dir: Path, formats: Optional[Sequence[ExportFormat]] = None) -> dict:
    """Convert and write all nets (atomically); returns the sidecar dict that was written."""
    from importlib.metadata import version

    out_dir = Path(out_dir)
    formats = formats or formats_in_order(MTCNN_NET_FORMATS)
    models = load_keras_nets()  # first: without TensorFlow, no empty --out folder is left behind
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in NETS:
        for fmt in formats:
            data = CONVERTERS[fmt.runtime](models[name], name)
            target = out_dir / f"{name}.{fmt.runtime}"
            with atomic_path(target) as tmp:
                tmp.write_bytes(data)
                tmp.chmod(0o644)  # mkstemp makes 0600 files; shipped nets must be readable by all
            files[target.name] = {"sha256": file_sha256(target), "bytes": target.stat().st_size}
            print(f"wrote {target} ({len(data) / 1024:.0f} KiB)")
    parity = net_parity(out_dir, models, formats)
    sidecar = {
        "source": f"mtcnn {version('mtcnn')} (MIT licence, weights by Iván de Paz Centeno)",
        "input": "float32 NHWC RGB, (pixel - 127.5) / 128",
        "outputs": {
            "pnet": ["box_regression (N,h,w,4)", "face_probability (N,h,w,2)"],
            "rnet": ["box_regression (N,4)", "face_probability (N,2)"],
            "onet": ["box_regression (N,4)", "landmarks (N,10) x1..x5,y1..y5", "face_probability (N,2)"],
        },
        "files": files,
        "parity_max_abs_diff": {f"{p.net}.{p.format}": p.max_abs_diff for p in parity},
    }
    with atomic_path(out_dir / SIDECAR) as tmp:
        tmp.write_text(dumps(sidecar, indent=2) + "\n")
        tmp.chmod(0o644)
    return sidecar


def parity_table(parity: list[NetParity]) -> str:
    lines = ["| net | format | box_regression | landmarks | face_probability |", "|---|---|---|---|---|"]
    for p in parity:
        cells = [f"{p.max_abs_diff[k]:.2e}" if k in p.max_abs_diff else "-" for k in OUTPUT_KINDS.values()]
        lines.append(f"| {p.net} | {p.format} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m fakeface.export.mtcnn_nets``: ``fakeface export mtcnn-nets`` under its older name."""
    from fakeface.edge.cli import main as fakeface_main

    return fakeface_main(["export", "mtcnn-nets", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
