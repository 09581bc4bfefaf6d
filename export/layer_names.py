"""Keras layer names and the names converters give them, so `--float-layers conv2d` finds the
layer in a TFLite or ONNX graph (used by both exporters and the format table's tests)."""

from __future__ import annotations

from typing import Sequence


def keras_layer_names(model) -> list:
    """Names of every layer in call order, nested models' layers included."""
    names = []
    for layer in getattr(model, "layers", []):
        names.append(layer.name)
        names.extend(keras_layer_names(layer))
    return names


def traced_scopes(keras_layers: Sequence[str], components: Sequence[str]) -> dict:
    """Map each Keras layer name to the scope TF's tracing gave it in the converted graph.

    Tracing may rename a layer's scope ("conv2d" -> "conv2d_1", "conv2d_1" -> "conv2d_1_2"),
    so an auto-named layer's scope can equal another layer's name.  Layers and scopes
    both come in call order, so each layer takes the first unclaimed scope that is its
    name, optionally followed by "_<n>" suffixes.
    """
    import re

    scopes = list(dict.fromkeys(components))
    claimed, mapping = set(), {}
    for w in keras_layers:
        pattern = re.compile(re.escape(w) + r"(_\d+)*")
        for c in scopes:
            if c not in claimed and pattern.fullmatch(c):
                mapping[w] = c
                claimed.add(c)
                break
    return mapping


def match_layer_names(wanted: Sequence[str], available: Sequence[str], keras_layers: Sequence[str] = ()) -> list[str]:
    """Names in ``available`` (in graph order) that match a wanted name exactly or as a path component.

    TFLite tensor names and tf2onnx node names carry the Keras layer's scope as a path
    component ("model/conv2d/BiasAdd"), so ``--float-layers conv2d`` works for both
    runtimes (see :func:`traced_scopes` for renamed scopes); full names printed by the
    diagnostics work too.
    """
    import re

    split = [(name, re.split(r"[/;:]", name)) for name in available]
    scope_of = traced_scopes(keras_layers, [c for _, parts in split for c in parts])
    targets = {scope_of.get(w, w) for w in wanted}
    return [name for name, parts in split if name in wanted or targets.intersection(parts)]
