"""Float/int8 consistency training: teach the float model to decide as its full-int8 export will.

Why: a full-int8 TFLite file rounds every activation tensor to 256 levels of its calibrated
range.  Each rounding is small, but EfficientNet-Lite0 has 59 such tensors in a row, and their
errors add up to a mean |p(fake) change| of about 0.007: enough to flip the 1-2 % of faces that
sit near the threshold, so the shipped 10-epoch model's int8 file agreed with Keras on 99.27 % of
test labels, under the export gate's 99.5 %.

What: a last, short phase of fine-tuning (``fakeface train --init-from MODEL --int8-consistency
W``, assembled in ``consistency.py``) trains the model together with a second forward path through the *same* layers (so the
same weights) in which every tensor the converter will quantise passes through fake
quantisation: rounding to 8 bits of the range the converter will calibrate (min/max over the
very 512 training crops ``fakeface export --calib CROPS --calib-split train`` calibrates on,
measured again every 50 steps as the weights move), with straight-through gradients inside the
range.  The loss is

    BCE(float) + BCE(int8 path) + W * mean((p_float - p_int8 path)^2)

so both paths stay right and the float model moves to weights where the rounding does not change
its answer.  Only the float model is saved; it has no fake-quantisation layers.

Measured (train/README.md): one epoch at W=200, learning rate 2e-5 from a 10-epoch model moves
test agreement from 99.27 % to 99.64-99.76 % (TFLite) and 99.52-99.76 % (ONNX).  Ranges from 512
*other* training crops made the pass unreliable (99.40 % on one model): min/max is an extreme
statistic, so another set of crops means another rounding than the export's.  An earlier
attempt that added Gaussian noise of the rounding's size instead (independent per element) left
agreement unchanged: the int8 error is deterministic rounding, which only the rounding itself
imitates.

Which tensors: the converter fuses Conv2D -> BatchNormalization -> ReLU6 into one int8 op, so
only the end of each such chain is quantised (a ReLU6, a projection's BatchNormalization, a
residual Add, the pooling).  The model's input is exact (raw pixels) and its output is the
sigmoid's fixed 1/256 grid, so neither is fake-quantised.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from fakeface.edge.errors import FakeFaceError

FAKE_QUANT_SUFFIX = "_fq"
CALIBRATION_CROPS = 512  # as the recipe's `fakeface export --calib-count`
# Steps between two measurements of the int8 ranges (an epoch of the recipe is ~420 steps); a
# measurement over the 512 calibration crops costs about as much as 5 training steps.
REMEASURE_EVERY = 50
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


def range_probe(model, names: list[str]):
    """A model that outputs each named layer's output (sharing ``model``'s weights)."""
    import keras

    return keras.Model(model.inputs, [model.get_layer(n).output for n in names])


def calibrated_ranges(model, names: list[str], images: np.ndarray, batch_size: int = 32,
                      probe=None) -> dict[str, tuple[float, float]]:
    """Min and max of each named layer's output over ``images``: what the converter's
    calibration records for that tensor (``probe``: a ``range_probe`` made once)."""
    if len(images) == 0:
        raise FakeFaceError("--int8-consistency needs training crops to calibrate the activation ranges")
    probe = probe if probe is not None else range_probe(model, names)
    lo = np.full(len(names), np.inf)
    hi = np.full(len(names), -np.inf)
    for start in range(0, len(images), batch_size):
        outs = probe([images[start:start + batch_size].astype(np.float32)], training=False)
        for i, out in enumerate(outs if len(names) > 1 else [outs]):
            values = np.asarray(out)
            lo[i] = min(lo[i], float(values.min()))
            hi[i] = max(hi[i], float(values.max()))
    return {n: (float(a), float(b)) for n, a, b in zip(names, lo, hi)}


def _fake_quant_layer(keras, low: float, high: float, name: str):
    import tensorflow as tf

    class FakeQuant(keras.layers.Layer):
        """Round to 8 bits of [low, high] as the converter's asymmetric int8 does (the range is
        widened to hold zero); the gradient passes straight through inside the range.  The range
        lives in two non-trainable weights, so it can be measured again as the weights move."""

        def build(self, input_shape):
            self.low = self.add_weight(shape=(), initializer=keras.initializers.Constant(min(low, 0.0)),
                                       trainable=False, name="low")
            self.high = self.add_weight(shape=(), initializer=keras.initializers.Constant(max(high, 0.0)),
                                        trainable=False, name="high")

        def set_range(self, new_low: float, new_high: float) -> None:
            self.low.assign(min(new_low, 0.0))
            self.high.assign(max(new_high, 0.0))

        def call(self, x):
            return tf.quantization.fake_quant_with_min_max_vars(x, self.low, self.high, num_bits=8)

    return FakeQuant(name=name)


def with_fake_quantisation(model, ranges: dict[str, tuple[float, float]]):
    """A model sharing ``model``'s layers (and so its weights) with fake quantisation after each
    layer named in ``ranges``; training it trains ``model``."""
    import keras

    def call(layer, *args, **kwargs):
        out = layer(*args, **kwargs)
        if layer.name in ranges:
            low, high = ranges[layer.name]
            return _fake_quant_layer(keras, low, high, layer.name + FAKE_QUANT_SUFFIX)(out)
        return out

    quantised = keras.models.clone_model(model, clone_function=lambda layer: layer, call_function=call)
    quantised.name = f"{model.name}_int8_path"  # two nested models of one name cannot share a graph
    return quantised


def fake_quant_layers(quantised) -> dict[str, object]:
    """The fake-quantisation layers of ``with_fake_quantisation``'s model, by the layer they follow."""
    return {layer.name[:-len(FAKE_QUANT_SUFFIX)]: layer for layer in quantised.layers
            if layer.name.endswith(FAKE_QUANT_SUFFIX)}


