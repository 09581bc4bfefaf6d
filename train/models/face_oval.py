"""A fixed oval around the face, inside the model: everything outside it becomes flat grey.

Issue 28: the classifier read the backdrop (plain studio walls were "fake", because the only
plain-wall portraits in training were generated).  Masking the backdrop at inference on a model
trained with it raised real acceptance but also let fakes through, so the model has to be
*trained* without it, for both classes.  The oval is a layer of the model, not a step of the
crop contract: training, evaluation and every exported file (TFLite, ONNX) apply the very same
mask to the very same crop, and the edge runtime needs no change.

Geometry: a contract crop is the square of side ``max(w, h) * (1 + 2 * margin)`` around the
detector's box, whose height is nearly always the larger side (MTCNN boxes are ~0.75 as wide
as tall).  So the face square is the central ``1 / (1 + 2 * margin)`` of the crop, and the oval
is centred there, :data:`OVAL_HALF_WIDTH` and :data:`OVAL_HALF_HEIGHT` of the face square's side
across its half-axes, with a linear edge :data:`OVAL_EDGE` wide so no hard step is learned.
"""

from __future__ import annotations

import numpy as np

OVAL_HALF_WIDTH = 0.43  # of the face square: cheeks and ears' roots stay, the wall beside them goes
OVAL_HALF_HEIGHT = 0.57  # forehead to chin with a little hair line; the box is forehead to chin
OVAL_EDGE = 0.08  # width of the soft edge, of the face square
FILL = 128.0  # the grey everything outside becomes (raw 0..255 pixels, as the model takes)


def oval_weights(size: int, crop_margin: float) -> np.ndarray:
    """(size, size, 1) float32 weights: 1 inside the face oval, 0 outside, a linear edge between."""
    if size < 1 or crop_margin < 0:
        raise ValueError(f"oval needs size >= 1 and crop_margin >= 0, not {size}, {crop_margin}")
    face = size / (1.0 + 2.0 * crop_margin)
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    # Distance in units of the oval's own half-axes: 1 on its boundary.
    r = np.hypot((x - c) / (OVAL_HALF_WIDTH * face), (y - c) / (OVAL_HALF_HEIGHT * face))
    edge = OVAL_EDGE / OVAL_HALF_WIDTH  # the ramp, in the same units (measured across the narrow axis)
    w = np.clip((1.0 + edge / 2 - r) / edge, 0.0, 1.0)
    return w[:, :, None].astype(np.float32)


def face_oval_layer(size: int, crop_margin: float, name: str = "face_oval"):
    """The Keras layer that keeps the oval and greys the rest (``x * w + FILL * (1 - w)``)."""
    return _layer_class()(size=size, crop_margin=crop_margin, name=name)


_CLASS = None


def _layer_class():
    """Defined on first use, so importing this module needs no Keras; registered so that a
    saved model loads with ``safe_mode=True`` once :mod:`fakeface.train.models` is imported."""
    global _CLASS
    if _CLASS is None:
        import keras

        @keras.saving.register_keras_serializable(package="fakeface", name="FaceOval")
        class FaceOval(keras.layers.Layer):
            def __init__(self, size: int, crop_margin: float, **kwargs):
                super().__init__(**kwargs)
                self.size, self.crop_margin = int(size), float(crop_margin)
                self._weights_np = oval_weights(self.size, self.crop_margin)

            def call(self, x):
                w = keras.ops.convert_to_tensor(self._weights_np, dtype=x.dtype)
                return x * w + FILL * (1.0 - w)

            def get_config(self):
                return {**super().get_config(), "size": self.size, "crop_margin": self.crop_margin}

        _CLASS = FaceOval
    return _CLASS


def register() -> None:
    """Make sure a saved model with a face oval can be loaded (call before ``load_model``)."""
    _layer_class()
