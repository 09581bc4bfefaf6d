"""What a port must feed a model file: its input tensor's shape, type and quantisation.

Read from the file itself with the interpreter a phone would use, so an int8-I/O model's
scale and zero point in pipeline.json are the ones baked into the file.
"""

from __future__ import annotations

from pathlib import Path

from fakeface.edge.backends import available_backends

# onnxruntime's type names, as numpy (and TFLite) name them.
ONNX_TYPES = {"tensor(float)": "float32", "tensor(int8)": "int8", "tensor(uint8)": "uint8"}


def _tflite_input(path: Path) -> dict:
    if "litert" in available_backends():
        from ai_edge_litert.interpreter import Interpreter
    else:
        from tflite_runtime.interpreter import Interpreter
    detail = Interpreter(model_path=str(path)).get_input_details()[0]
    scale, zero_point = detail["quantization"]
    return {
        "shape": [int(v) for v in detail["shape_signature"]],
        "dtype": detail["dtype"].__name__,
        "quantization": {"scale": float(scale), "zero_point": int(zero_point)} if scale else None,
    }


def _onnx_input(path: Path) -> dict:
    import onnxruntime as ort

    tensor = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0]
    return {
        "shape": [d if isinstance(d, int) else -1 for d in tensor.shape],
        "dtype": ONNX_TYPES.get(tensor.type, tensor.type),
        # A QDQ model quantises inside the graph: its input stays float.
        "quantization": None,
    }


def model_input(path: Path) -> dict:
    """{shape (-1 = any), dtype, quantization: {scale, zero_point} or None} of the first input."""
    path = Path(path)
    return _onnx_input(path) if path.suffix == ".onnx" else _tflite_input(path)
