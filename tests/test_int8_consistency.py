"""Float/int8 consistency training (train/models/int8_consistency.py): which tensors are
fake-quantised, that the int8 path really rounds and shares the float model's weights, that the
loss pulls the two paths together, and that a `train --int8-consistency` run saves a plain model
whose int8 export agrees with it."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def lite0():
    pytest.importorskip("tensorflow")
    from fakeface.train.models.efficientnet_lite import build_lite0_classifier, freeze_for_fine_tuning

    model = build_lite0_classifier(64)
    freeze_for_fine_tuning(model)  # as training does: BatchNorm statistics stay as they are
    return model


def test_fake_quantisation_goes_where_the_converter_quantises(lite0):
    from fakeface.train.models.int8_consistency import quantised_tensor_layers

    names = quantised_tensor_layers(lite0)
    kinds = {layer.name: type(layer).__name__ for layer in lite0.layers}
    # Conv2D -> BN -> ReLU6 is one int8 op: its ReLU6 is quantised, the conv and BN are not
    assert "lite_stem_relu6" in names and "lite_stem" not in names and "lite_stem_bn" not in names
    # a projection has no activation: its BN output is quantised, and so is the residual sum
    assert "lite_b02_project_bn" in names and "lite_b02_add" in names
    assert names[-2:] == ["lite_head_relu6", "lite_pool"]
    assert not any(kinds[n] in ("Conv2D", "DepthwiseConv2D", "Dropout", "Dense", "InputLayer") for n in names)
    # 16 blocks: 15 expansions + 16 depthwise + 16 projections, 9 residual adds, stem, head, pool
    assert len(names) == 15 + 16 + 16 + 9 + 3


def test_int8_path_rounds_every_tensor_and_shares_the_weights(lite0):
    import keras

    from fakeface.train.models.consistency import ConsistencyWeights, consistency_trainee
    from fakeface.train.models.int8_consistency import (calibrated_ranges, int8_path, quantised_tensor_layers,
                                                         with_fake_quantisation)

    x = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)).astype(np.float32)
    names = quantised_tensor_layers(lite0)
    ranges = calibrated_ranges(lite0, names, x)
    quantised = with_fake_quantisation(lite0, ranges)
    assert quantised.get_layer("lite_head") is lite0.get_layer("lite_head")  # training it trains the model
    # the pooled features of the int8 path sit on the 8-bit grid of their calibrated range
    low, high = ranges["lite_pool"]
    step = (max(high, 0) - min(low, 0)) / 255
    pooled = keras.Model(quantised.input, quantised.get_layer("lite_pool_fq").output)(x).numpy()
    grid = (pooled - min(low, 0)) / step
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-3)
    # the two paths differ by rounding only: close, not equal
    path, count, tracker = int8_path(lite0, x)
    trainee = consistency_trainee(lite0, ConsistencyWeights(int8=200.0), path)
    both = trainee(x).numpy()
    assert count == 59 and both.shape == (8, 2)
    np.testing.assert_allclose(both[:, 0], lite0(x).numpy()[:, 0], atol=1e-6)
    gap = np.abs(both[:, 0] - both[:, 1])
    assert 0 < gap.max() < 0.2
    assert tracker.remeasure() < 1e-6  # nothing moved yet: the ranges stay where they were


def test_ranges_follow_the_weights_when_measured_again(lite0):
    from fakeface.train.models.int8_consistency import fake_quant_layers, int8_path

    x = np.random.default_rng(1).uniform(0, 255, (8, 64, 64, 3)).astype(np.float32)
    quantised, _, tracker = int8_path(lite0, x)
    pool_fq = fake_quant_layers(quantised)["lite_pool"]
    before = float(pool_fq.high.numpy())
    try:
        # tripling the last convolution's kernel (before BN) moves the pooled features' range
        conv = lite0.get_layer("lite_head")
        w = conv.get_weights()
        conv.set_weights([w[0] * 3.0] + w[1:])
        assert tracker.remeasure() > 0.05
        after = float(pool_fq.high.numpy())
        assert after != pytest.approx(before, rel=0.05)
        # the int8 path now rounds on the new range: its pooled features lie on that grid
        import keras

        step = (after - min(float(pool_fq.low.numpy()), 0.0)) / 255
        pooled = keras.Model(quantised.input, pool_fq.output)(x).numpy()
        grid = (pooled - float(pool_fq.low.numpy())) / step
        np.testing.assert_allclose(grid, np.round(grid), atol=1e-3)
    finally:
        conv.set_weights(w)


def test_loss_is_both_cross_entropies_plus_the_weighted_gap():
    pytest.importorskip("tensorflow")
    import keras

    from fakeface.train.models.consistency import ConsistencyWeights, consistency_loss

    y = np.array([[1.0], [0.0]], np.float32)
    bce = lambda t, p: -(t * np.log(p) + (1 - t) * np.log(1 - p))  # noqa: E731
    both = np.array([[0.9, 0.7], [0.2, 0.2]], np.float32)
    got = keras.ops.convert_to_numpy(consistency_loss(ConsistencyWeights(int8=10.0))(y, both))
    want = [bce(1, 0.9) + bce(1, 0.7) + 10 * 0.2 ** 2, 2 * bce(0, 0.2)]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    # with both views: float, int8 path, jittered crop, each with its own weight
    three = np.array([[0.9, 0.7, 0.5], [0.2, 0.2, 0.4]], np.float32)
    got = keras.ops.convert_to_numpy(consistency_loss(ConsistencyWeights(int8=10.0, jitter=3.0))(y, three))
    want = [bce(1, 0.9) + bce(1, 0.7) + bce(1, 0.5) + 10 * 0.2 ** 2 + 3 * 0.4 ** 2,
            2 * bce(0, 0.2) + bce(0, 0.4) + 3 * 0.2 ** 2]
    np.testing.assert_allclose(got, want, rtol=1e-4)


def _cli(*argv) -> int:
    from fakeface.edge.cli import main

    return main([str(a) for a in argv])


def test_int8_phase_saves_a_plain_model_that_its_int8_file_follows(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    import keras

    from tiny_models import build_tiny_model, write_synthetic_crops

    crops = write_synthetic_crops(tmp_path / "crops", n=120, size=32)
    base = build_tiny_model(tmp_path / "base", steps=20)
    assert _cli("train", crops, "--out", tmp_path / "bad", "--arch", "tiny", "--int8-consistency", "1",
                "--quiet") == 2
    assert "--init-from" in capsys.readouterr().err
    assert _cli("train", crops, "--out", tmp_path / "run", "--arch", "tiny", "--init-from", base,
                "--int8-consistency", "200", "--epochs", "2", "--learning-rate", "1e-3", "--no-augment") == 0
    out = capsys.readouterr().out
    from fakeface.train.models.int8_consistency import quantised_tensor_layers

    tiny = len(quantised_tensor_layers(keras.models.load_model(base, safe_mode=True)))
    assert f"int8 path: {tiny} tensors fake-quantised" in out and "measured again every 50" in out
    model = keras.models.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert not any(layer.name.endswith("_fq") for layer in model.layers)
    assert len(model.layers) == len(keras.models.load_model(base, safe_mode=True).layers)
    assert len(model.predict(np.zeros((2, 32, 32, 3), np.float32), verbose=0)) == 2
    # the checkpoint is the float model too, so --resume rebuilds the int8 path around it
    assert _cli("train", crops, "--out", tmp_path / "run", "--arch", "tiny", "--int8-consistency", "200",
                "--epochs", "3", "--learning-rate", "1e-3", "--no-augment", "--resume",
                "--int8-remeasure-every", "1") == 0
    out = capsys.readouterr().out
    assert "resuming after epoch 2" in out and "measured again every 1 steps" in out
    assert "int8 ranges re-measured after 1 steps" in out and "re-measured after 2 steps" in out
