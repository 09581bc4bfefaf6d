"""Per-layer quantisation diagnostics for int8 formats that fail the parity gate.

TFLite: ``tf.lite.experimental.QuantizationDebugger`` runs the model with numeric
verification ops and reports, per quantised layer, the error between its float and
dequantised outputs.  We rank layers by RMSE divided by the layer's quantisation
scale: uniform rounding alone gives about 0.29 (1/sqrt(12)); much more means the
layer's range is badly served by int8 (outliers, wide ranges), so it is a candidate
to keep in float.

ONNX: ``onnxruntime.quantization.qdq_loss_debug`` saves every activation of the
float and the QDQ model on the same crops; we rank by the signal-to-quantisation-noise
ratio (dB) between them, lowest first.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .tf_import import import_tf

# Diagnostics run on at most this many calibration crops: enough to rank layers.
DEBUG_CROPS = 48


@dataclass
class LayerLoss:
    name: str  # TFLite output tensor name / ONNX node name: what --float-layers accepts
    op: str
    metric: str
    value: float

    def to_dict(self) -> dict:
        return asdict(self)


def diagnose(fmt, job, staged: Path) -> list[LayerLoss]:
    """Worst layers first.  ``fmt`` is an ExportFormat with needs_calibration."""
    crops = job.calib[:DEBUG_CROPS]
    if staged.suffix == ".onnx":
        return onnx_layer_losses(job, staged, crops)
    return tflite_layer_losses(job, crops)


def tflite_layer_losses(job, crops: np.ndarray) -> list[LayerLoss]:
    from .tflite_export import converter_quiet, int8_converter, representative_dataset

    tf = import_tf()
    conv = int8_converter(job)
    with converter_quiet():
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=representative_dataset(crops)
        )
        debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    buf.seek(0)
    losses = []
    for rec in csv.DictReader(buf):
        scale = float(rec.get("scale") or 0.0)
        mse = float(rec.get("mean_squared_error") or 0.0)
        value = math.sqrt(max(mse, 0.0)) / scale if scale > 0 else float("inf")
        losses.append(LayerLoss(rec["tensor_name"], rec["op_name"], "rmse/scale", value))
    losses.sort(key=lambda l: -l.value)
    return losses


def onnx_layer_losses(job, qdq_path: Path, crops: np.ndarray) -> list[LayerLoss]:
    import onnx
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    from .onnx_export import crop_reader, float_source, input_name

    float_path = float_source(job)
    work = job.workdir
    aug_float, aug_qdq = work / "debug.float.onnx", work / "debug.qdq.onnx"
    modify_model_output_intermediate_tensors(str(float_path), str(aug_float))
    modify_model_output_intermediate_tensors(str(qdq_path), str(aug_qdq))
    name = input_name(float_path)
    float_acts = collect_activations(str(aug_float), crop_reader(crops, name))
    qdq_acts = collect_activations(str(aug_qdq), crop_reader(crops, name))
    errors = compute_activation_error(create_activation_matching(qdq_acts, float_acts))
    producer = {}
    for node in onnx.load(str(float_path)).graph.node:
        for out in node.output:
            producer[out] = node
    losses, seen = [], set()
    for tensor, err in errors.items():
        node = producer.get(tensor)
        if node is None or node.name in seen or "xmodel_err" not in err:
            continue
        seen.add(node.name)
        losses.append(LayerLoss(node.name, node.op_type, "SQNR dB", float(err["xmodel_err"])))
    losses.sort(key=lambda l: l.value)
    return losses


def worst_layer_names(losses: list[LayerLoss], k: int) -> list[str]:
    return [l.name for l in losses[:k]]
