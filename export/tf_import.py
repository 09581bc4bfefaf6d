"""Import TensorFlow quietly, only when a command really needs it."""

from fakeface.edge.tf_environment import set_tf_environment


def import_tf():
    set_tf_environment()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def load_keras_model(path):
    """Load a .keras file the only way fakeface ever does: safe_mode=True (no arbitrary code)."""
    import_tf()
    import keras

    from fakeface.train.models.face_oval import register

    register()  # a model with a face oval (train --arch lite0_oval) names that layer
    return keras.saving.load_model(str(path), safe_mode=True)
