"""Keras -> TFLite: fp32, fp16, dynamic-range, and full-int8 with float or int8 I/O.

Only ``TFLiteConverter.from_keras_model`` is used: ``from_concrete_functions`` silently
produces broken files with Keras 3.  The model converted outputs the logit
(export/logit.py); the int8 (float I/O) file keeps its logit layer in float through the
same denylist as ``--float-layers`` (:func:`selective_int8`), and is then checked to be
integer everywhere else (:func:`require_integer_only`).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from fakeface.edge.atomic import write_bytes_atomic
from fakeface.edge.native_stderr import native_stderr_filtered

from .tf_import import import_tf


# What the converter's C++ side prints on every int8 conversion, and the absl preamble.
CONVERTER_CHATTER = ("fully_quantize:", "inference_type:", "All log messages before absl::InitializeLog()",
                     "Estimated count of arithmetic ops", "Skipping tensor", "TF_ENABLE_ONEDNN_OPTS")


@contextlib.contextmanager
def converter_quiet():
    """Around anything that converts or quantises: no Keras "Saved artifact at..." printout,
    no converter warnings and none of the converter's native chatter (other native lines
    still reach stderr)."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), \
            native_stderr_filtered(CONVERTER_CHATTER):
        warnings.simplefilter("ignore")
        yield


def convert_quietly(conv) -> bytes:
    """``conv.convert()`` under :func:`converter_quiet`."""
    with converter_quiet():
        return conv.convert()


def _converter(job):
    tf = import_tf()
    return tf.lite.TFLiteConverter.from_keras_model(job.model)


def representative_dataset(crops):
    """The converter's calibration feed: one real crop at a time, float32 RGB 0..255."""

    def gen():
        for i in range(len(crops)):
            yield [crops[i : i + 1]]

    return gen


def export_fp32(job, dest: Path, float_layers: Sequence[str]) -> list:
    write_bytes_atomic(dest, convert_quietly(_converter(job)))
    return []


def export_fp16(job, dest: Path, float_layers: Sequence[str]) -> list:
    tf = import_tf()
    conv = _converter(job)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.target_spec.supported_types = [tf.float16]
    write_bytes_atomic(dest, convert_quietly(conv))
    return []


def export_dynamic(job, dest: Path, float_layers: Sequence[str]) -> list:
    tf = import_tf()
    conv = _converter(job)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    write_bytes_atomic(dest, convert_quietly(conv))
    return []


def int8_converter(job, crops=None):
    """A converter set up for int8 calibration on real crops (no op restriction yet)."""
    tf = import_tf()
    conv = _converter(job)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative_dataset(job.calib if crops is None else crops)
    return conv


def _export_full_int8(job, dest: Path, float_layers: Sequence[str], int8_io: bool) -> list:
    tf = import_tf()
    if float_layers:
        data, kept = selective_int8(job, float_layers, int8_io)
        if list(float_layers) == [job.logit_layer]:
            # Only the logit layer was asked for in float: the rest must be as integer as
            # TFLITE_BUILTINS_INT8 makes it below, or the export fails loudly as it does.
            require_integer_only(data, kept)
        write_bytes_atomic(dest, data)
        return kept
    conv = int8_converter(job)
    # Integer-only kernels: conversion fails loudly instead of silently leaving float ops.
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    write_bytes_atomic(dest, convert_quietly(conv))
    return []


def export_int8(job, dest: Path, float_layers: Sequence[str]) -> list:
    return _export_full_int8(job, dest, float_layers, int8_io=False)


def export_int8_io(job, dest: Path, float_layers: Sequence[str]) -> list:
    return _export_full_int8(job, dest, float_layers, int8_io=True)


def op_output_names(model_content: bytes) -> list[str]:
    """Output tensor names of every op: the names the debugger's denylisted_nodes takes."""
    tf = import_tf()
    interp = tf.lite.Interpreter(model_content=model_content)
    tensors = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    names = []
    for op in interp._get_ops_details():  # no public API lists op outputs
        names += [tensors[i] for i in op["outputs"] if i in tensors]
    return names


def require_integer_only(model_content: bytes, float_outputs: Sequence[str]) -> None:
    """Raise unless every op computes in int8, except DEQUANTIZE and the ops writing ``float_outputs``."""
    from .errors import ExportError

    tf = import_tf()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(model_content=model_content)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    for op in interp._get_ops_details():  # no public API lists ops
        outs = [tensors[i] for i in op["outputs"] if i in tensors]
        stray = [t["name"] for t in outs if t["dtype"] == np.float32 and t["name"] not in float_outputs]
        if stray and op["op_name"] != "DEQUANTIZE":
            raise ExportError(f"{op['op_name']} writing {stray[0]} stayed in float; only the logit layer may")


def model_output_names(model_content: bytes) -> list[str]:
    """Names of the model's output tensors.  The op producing the logit writes the model's
    output, which the converter names after the traced call ("StatefulPartitionedCall_1:0"),
    not after the Keras layer, so the logit layer is found by this name instead."""
    tf = import_tf()
    return [d["name"] for d in tf.lite.Interpreter(model_content=model_content).get_output_details()]


def float_node_names(job, calibrated: bytes, float_layers: Sequence[str]) -> list[str]:
    """The op output names of ``float_layers`` in the calibrated model; the job's logit layer
    (export/logit.py) is the op writing the model's output."""
    from .layer_names import keras_layer_names, match_layer_names

    names = match_layer_names(float_layers, op_output_names(calibrated), keras_layer_names(job.model))
    if job.logit_layer and job.logit_layer in float_layers:
        names += [n for n in model_output_names(calibrated) if n not in names]
    return names


def selective_int8(job, float_layers: Sequence[str], int8_io: bool) -> tuple[bytes, list]:
    """Quantise everything except the named layers, via the quantization debugger.

    ``tf.lite.experimental.QuantizationDebugger`` re-quantises the calibrated model with
    ``denylisted_nodes`` left in float; ``fully_quantize`` makes the I/O int8 too.
    """
    from .errors import ExportError

    tf = import_tf()
    conv = int8_converter(job)
    with converter_quiet():
        debugger = tf.lite.experimental.QuantizationDebugger(
            converter=conv, debug_dataset=representative_dataset(job.calib[:1])
        )
        names = float_node_names(job, debugger.calibrated_model, float_layers)
    if not names:
        raise ExportError(f"--float-layers {','.join(float_layers)} matches no layer of this TFLite model")
    if not int8_io:
        with converter_quiet():  # also the debugger's own tf.lite.Interpreter deprecation notice
            debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names)
            return debugger.get_nondebug_quantized_model(), names
    # The debugger cannot make the I/O int8 (its fully_quantize keeps float I/O), so
    # re-quantise its calibrated model the way TFLiteConverter itself does, with the
    # same denylist plus int8 input/output types.
    from tensorflow.lite.python.convert import mlir_quantize

    with converter_quiet():
        data = mlir_quantize(
            debugger.calibrated_model,
            denylisted_nodes=names,
            input_data_type=tf.int8,
            output_data_type=tf.int8,
        )
    return data, names
