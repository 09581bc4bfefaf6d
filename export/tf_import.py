"""Import TensorFlow quietly, only when a command really needs it."""

import os


def import_tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def load_keras_model(path):
    """Load a .keras file the only way fakeface ever does: safe_mode=True (no arbitrary code)."""
    import_tf()
    import keras

    return keras.saving.load_model(str(path), safe_mode=True)
