"""The face oval (train/models/face_oval.py): its geometry, and the layer saved and loaded."""

from __future__ import annotations

import numpy as np
import pytest

from fakeface.train.models.face_oval import FILL, oval_weights


def test_the_oval_keeps_the_face_square_centre_and_greys_the_corners():
    w = oval_weights(128, 0.25)[:, :, 0]
    assert w.shape == (128, 128)
    assert w[64, 64] == 1.0 and w[0, 0] == 0.0 and w[127, 127] == 0.0
    face = 128 / 1.5  # the face square's side at margin 0.25
    # Across the middle row: kept well inside the box's width, grey beyond the box's side.
    assert w[64, int(64 + 0.35 * face)] == 1.0
    assert w[64, int(64 + 0.55 * face)] == 0.0
    # Taller than wide, as a face box is.
    assert w[int(64 + 0.5 * face), 64] > w[64, int(64 + 0.5 * face)]
    # The edge is a ramp, not a step.
    row = w[64, 64:]
    assert ((row > 0) & (row < 1)).sum() >= 3
    assert np.all(np.diff(row) <= 0)


def test_a_wider_margin_makes_a_smaller_oval():
    assert oval_weights(128, 0.4).sum() < oval_weights(128, 0.1).sum()


@pytest.mark.tf
def test_a_model_with_the_oval_saves_loads_safely_and_ignores_the_backdrop(tmp_path):
    pytest.importorskip("tensorflow")
    from fakeface.edge.tf_environment import set_tf_environment

    set_tf_environment()
    import keras

    from fakeface.export.tf_import import load_keras_model
    from fakeface.train.models.face_oval import face_oval_layer

    inp = keras.Input((32, 32, 3))
    model = keras.Model(inp, face_oval_layer(32, 0.25)(inp))
    model.save(tmp_path / "m.keras")
    loaded = load_keras_model(tmp_path / "m.keras")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    y = np.asarray(loaded(x))
    np.testing.assert_allclose(y[:, 16, 16], x[:, 16, 16])
    np.testing.assert_allclose(y[:, 0, 0], FILL)
    other = x.copy()
    other[:, :3] = 0.0  # a different backdrop at the top edge
    np.testing.assert_allclose(np.asarray(loaded(other)), y, atol=1e-4)
