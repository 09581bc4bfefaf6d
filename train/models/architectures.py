"""Model architectures, each with its training recipe.

Every model takes RGB pixels as float32 0..255 (NHWC) and returns one sigmoid:
the probability that the face is fake.  Scaling to the network's range happens inside
the model (a Rescaling layer), so TFLite and ONNX exports take the same raw pixels.
Only built-in Keras layers are used, so models load with ``safe_mode=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .arch_compact import build_compact_m, build_compact_q, build_compact_s
from .efficientnet_lite import MULTI_TAPS, build_lite0_classifier


@dataclass(frozen=True)
class Recipe:
    """How an architecture is trained by default."""

    epochs: int = 8
    batch_size: int = 32
    learning_rate: float = 1e-3
    schedule: str = "constant"  # "constant" or "cosine" (with a short warm-up)
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    description: str = ""
    # ImageNet-initialised backbone: BatchNorm statistics frozen, and the head fitted on
    # cached features (linear probe) before the whole network is fine-tuned.
    pretrained: bool = False


# -- fixed high-pass filters -----------------------------------------------------------
def srm_kernels() -> np.ndarray:
    """Three classic steganalysis residual filters (Fridrich & Kodovsky's SRM family), 5x5.

    They remove image content and keep the pixel-level noise residual, where GAN
    up-sampling leaves its traces; a plain CNN's first layer tends to learn content
    instead.  Returns shape (5, 5, 3).
    """
    kv = np.array([[-1, 2, -2, 2, -1],
                   [2, -6, 8, -6, 2],
                   [-2, 8, -12, 8, -2],
                   [2, -6, 8, -6, 2],
                   [-1, 2, -2, 2, -1]], np.float32) / 12.0
    second = np.zeros((5, 5), np.float32)
    second[1:4, 1:4] = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]], np.float32) / 4.0
    first = np.zeros((5, 5), np.float32)
    first[2, 1:4] = np.array([1, -2, 1], np.float32) / 2.0
    return np.stack([kv, second, first], axis=-1)


def _high_pass(keras, x, name: str):
    """Apply the SRM filters to each colour channel: a frozen DepthwiseConv2D, 3 -> 9 maps.

    Built from a stock layer with its weights set once and never trained, so the saved
    model needs no custom code.  Residuals are ~1/20 of the input range; the
    BatchNormalization that follows brings them to unit scale.
    """
    layer = keras.layers.DepthwiseConv2D(5, padding="same", depth_multiplier=3, use_bias=False,
                                         trainable=False, name=name)
    y = layer(x)
    k = srm_kernels()  # (5,5,3): one bank per input channel
    w = np.repeat(k[:, :, None, :], 3, axis=2)  # (5,5,in=3,mult=3)
    layer.set_weights([w.astype(np.float32)])
    return y


# -- architectures ---------------------------------------------------------------------
def build_seed(input_size: int):
    """The reference article's CNN: 3x (Conv2D 32/64/128 + MaxPool), Flatten, Dense(sigmoid)."""
    import keras

    inp = keras.Input((input_size, input_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(inp)
    for filters in (32, 64, 128):
        x = keras.layers.Conv2D(filters, 3, activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inp, out, name="seed")


def _conv_bn(keras, x, filters, kernel=3, strides=1, name=None):
    x = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(name=None if name is None else name + "_bn")(x)
    return keras.layers.ReLU(name=None if name is None else name + "_relu")(x)


def _sep_block(keras, x, filters, strides, name):
    """Depthwise-separable residual block: cheap on phone CPUs and int8-friendly (ReLU, BN folds)."""
    shortcut = x
    y = keras.layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=name + "_dw1")(x)
    y = keras.layers.BatchNormalization(name=name + "_dw1_bn")(y)
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name=name + "_pw1")(y)
    y = keras.layers.BatchNormalization(name=name + "_pw1_bn")(y)
    y = keras.layers.ReLU(name=name + "_relu1")(y)
    y = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=name + "_dw2")(y)
    y = keras.layers.BatchNormalization(name=name + "_dw2_bn")(y)
    y = keras.layers.Conv2D(filters, 1, use_bias=False, name=name + "_pw2")(y)
    y = keras.layers.BatchNormalization(name=name + "_pw2_bn")(y)
    if strides != 1 or shortcut.shape[-1] != filters:
        shortcut = keras.layers.Conv2D(filters, 1, strides=strides, use_bias=False, name=name + "_proj")(shortcut)
        shortcut = keras.layers.BatchNormalization(name=name + "_proj_bn")(shortcut)
    y = keras.layers.Add(name=name + "_add")([y, shortcut])
    return keras.layers.ReLU(name=name + "_out")(y)


def build_srm(input_size: int, widths=(32, 48, 96, 160), stem=0):
    """SRM residuals + RGB, a full-resolution stem, separable residual stages, GAP.

    Why this shape: the traces that tell StyleGAN faces from their FFHQ twins are in
    the highest frequencies, so the fixed residual filters run at full crop resolution
    and the first learned conv sees them before any pooling (a stride-2 conv, not a
    pool: a full-resolution stem conv doubled training time on 2 cores for no gain we
    could measure in time), and global average pooling turns the last feature maps
    into texture statistics instead of a face layout to memorise.
    """
    import keras

    inp = keras.Input((input_size, input_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inp)
    hp = _high_pass(keras, x, "srm")
    hp = keras.layers.BatchNormalization(name="srm_bn")(hp)
    x = keras.layers.Concatenate(name="rgb_and_residual")([x, hp])
    if stem:
        x = _conv_bn(keras, x, stem, 3, 1, name="stem1")
    x = _conv_bn(keras, x, widths[0], 3, 2, name="stem2")
    for i, w in enumerate(widths[1:]):
        x = _sep_block(keras, x, w, 2, name=f"stage{i + 1}")
    x = _sep_block(keras, x, widths[-1], 1, name=f"stage{len(widths)}")
    x = keras.layers.GlobalAveragePooling2D(name="texture_pool")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inp, out, name="fakeface_default")