class RangeTracker:
    """Keeps the int8 path's ranges equal to what the export would calibrate *now*.

    The export measures each tensor's min/max on the calibration crops with the final weights;
    ranges measured once before the phase drift from those as the weights move, and the phase
    then teaches the model to be robust to a rounding the export will not use.  ``remeasure()``
    runs the float model over the same calibration crops again and moves every range there."""

    def __init__(self, model, quantised, names: list[str], calibration: np.ndarray):
        self.model, self.names, self.calibration = model, names, calibration
        self.layers = fake_quant_layers(quantised)
        self.probe = range_probe(model, names)
        self.measured = 0

    def remeasure(self) -> float:
        """Measure and set the ranges; returns the largest change of a range end, relative to
        that tensor's range."""
        ranges = calibrated_ranges(self.model, self.names, self.calibration, probe=self.probe)
        largest = 0.0
        for name, (low, high) in ranges.items():
            layer = self.layers[name]
            old_low, old_high = float(layer.low.numpy()), float(layer.high.numpy())
            layer.set_range(low, high)
            span = max(old_high - old_low, 1e-12)
            largest = max(largest, abs(min(low, 0.0) - old_low) / span, abs(max(high, 0.0) - old_high) / span)
        self.measured += 1
        return largest

    def callback(self, keras, every: int, verbose: bool = False):
        """A Keras callback that re-measures the ranges every ``every`` training steps."""
        tracker = self

        class RemeasureRanges(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.steps = 0

            def on_train_batch_end(self, batch, logs=None):
                self.steps += 1
                if every and self.steps % every == 0:
                    change = tracker.remeasure()
                    if verbose:
                        print(f"\ntrain: int8 ranges re-measured after {self.steps} steps "
                              f"(largest move {change:.1%} of a range)", flush=True)

        return RemeasureRanges()


def int8_path(model, calibration: np.ndarray):
    """(fake-quantised copy of ``model`` sharing its weights, number of fake-quantised tensors,
    range tracker), with ranges measured on ``calibration``."""
    names = quantised_tensor_layers(model)
    if not names:
        raise FakeFaceError(f"--int8-consistency: {model.name} has no tensor an int8 export would quantise")
    quantised = with_fake_quantisation(model, calibrated_ranges(model, names, calibration))
    return quantised, len(names), RangeTracker(model, quantised, names, calibration)
