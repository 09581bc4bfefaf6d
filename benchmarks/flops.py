"""Model cost: multiply-accumulates counted from the model graph itself, at a given input size.

Only the layers that dominate a CNN's work are counted (convolutions, depthwise and
transposed convolutions, fully connected and batch matmul); activations, pooling and
element-wise ops are a rounding error next to them.  FLOPs = 2 x MACs, the usual
convention, so that achieved GFLOP/s can be set beside a CPU's stated peak.

TFLite files are read with the interpreter's own op list (no TensorFlow, no flatbuffer
schema).  ONNX files are costed through a sibling .tflite exported from the same Keras
model (same graph, other container): onnx, the parser, is not an edge dependency.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import numpy as np


def _interpreter(path: Path):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # legacy images: tflite-runtime only
        from tflite_runtime.interpreter import Interpreter, OpResolverType
    # Without the default XNNPACK delegate the op list stays the original graph,
    # not a few opaque DELEGATE nodes.
    return Interpreter(model_path=str(path),
                       experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def op_macs(op_name: str, inputs: Sequence[Sequence[int]], output: Sequence[int]) -> int:
    """MACs of one TFLite op, from its input shapes (activation, weights, ...) and output shape."""
    out = int(np.prod(output)) if len(output) else 0
    if op_name == "CONV_2D" and len(inputs) >= 2:
        _, kh, kw, cin = inputs[1]  # filter [out_ch, kh, kw, in_ch / groups]
        return out * kh * kw * cin
    if op_name == "DEPTHWISE_CONV_2D" and len(inputs) >= 2:
        _, kh, kw, _ = inputs[1]  # filter [1, kh, kw, out_ch]; one input channel per output
        return out * kh * kw
    if op_name == "FULLY_CONNECTED" and len(inputs) >= 2:
        return out * int(inputs[1][-1])  # weights [units, in_features]
    if op_name == "TRANSPOSE_CONV" and len(inputs) >= 3:
        # inputs: (output_shape, filter [out_ch, kh, kw, in_ch], activation): every input
        # pixel scatters a kh x kw x out_ch patch.
        _, kh, kw, _ = inputs[1]
        return int(np.prod(inputs[2])) * kh * kw * int(inputs[1][0])
    if op_name == "BATCH_MATMUL" and len(inputs) >= 2:
        return out * int(inputs[0][-1])  # (.., M, K) x (.., K, N) -> (.., M, N)
    return 0


def tflite_macs(path: str | os.PathLike, input_shape: Optional[Sequence[int]] = None) -> int:
    """MACs of one inference of a .tflite file; ``input_shape`` for models with dynamic sizes."""
    return _tflite_macs_cached(str(path), tuple(int(v) for v in input_shape) if input_shape else None)


@lru_cache(maxsize=256)
def _tflite_macs_cached(path: str, input_shape: Optional[tuple]) -> int:
    interp = _interpreter(Path(path))
    inp = interp.get_input_details()[0]
    sig = [int(d) for d in inp["shape_signature"]]
    if input_shape is None and any(d < 0 for d in sig[1:]):
        raise ValueError(f"{Path(path).name} takes any image size; give the input shape to count its cost")
    shape = list(input_shape) if input_shape else [1 if d < 0 else d for d in sig]  # batch 1
    if list(inp["shape"]) != shape:
        interp.resize_tensor_input(inp["index"], shape, strict=False)
    interp.allocate_tensors()  # propagates shapes to every intermediate tensor
    shapes = {t["index"]: [int(v) for v in t["shape"]] for t in interp.get_tensor_details()}
    total = 0
    for op in interp._get_ops_details():  # the only public-enough view of the graph
        if op["op_name"] == "DELEGATE":
            continue
        ins = [shapes.get(int(i), []) for i in op["inputs"] if int(i) >= 0]
        outs = [shapes.get(int(i), []) for i in op["outputs"] if int(i) >= 0]
        if outs:
            total += op_macs(op["op_name"], ins, outs[0])
    return total


def _source_hash(model: Path) -> Optional[str]:
    try:
        return json.loads(Path(str(model) + ".json").read_text()).get("source_sha256")
    except (OSError, ValueError, AttributeError):
        return None


def sibling_tflite(onnx_path: Path) -> Optional[Path]:
    """A float .tflite in the same folder made from the same Keras model (or of the same stem)."""
    want = _source_hash(onnx_path)
    stem = onnx_path.name.split(".")[0]
    # Prefer the fp32 twin: its graph has no quantize/dequantize detours.
    candidates = sorted(onnx_path.parent.glob("*.tflite"), key=lambda p: ("fp32" not in p.name, "int8" in p.name, p.name))
    for p in candidates:
        if want and _source_hash(p) == want:
            return p
    for p in candidates:
        if p.name.split(".")[0] == stem:
            return p
    return None


def model_macs(path: str | os.PathLike, input_shape: Optional[Sequence[int]] = None) -> tuple[Optional[int], str]:
    """(MACs, how they were found) for a .tflite or .onnx file; (None, reason) when unknown."""
    path = Path(path)
    try:
        if path.suffix == ".tflite":
            return tflite_macs(path, input_shape), "tflite graph"
        if path.suffix == ".onnx":
            twin = sibling_tflite(path)
            if twin is None:
                return None, "no sibling .tflite of the same model to count from"
            return tflite_macs(twin, input_shape), f"tflite graph of {twin.name}"
    except Exception as exc:  # an unreadable graph must not stop the benchmark
        return None, f"could not read the graph ({' '.join(str(exc).split())[:120]})"
    return None, f"unknown format {path.suffix}"
