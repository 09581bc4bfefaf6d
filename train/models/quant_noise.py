"""Quantisation-noise fine-tuning: teach the float model to give the answer its int8 export gives.

Why: full-int8 TFLite rounds every activation tensor to 256 levels of its calibrated range.
Each rounding is small, but in EfficientNet-Lite0 there are ~50 such tensors in a row, and
their errors add up to a mean |p(fake) change| of about 0.008: enough to flip the label of
the 1-2 % of faces that sit near the threshold, so the int8 file missed the export gate's
99.5 % label agreement although the network was designed for int8.

What: for a short last phase of fine-tuning (``fakeface train --init-from MODEL
--quant-noise 1``), every tensor the converter will quantise gets Gaussian noise with the
standard deviation of its own rounding error, ``step / sqrt(12)``, where ``step`` is the int8
step of the range the converter will calibrate (min/max over training crops, as
``fakeface export --calib`` measures it).  The loss is then only low where the prediction does
not move under that noise, which is the property int8 needs.  The noise layers are Keras'
own ``GaussianNoise``, active only while training; the saved model has none of them.

Measured (train/README.md): on the shipped 10-epoch Lite0, one such epoch (K=1, learning rate
5e-5) left the int8 file's label agreement on the validation split where it was (99.49 %, mean
|dp| 0.0071 against 0.0067), so the error is not the independent rounding noise this models;
per-channel weight rounding and the correlated errors of a deterministic rounding are not in it.

Which tensors: the converter fuses Conv2D -> BatchNormalization -> ReLU6 into one int8 op, so
only the end of each such chain is quantised (a ReLU6, a projection's BatchNormalization, a
residual Add, the pooling).  The model's input is exact (raw pixels) and its output is the
sigmoid's fixed 1/256 grid, so neither gets noise.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from fakeface.edge.errors import FakeFaceError

NOISE_SUFFIX = "_qnoise"
# Layers the converter folds into the op that feeds them (their input is not quantised).
_FUSED_INTO_PREVIOUS = ("BatchNormalization", "ReLU", "Activation")
# Layers whose output is their input at inference, or not a tensor the converter quantises.
_PASS_THROUGH = ("InputLayer", "Dropout", "GaussianNoise")


def _histories(node) -> Iterator[str]:
    """Names of the layers a serialised inbound node reads from (any nesting of args)."""
    if isinstance(node, dict):
        history = node.get("config", {}).get("keras_history") if node.get("class_name") == "__keras_tensor__" else None
        if history:
            yield history[0]
        else:
            for value in node.values():
                yield from _histories(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from _histories(value)


def _histories_of_outputs(entries) -> Iterator[str]:
    """Layer names in a functional config's ``output_layers`` ([name, node, index] entries)."""
    if entries and isinstance(entries[0], str):
        yield entries[0]
    else:
        for entry in entries:
            yield from _histories_of_outputs(entry)


def quantised_tensor_layers(model) -> list[str]:
    """Names of the layers whose output is an int8 tensor of its own after the converter's
    fusion: every layer that feeds something other than a BatchNormalization or activation,
    except pass-through layers and the model's output layer."""
    config = model.get_config()
    kinds = {layer["name"]: layer["class_name"] for layer in config["layers"]}
    consumers: dict[str, list[str]] = {name: [] for name in kinds}
    for layer in config["layers"]:
        for source in set(_histories(layer.get("inbound_nodes", []))):
            consumers.setdefault(source, []).append(layer["name"])
    outputs = set(_histories_of_outputs(config.get("output_layers", [])))
    names = []
    for layer in model.layers:
        if layer.name in outputs or kinds.get(layer.name) in _PASS_THROUGH:
            continue
        after = consumers.get(layer.name, [])
        if after and not all(kinds[c] in _FUSED_INTO_PREVIOUS for c in after):
            names.append(layer.name)
    return names


def calibrated_ranges(model, names: list[str], images: np.ndarray, batch_size: int = 32) -> dict[str, tuple[float, float]]:
    """Min and max of each named layer's output over ``images``: what the converter's
    calibration records for that tensor."""
    import keras

    if len(images) == 0:
        raise FakeFaceError("--quant-noise needs training crops to calibrate the activation ranges")
    probe = keras.Model(model.inputs, [model.get_layer(n).output for n in names])
    lo = np.full(len(names), np.inf)
    hi = np.full(len(names), -np.inf)
    for start in range(0, len(images), batch_size):
        outs = probe([images[start:start + batch_size].astype(np.float32)], training=False)
        for i, out in enumerate(outs if len(names) > 1 else [outs]):
            values = np.asarray(out)
            lo[i] = min(lo[i], float(values.min()))
            hi[i] = max(hi[i], float(values.max()))
    return {n: (float(a), float(b)) for n, a, b in zip(names, lo, hi)}


def rounding_noise_std(low: float, high: float, scale: float = 1.0) -> float:
    """Standard deviation of int8 rounding on the asymmetric range the converter uses
    (it always contains zero): ``scale * step / sqrt(12)``."""
    step = (max(high, 0.0) - min(low, 0.0)) / 255.0
    return scale * step / math.sqrt(12.0)


def with_quantisation_noise(model, stds: dict[str, float]):
    """A model sharing ``model``'s layers (and so its weights) with a GaussianNoise layer after
    each named layer; training it trains ``model``."""
    import keras

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        std = stds.get(layer.name, 0.0)
        return keras.layers.GaussianNoise(std, name=layer.name + NOISE_SUFFIX)(out) if std > 0 else out

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def without_quantisation_noise(model):
    """The model with every noise layer of :func:`with_quantisation_noise` removed (shares
    the remaining layers); a model without any is returned as it is."""
    import keras

    if not any(layer.name.endswith(NOISE_SUFFIX) for layer in model.layers):
        return model

    def call(layer, *args, **kwargs):
        if layer.name.endswith(NOISE_SUFFIX):
            return args[0]
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)


def noise_for_int8(model, images: np.ndarray, scale: float) -> dict[str, float]:
    """Per-layer noise standard deviations for ``model`` calibrated on ``images``."""
    names = quantised_tensor_layers(model)
    ranges = calibrated_ranges(model, names, images)
    return {n: rounding_noise_std(lo, hi, scale) for n, (lo, hi) in ranges.items()}