def build_tiny(input_size: int):
    """A few thousand weights: for tests and examples that need a real model in seconds."""
    import keras

    inp = keras.Input((input_size, input_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")(inp)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    return keras.Model(inp, out, name="tiny")


LITE0_RECIPE = Recipe(epochs=10, batch_size=32, learning_rate=2e-4, schedule="cosine", weight_decay=1e-5,
                      pretrained=True,
                      description="ImageNet EfficientNet-Lite0 (16 MBConv blocks + 1280-channel head), GAP, "
                                  "dropout, Dense")

ARCHITECTURES: dict[str, tuple[Callable, Recipe]] = {
    "seed": (build_seed, Recipe(epochs=8, batch_size=32, learning_rate=1e-3, schedule="constant",
                                description="reference: 3x(Conv2D 32/64/128 + MaxPool), Flatten, Dense")),
    # The shipped model: picked on validation for accuracy within the edge budget
    # (~14M MACs at 96 px, ~0.35 ms int8 on one x86 core); see train/README.md.
    "compact_q": (build_compact_q, Recipe(epochs=8, batch_size=64, learning_rate=3e-3, schedule="cosine",
                                        weight_decay=1e-4, label_smoothing=0.0,
                                        description="compact_q: high-pass-initialised 3x3/2 stem, separable "
                                                    "residual stages, a 3x3 conv at 6x6, ReLU6, GAP; "
                                                    "~14M MACs at 96 px")),
    "compact_s": (build_compact_s, Recipe(epochs=15, batch_size=64, learning_rate=3e-3, schedule="cosine",
                                          weight_decay=1e-4, label_smoothing=0.0,
                                          description="compact_q without ReLU6 and the 6x6 conv (8.7M MACs); "
                                                      "its int8 export fails the gate")),
    "compact_m": (build_compact_m, Recipe(epochs=8, batch_size=64, learning_rate=3e-3, schedule="cosine",
                                          weight_decay=5e-5,
                                          description="wider compact (17.3M MACs): no better on validation")),
    "srm": (build_srm, Recipe(epochs=8, batch_size=32, learning_rate=3e-3, schedule="cosine",
                                  weight_decay=1e-4, label_smoothing=0.0,
                                  description="frozen SRM residuals + RGB, separable residual stages, GAP "
                                              "(20.4M MACs; its int8 export fails the parity gate)")),
    # ImageNet EfficientNet-Lite0 (efficientnet_lite.py), linear probe then fine-tuning.
    "lite0": (build_lite0_classifier, LITE0_RECIPE),
    "lite0_multi": (lambda size: build_lite0_classifier(size, taps=MULTI_TAPS),
                    replace(LITE0_RECIPE, description="lite0 whose head also reads the pooled outputs of blocks "
                                                      "4, 7, 10 and 14 (40 + 80 + 112 + 192 + 1280 features)")),
    # lite0 that sees only a fixed face oval of its crop, the backdrop greyed (face_oval.py): for
    # both classes, so a plain studio wall cannot stand for "fake" (issue 28).  Built for the
    # crops' own margin, which build_model passes in.
    "lite0_oval": (lambda size, crop_margin=0.1: build_lite0_classifier(size, oval_margin=crop_margin),
                   replace(LITE0_RECIPE, description="lite0 on a fixed face oval, the backdrop outside it grey")),
    "lite0_b11": (lambda size: build_lite0_classifier(size, blocks=11),
                  Recipe(epochs=6, batch_size=32, learning_rate=2e-4, schedule="cosine", weight_decay=1e-5,
                         pretrained=True,
                         description="ImageNet EfficientNet-Lite0 cut after block 11 (112 channels, "
                                     "stride 16), GAP, dropout, Dense")),
    "tiny": (build_tiny, Recipe(epochs=2, batch_size=16, learning_rate=3e-3, schedule="constant",
                                description="2 convs + GAP, for tests")),
}
# The shipped model's architecture, chosen on validation with `evaluate --compare` (train/README.md).
DEFAULT_ARCH = "lite0"


# Architectures whose layers depend on the crop geometry: built with the crops' margin.
NEEDS_CROP_MARGIN = frozenset({"lite0_oval"})


def build_model(arch: str, input_size: int, crop_margin: float = 0.1):
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(sorted(ARCHITECTURES))}")
    if arch in NEEDS_CROP_MARGIN:
        return ARCHITECTURES[arch][0](input_size, crop_margin=crop_margin)
    return ARCHITECTURES[arch][0](input_size)


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass, from the conv and dense layers' shapes."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)):
            out_shape = layer.output.shape
            spatial = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
            # Every kernel element is one multiply-add per output position: (kh, kw, in, out)
            # for Conv2D, (kh, kw, in, multiplier) for DepthwiseConv2D, (in, out) for Dense.
            total += spatial * int(np.prod(layer.get_weights()[0].shape))
    return total
