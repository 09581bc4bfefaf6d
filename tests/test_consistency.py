"""Box-jitter consistency (train/models/consistency.py): the jittered view really re-cuts the
crop in training and is the crop itself otherwise, and a `train --jitter-consistency` run saves
the plain float model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SAMPLE_PHOTO

pytestmark = pytest.mark.tf


def _face_crops(size: int = 64) -> np.ndarray:
    """Four crops of the sample photo's face region, float 0..255 (N, size, size, 3)."""
    import cv2

    img = cv2.imread(str(SAMPLE_PHOTO))[:, :, ::-1]
    h, w = img.shape[:2]
    side = min(h, w) // 2
    crops = [cv2.resize(img[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
             for y, x in ((0, 0), (0, w - side), (h - side, 0), (h // 4, w // 4))]
    return np.stack(crops).astype(np.float32)


def test_jitter_boxes_recut_each_crop_within_the_box_limits():
    tf = pytest.importorskip("tensorflow")
    from fakeface.train.data.augment import jitter_boxes

    x = _face_crops()
    still = jitter_boxes(tf, tf.constant(x), 64, 0.0, (1.0, 1.0)).numpy()
    np.testing.assert_allclose(still, x, atol=1.0)  # no move: the crop back, up to rounding
    tf.random.set_seed(3)
    moved = jitter_boxes(tf, tf.constant(x), 64, 0.05, (0.9, 1.1)).numpy()
    assert moved.shape == x.shape and np.all(moved == np.round(moved)) and moved.min() >= 0 and moved.max() <= 255
    diffs = np.abs(moved - x).mean(axis=(1, 2, 3))
    assert np.all(diffs > 0.5)  # every crop got its own box
    # a box moved by at most 5 % and scaled by at most 10 % keeps most of the picture in place:
    # the re-cut stays closer to its own crop than to any other crop of the batch
    for i in range(len(x)):
        others = [np.abs(moved[i] - x[j]).mean() for j in range(len(x)) if j != i]
        assert diffs[i] < min(others)


def test_jitter_view_moves_only_in_training():
    pytest.importorskip("tensorflow")
    import keras

    from fakeface.train.models.consistency import ConsistencyWeights, consistency_trainee

    inp = keras.Input((64, 64, 3))
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.GlobalAveragePooling2D()(inp / 255.0))
    model = keras.Model(inp, out)
    trainee = consistency_trainee(model, ConsistencyWeights(jitter=5.0))
    x = _face_crops()
    inference = trainee(x, training=False).numpy()
    assert inference.shape == (4, 2)
    np.testing.assert_allclose(inference[:, 0], inference[:, 1], atol=1e-6)
    training = trainee(x, training=True).numpy()
    np.testing.assert_allclose(training[:, 0], inference[:, 0], atol=1e-6)
    assert np.abs(training[:, 1] - training[:, 0]).max() > 1e-5
    with pytest.raises(ValueError, match="fake-quantised path"):
        consistency_trainee(model, ConsistencyWeights(int8=1.0))


def test_jitter_consistency_run_saves_a_plain_model(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    import keras

    from fakeface.edge.cli import main
    from tiny_models import write_synthetic_crops

    crops = write_synthetic_crops(tmp_path / "crops", n=120, size=32)
    assert main(["train", str(crops), "--out", str(tmp_path / "run"), "--arch", "tiny", "--epochs", "1",
                 "--jitter-consistency", "10", "--no-augment", "--steps-per-epoch", "2"]) == 0
    out = capsys.readouterr().out
    assert "jitter view: box moved up to 5%" in out and "10 x gap(jitter)^2" in out
    model = keras.models.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert not any("jitter" in layer.name for layer in model.layers)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["jitter_consistency"] == 10 and metrics["steps_per_epoch"] == 2
    assert main(["train", str(crops), "--out", str(tmp_path / "bad"), "--arch", "tiny",
                 "--int8-remeasure-every", "10"]) == 2
    assert "--int8-remeasure-every only applies with --int8-consistency" in capsys.readouterr().err
