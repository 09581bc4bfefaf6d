"""The model the exporters convert: the Keras classifier with its final sigmoid removed.

Every exported file outputs the pre-sigmoid logit (its sidecar says ``"output": "logit"``)
and the edge runtime applies the sigmoid on the host, in float64.  An int8 file then
keeps p(fake) continuous: its final Dense layer stays in float (see the formats table's
``float_logit``), where a quantised probability output took only 256 values.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Optional


@dataclass(frozen=True)
class ExportSource:
    """What the converters get: ``model`` outputs ``output`` ("logit" or "probability")."""

    model: Any
    output: str
    # The Dense layer that produces the logit (same name as in the Keras model); None
    # when the model could not be cut before its sigmoid and is exported as it is.
    logit_layer: Optional[str] = None


def _sigmoid_head(model):
    """The model's final layer when it is a one-unit Dense with a sigmoid, else None."""
    import keras

    if len(model.outputs) != 1 or not model.layers:
        return None
    head = model.layers[-1]
    if not isinstance(head, keras.layers.Dense) or head.units != 1:
        return None
    if getattr(head.activation, "__name__", None) != "sigmoid":
        return None
    try:
        if head.output is not model.outputs[0]:
            return None
        head.input  # noqa: B018 - raises when the layer was called more than once
    except (AttributeError, ValueError):
        return None
    return head


def logit_source(model, log=print) -> ExportSource:
    """A Keras model computing the logit of ``model``'s sigmoid output, with the same weights.

    The final Dense(1, sigmoid) is replaced by a Dense(1) of the same name, weights and
    bias with a linear activation, called on the same features, so the converters
    (``TFLiteConverter.from_keras_model``, ``tf2onnx.convert.from_keras``) see an ordinary
    Keras model.  A model whose output is not such a layer is exported unchanged, as a
    probability, with a warning.
    """
    import keras

    head = _sigmoid_head(model)
    if head is None:
        log("fakeface export: warning: the model's output is not one Dense unit with a sigmoid; "
            "its files output the probability itself", file=sys.stderr)
        return ExportSource(model, "probability")
    linear = keras.layers.Dense(1, activation=None, use_bias=head.use_bias, name=head.name)
    logit = linear(head.input)
    linear.set_weights(head.get_weights())
    return ExportSource(keras.Model(model.inputs, logit, name=model.name), "logit", head.name)
