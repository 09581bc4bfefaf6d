"""Keras -> ONNX fp32 (tf2onnx) and ONNX int8 (onnxruntime static QDQ, per-channel)."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Sequence

import numpy as np

from .tf_import import import_tf

INPUT_NAME = "input"
OUTPUT_NAME = "fake_probability"
OPSET = 17


def export_fp32(job, dest: Path, float_layers: Sequence[str]) -> list:
    tf = import_tf()
    import keras
    import tf2onnx

    size = job.contract.input_size
    spec = (tf.TensorSpec((None, size, size, 3), tf.float32, name=INPUT_NAME),)
    # tf2onnx 1.17 looks Keras 3 output names up in the traced function's structured
    # outputs, which only works when they are a dict: wrap the model so they are.
    inp = keras.Input((size, size, 3), name=INPUT_NAME)
    wrapped = keras.Model(inp, {OUTPUT_NAME: job.model(inp)}, name=job.contract.name or "fakeface")
    tmp = dest.with_name(dest.name + ".partial.onnx")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            tf2onnx.convert.from_keras(wrapped, input_signature=spec, opset=OPSET, output_path=str(tmp))
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return []


def float_source(job) -> Path:
    """The fp32 ONNX the int8 model is quantised from, shape-inferred for the quantiser (cached per job)."""
    if "onnx_float" in job.cache:
        return job.cache["onnx_float"]
    raw = job.workdir / "source.fp32.onnx"
    export_fp32(job, raw, ())
    pre = job.workdir / "source.pre.onnx"
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process

        # Folds constants and infers shapes, as onnxruntime recommends before static quantisation.
        quant_pre_process(str(raw), str(pre), skip_symbolic_shape=True)
    except Exception as exc:  # pre-processing is an optimisation; the raw graph quantises too
        import sys  # ...but it is another graph that gets quantised, so say so

        reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        print(f"fakeface export: onnxruntime's quant_pre_process failed ({reason}); quantising the graph "
              "without its constant folding and shape inference", file=sys.stderr)
        pre = raw
    job.cache["onnx_float"] = pre
    return pre


def crop_reader(crops: np.ndarray, input_name: str):
    """A ``CalibrationDataReader`` over real crops, one at a time."""
    from onnxruntime.quantization import CalibrationDataReader

    class CropReader(CalibrationDataReader):
        def __init__(self):
            self._i = 0

        def get_next(self):
            if self._i >= len(crops):
                return None
            self._i += 1
            return {input_name: crops[self._i - 1 : self._i]}

        def rewind(self):
            self._i = 0

    return CropReader()


def node_names(path: Path) -> list[str]:
    import onnx

    return [n.name for n in onnx.load(str(path)).graph.node]


def input_name(path: Path) -> str:
    import onnx

    return onnx.load(str(path)).graph.input[0].name


def export_int8(job, dest: Path, float_layers: Sequence[str]) -> list:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from .errors import ExportError
    from .layer_names import keras_layer_names, match_layer_names

    src = float_source(job)
    exclude = []
    if float_layers:
        exclude = match_layer_names(float_layers, node_names(src), keras_layer_names(job.model))
        if not exclude:
            raise ExportError(f"--float-layers {','.join(float_layers)} matches no node of this ONNX model")
    tmp = dest.with_name(dest.name + ".partial.onnx")
    try:
        quantize_static(
            str(src),
            str(tmp),
            crop_reader(job.calib, input_name(src)),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude or None,
            calibrate_method=CalibrationMethod.MinMax,
        )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return exclude
