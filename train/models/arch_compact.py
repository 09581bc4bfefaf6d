"""A compact real/fake face classifier for the edge budget (about 0.5 ms per face, int8, one thread).

Same interface as the models in ``architectures.py``: RGB float32 0..255 NHWC in,
one sigmoid (probability of fake) out, normalisation inside, built-in Keras layers
only so the file loads with ``safe_mode=True``, and only ops that quantise cleanly
(Conv2D, DepthwiseConv2D, BatchNormalization, ReLU, Add, GlobalAveragePooling2D, Dense).

Where the multiply-adds go: the ``default`` model spends most of its ~64M MACs on
full-resolution layers.  Here the very first layer is a strided 3x3 convolution whose
kernels start as SRM-style high-pass filters (and stay trainable), so the pixel-level
residual where GAN up-sampling leaves its traces is read once at full resolution and
everything after it runs at half resolution or less.  Starting from high-pass filters
rather than random ones costs nothing at inference (they are ordinary weights) but
points the cheap stem at noise instead of face layout from the first step.
"""

from __future__ import annotations

import numpy as np


def high_pass_3x3() -> np.ndarray:
    """Three 3x3 residual filters: SRM's second-order "KV3" square, and the horizontal and
    vertical second differences.  Shape (3, 3, 3); each sums to zero, so flat areas give 0."""
    square = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4.0
    horizontal = np.zeros((3, 3), np.float32)
    horizontal[1] = np.array([1, -2, 1], np.float32) / 2.0
    return np.stack([square, horizontal, horizontal.T], axis=-1)


def _stem_kernel(filters: int, seed: int = 0) -> np.ndarray:
    """A (3, 3, 3, filters) stem kernel: high-pass filters on each colour channel first,
    then the same filters on luminance, and Glorot-uniform random kernels for the rest."""
    rng = np.random.default_rng(seed)
    limit = np.sqrt(6.0 / (9 * 3 + 9 * filters))
    k = rng.uniform(-limit, limit, (3, 3, 3, filters)).astype(np.float32)
    hp = high_pass_3x3()
    # Rescaling maps 0..255 to -1..1, so a residual of a few grey levels is ~0.02: the
    # scale-up brings the high-pass outputs to about the random kernels' range, and the
    # BatchNormalization after the stem sets the final scale anyway.
    gain = 4.0
    j = 0
    for c in range(3):
        for f in range(hp.shape[-1]):
            if j >= filters:
                return k
            k[:, :, :, j] = 0.0
            k[:, :, c, j] = hp[:, :, f] * gain
            j += 1
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    for f in range(hp.shape[-1]):
        if j >= filters:
            return k
        k[:, :, :, j] = hp[:, :, f, None] * luma[None, None, :] * gain
        j += 1
    return k


def _dw_pw(keras, x, filters, strides, name, residual=True, relu_max=None):
    """Depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN, added to the input when the shapes
    match, then ReLU (a MobileNet-v1 block with a shortcut: few ops, all int8-friendly)."""
    y = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=name + "_dw")(x)
    y = keras.layers.BatchNormalization(name=name + "_dw_bn")(y)
    y = keras.layers.ReLU(max_value=relu_max, name=name + "_dw_relu")(y)
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name=name + "_pw")(y)
    y = keras.layers.BatchNormalization(name=name + "_pw_bn")(y)
    if residual and strides == 1 and x.shape[-1] == filters:
        y = keras.layers.Add(name=name + "_add")([y, x])
    return keras.layers.ReLU(max_value=relu_max, name=name + "_relu")(y)


def build_compact(input_size: int, stem: int = 16, widths=(32, 64, 128), blocks=(1, 1, 1),
                  dropout: float = 0.2, high_pass_init: bool = True, name: str = "fakeface_compact",
                  relu_max=None, head_conv: int = 0):
    """Stem conv 3x3/2 (high-pass initialised) -> per stage: one strided separable block that
    widens, then ``blocks[i]`` separable residual blocks -> [a full 3x3 conv of ``head_conv``
    filters] -> global average pool -> Dense(sigmoid).  ``relu_max`` caps every ReLU (6: ReLU6).

    At 96 px with the defaults: about 4M MACs and 30k weights.
    """
    import keras

    inp = keras.Input((input_size, input_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inp)
    conv = keras.layers.Conv2D(stem, 3, strides=2, padding="same", use_bias=False, name="stem")
    x = conv(x)
    if high_pass_init:
        conv.set_weights([_stem_kernel(stem)])
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(max_value=relu_max, name="stem_relu")(x)
    for i, (w, n) in enumerate(zip(widths, blocks)):
        x = _dw_pw(keras, x, w, 2, name=f"stage{i + 1}_down", relu_max=relu_max)
        for b in range(n):
            x = _dw_pw(keras, x, w, 1, name=f"stage{i + 1}_block{b + 1}", relu_max=relu_max)
    if head_conv:
        x = keras.layers.Conv2D(head_conv, 3, padding="same", use_bias=False, name="head_conv")(x)
        x = keras.layers.BatchNormalization(name="head_bn")(x)
        x = keras.layers.ReLU(max_value=relu_max, name="head_relu")(x)
    # Global average pooling turns the last maps into texture statistics rather than a
    # face layout to memorise, and makes the head independent of the input size.
    x = keras.layers.GlobalAveragePooling2D(name="texture_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inp, out, name=name)


def build_compact_s(input_size: int):
    """~8.7M MACs / 58k weights at 96 px; ~0.3 ms per face int8 on one x86 thread."""
    return build_compact(input_size, stem=24, widths=(48, 96, 128), blocks=(2, 1, 1), dropout=0.2,
                         name="fakeface_compact_s")


def build_compact_m(input_size: int):
    """~17M MACs at 96 px; ~0.44 ms per face int8 on one x86 thread (the top of the budget)."""
    return build_compact(input_size, stem=32, widths=(64, 128, 192), blocks=(2, 2, 1), dropout=0.1,
                         name="fakeface_compact_m")


def build_compact_q(input_size: int):
    """compact_s made friendlier to full-int8 and to the int8 file size.

    ReLU6 everywhere bounds every activation, so int8 calibration ranges are not set by a
    few outliers (compact_s's unbounded stem lost most in int8).  A full 3x3 convolution at
    the last, 6 x 6 stage adds capacity where it is cheap in multiply-adds (5.3M) and makes
    dense weights the bulk of the file: depthwise layers carry 24-28 bytes of per-channel
    quantisation parameters for 9 weights per channel, so a mostly-separable net cannot
    shrink to a third of its fp32 size in int8."""
    return build_compact(input_size, stem=24, widths=(48, 96, 128), blocks=(2, 1, 1), dropout=0.2,
                         name="fakeface_compact_q", relu_max=6.0, head_conv=128)
