"""A really trained tiny classifier, exported to TFLite (fp32 and int8) with contract sidecars.

Shared by the benchmark tests; needs TensorFlow, so callers importorskip it first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

INPUT = 32
# Hand count of the multiply-accumulates of `tiny_model` at a 32x32x3 input:
#   Conv2D 4 filters 3x3, valid:    30*30*4 outputs * (3*3*3)  = 97,200
#   DepthwiseConv2D 3x3, valid:     28*28*4 outputs * (3*3)    = 28,224
#   Dense 4 -> 1:                   1 output * 4               =      4
TINY_MACS = 97_200 + 28_224 + 4


def tiny_model():
    import keras

    return keras.Sequential([
        keras.Input((INPUT, INPUT, 3)),
        keras.layers.Rescaling(1 / 127.5, offset=-1),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.DepthwiseConv2D(3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ])


def build_tiny_models(out_dir: Path, seed: int = 0) -> dict[str, Path]:
    """Train the tiny net for a few steps (bright vs dark crops) and export fp32/int8 TFLite + .keras."""
    from fakeface.edge.tf_environment import set_tf_environment

    set_tf_environment()
    import tensorflow as tf

    from fakeface.edge.contract import ModelContract, file_sha256, save_contract

    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (64, INPUT, INPUT, 3)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 127.5).astype(np.float32)
    tf.keras.utils.set_random_seed(seed)
    model = tiny_model()
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    keras_path = out_dir / "tiny.keras"
    model.save(keras_path)

    def rep():
        for i in range(16):
            yield [x[i:i + 1]]

    paths = {"keras": keras_path}
    for variant in ("fp32", "int8"):
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        if variant == "int8":
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = rep
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        path = out_dir / f"tiny.{variant}.tflite"
        path.write_bytes(conv.convert())
        save_contract(path, ModelContract(input_size=INPUT, name="tiny", architecture="tiny-test",
                                          format=f"tflite-{variant}", sha256=file_sha256(path),
                                          source_sha256=file_sha256(keras_path)))
        paths[variant] = path
    return paths
