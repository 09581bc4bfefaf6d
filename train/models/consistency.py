"""Consistency training: the model is trained beside other views of itself and pays for every
difference between its answers.

Two views exist, each switched on by its own weight:

- **int8** (``--int8-consistency W``): the same crop through a fake-quantised copy of the model
  that shares its weights (``int8_consistency.py``), so the float model learns weights whose
  full-int8 export decides as it does;
- **box jitter** (``--jitter-consistency J``): the same crop re-cut from a box shifted by up to
  5 % and scaled by 0.9-1.1, as a detector's box moves between two frames of one face, so p(fake)
  does not hinge on where the box lands (the jitter report's 90th percentile).

The trainee outputs one column per path, the float model first:

    loss = BCE(float) + sum over views of [BCE(view) + weight * (p_float - p_view)^2]

Its float column is the model itself, so validation metrics, checkpoints and the saved model are
the plain float model; the views exist only in training.  Each column draws its own dropout mask,
so every gap term also pulls two dropout samples of the head together (as R-Drop does); all the
measurements in train/README.md were made that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..data.augment import AugmentOptions

# The jitter view's box moves as training's --box-jitter does, and as far as the jitter report
# (train/reports/box_stability.py) moves it.
JITTER_SHIFT = AugmentOptions.box_shift
JITTER_SCALE = AugmentOptions.box_scale


@dataclass(frozen=True)
class ConsistencyWeights:
    int8: float = 0.0  # weight of (p_float - p_int8 path)^2; 0: no int8 path
    jitter: float = 0.0  # weight of (p_float - p_jittered crop)^2; 0: no jitter view

    @property
    def active(self) -> bool:
        return bool(self.int8 or self.jitter)

    def views(self) -> list[tuple[str, float]]:
        """(name, weight) of each extra column, in the trainee's column order."""
        return [(name, w) for name, w in (("int8", self.int8), ("jitter", self.jitter)) if w]


def _box_jitter_layer(keras, size: int):
    import tensorflow as tf

    from ..data.augment import jitter_boxes

    class BoxJitter(keras.layers.Layer):
        """In training, each crop re-cut from a randomly moved box; otherwise the crop itself."""

        def call(self, x, training=None):
            if training:
                return jitter_boxes(tf, x, size, JITTER_SHIFT, JITTER_SCALE)
            return x

    return BoxJitter(name="box_jitter")


def consistency_trainee(model, weights: ConsistencyWeights, int8_path=None):
    """A model whose output is [p_float, then one column per view of ``weights.views()``], all
    computed by ``model``'s own layers (``int8_path``: the fake-quantised copy, needed when
    ``weights.int8``)."""
    import keras

    if weights.int8 and int8_path is None:
        raise ValueError("an int8 consistency weight needs the fake-quantised path")
    inp = keras.Input(shape=tuple(model.input_shape[1:]))
    columns = [model(inp)]
    if weights.int8:
        columns.append(int8_path(inp))
    if weights.jitter:
        columns.append(model(_box_jitter_layer(keras, int(model.input_shape[1]))(inp)))
    both = keras.layers.Concatenate(name="float_and_views")(columns)
    return keras.Model(inp, both, name="consistency_trainee")


def assemble_trainee(model, weights: ConsistencyWeights, train, remeasure_every: int,
                     limited: bool = False, verbose: bool = True):
    """(trainee, int8 range tracker or None) for ``fakeface train``: ``model`` beside the views
    ``weights`` asks for.  The int8 path calibrates on the training crops (``train``, a CropSet)
    that `fakeface export --calib CROPS --calib-split train` calibrates on."""
    from ..data.layout import calibration_choice
    from .int8_consistency import CALIBRATION_CROPS, int8_path

    quantised, tensors, tracker = None, None, None
    if weights.int8:
        calib = train.images[calibration_choice(train.paths, CALIBRATION_CROPS)]
        if limited and verbose:
            print("train: warning: with --limit the int8 ranges come from the limited crops, not from the "
                  "export's calibration set")
        quantised, tensors, tracker = int8_path(model, calib)
        if verbose:
            again = f"measured again every {remeasure_every} steps" if remeasure_every else "measured once"
            print(f"train: int8 ranges from the export's {len(calib)} calibration crops, {again}")
    trainee = consistency_trainee(model, weights, quantised)
    if verbose:
        print(f"train: consistency: {describe(weights, tensors)}")
    return trainee, tracker


def consistency_loss(weights: ConsistencyWeights, label_smoothing: float = 0.0):
    """Per-face loss on the trainee's columns: every column's cross-entropy, plus each view's
    weight times its squared gap to the float column."""
    import keras

    views = weights.views()

    def loss(y_true, columns):
        p_float = columns[:, :1]
        total = keras.losses.binary_crossentropy(y_true, p_float, label_smoothing=label_smoothing)
        for i, (_, w) in enumerate(views, start=1):
            p_view = columns[:, i:i + 1]
            total = total + keras.losses.binary_crossentropy(y_true, p_view, label_smoothing=label_smoothing)
            total = total + w * keras.ops.mean(keras.ops.square(p_float - p_view), axis=-1)
        return total

    return loss


def float_path_metrics():
    """AUC and accuracy of the float column alone, under the names plain training logs ('auc',
    'accuracy'), so history, plots and --patience read the same keys."""
    import keras

    class FloatAUC(keras.metrics.AUC):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_true, y_pred[:, :1], sample_weight)

    class FloatAccuracy(keras.metrics.BinaryAccuracy):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(y_true, y_pred[:, :1], sample_weight)

    return [FloatAUC(name="auc"), FloatAccuracy(name="accuracy")]


def describe(weights: ConsistencyWeights, int8_tensors: Optional[int] = None) -> str:
    """One line for the training log."""
    terms = ["BCE(float)"] + [f"BCE({name}) + {w:g} x gap({name})^2" for name, w in weights.views()]
    parts = []
    if weights.int8:
        parts.append(f"int8 path: {int8_tensors} tensors fake-quantised")
    if weights.jitter:
        parts.append(f"jitter view: box moved up to {JITTER_SHIFT:.0%}, scaled {JITTER_SCALE[0]:g}-{JITTER_SCALE[1]:g}")
    rate = ", constant learning rate" if weights.int8 else ""  # the int8 phase is short (fit._compile)
    return "; ".join(parts) + "; loss = " + " + ".join(terms) + rate
