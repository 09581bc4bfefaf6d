"""Make the first convolution exact in full-int8, then let the rest of the network adapt.

Why: the stem is a high-pass filter bank.  Its weights nearly cancel (they sum to about
zero), so rounding each weight to int8 changes the sum and lets the brightness of the
face leak into a residual that is itself small: in the parity reports the stem lost 5x
more than any other layer (rmse/scale 1.45 against ~0.29, the rounding floor), and with
it the int8 export missed the label-agreement gate.

The converter folds BatchNormalization into the convolution and quantises the folded
kernel per output channel, symmetrically: ``q = round(w_f / s)``, ``s = max|w_f| / 127``.
:func:`snap_stem_to_int8_grid` moves the Keras weights to the nearest kernel whose folded
form is exactly on that grid, so quantisation no longer changes it.  Snapping is the same
rounding the converter would do, so it costs the float model a little too; freezing the
stem and its BatchNormalization and training the other layers for an epoch or two (``fakeface
train --init-from MODEL --int8-stem``) wins that back: quantisation-aware training for the
one layer that needs it, with nothing but stock Keras layers.
"""

from __future__ import annotations

import numpy as np

from fakeface.edge.errors import FakeFaceError

STEM, STEM_BN = "stem", "stem_bn"


def _stem_layers(model):
    try:
        return model.get_layer(STEM), model.get_layer(STEM_BN)
    except ValueError:
        raise FakeFaceError(f"--int8-stem needs a model with a '{STEM}' convolution followed by "
                            f"'{STEM_BN}' (the compact architectures); {model.name} has none") from None


def snap_stem_to_int8_grid(model) -> float:
    """Snap the stem kernel so that its BatchNorm-folded form is exactly int8 per channel.

    Returns the largest change of a folded weight relative to its channel's largest weight
    (at most half an int8 step, 1/254)."""
    return snap_conv_to_int8_grid(*_stem_layers(model))


def snap_conv_to_int8_grid(conv, bn) -> float:
    """Snap a Conv2D or DepthwiseConv2D (depth multiplier 1) followed by ``bn`` so that the
    converter's folded, per-channel int8 kernel represents it exactly (see the module doc);
    returns the largest relative change of a folded weight."""
    import keras

    (kernel,) = conv.get_weights()
    gamma, _beta, _mean, var = bn.get_weights()
    fold = gamma / np.sqrt(var + bn.epsilon)  # per output channel
    depthwise = isinstance(conv, keras.layers.DepthwiseConv2D)
    if depthwise and kernel.shape[-1] != 1:
        raise FakeFaceError(f"{conv.name}: only a depth multiplier of 1 can be snapped")
    # channels last: Conv2D (kh, kw, in, out); depthwise (kh, kw, channels, 1) -> (kh, kw, 1, channels)
    k = np.moveaxis(kernel, 2, 3) if depthwise else kernel
    folded = k * fold
    peak = np.abs(folded).reshape(-1, folded.shape[-1]).max(axis=0)
    step = np.where(peak > 0, peak / 127.0, 1.0)
    snapped = np.round(folded / step) * step
    usable = (peak > 0) & (np.abs(fold) > 1e-12)
    new_k = np.where(usable, snapped / np.where(usable, fold, 1.0), k).astype(kernel.dtype)
    conv.set_weights([np.moveaxis(new_k, 3, 2) if depthwise else new_k])
    change = np.abs(snapped - folded).reshape(-1, folded.shape[-1]).max(axis=0) / np.where(peak > 0, peak, 1.0)
    return float(change[usable].max()) if usable.any() else 0.0


def freeze_stem(model) -> None:
    """Keep the snapped stem as it is: no gradient steps, and BatchNormalization in inference
    mode (its moving statistics are part of the folded kernel)."""
    for layer in _stem_layers(model):
        layer.trainable = False
