"""Quantisation-noise fine-tuning (train/quant_noise.py): which tensors get noise, how much,
that the noise lives only in training, and that a run with it saves a model without it."""

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


def test_noise_goes_where_the_converter_quantises(lite0):
    from fakeface.train.models.quant_noise import quantised_tensor_layers

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


def test_rounding_noise_is_the_int8_step_over_root_twelve():
    from fakeface.train.models.quant_noise import rounding_noise_std

    assert rounding_noise_std(0.0, 6.0) == pytest.approx(6.0 / 255 / np.sqrt(12))
    # the converter's range always holds zero
    assert rounding_noise_std(2.0, 6.0) == pytest.approx(rounding_noise_std(0.0, 6.0))
    assert rounding_noise_std(-3.0, 1.0, scale=2.0) == pytest.approx(2 * 4.0 / 255 / np.sqrt(12))


def test_noise_only_while_training_and_trains_the_shared_weights(lite0):
    from fakeface.train.models.quant_noise import noise_for_int8, with_quantisation_noise, without_quantisation_noise

    x = np.random.default_rng(0).uniform(0, 255, (8, 64, 64, 3)).astype(np.float32)
    stds = noise_for_int8(lite0, x, 1.0)
    assert len(stds) == 59 and all(s > 0 for s in stds.values())
    noisy = with_quantisation_noise(lite0, stds)
    clean = lite0(x).numpy()
    np.testing.assert_array_equal(noisy(x, training=False).numpy(), clean)
    assert np.abs(noisy(x, training=True).numpy() - clean).max() > 1e-4
    assert noisy.get_layer("lite_head") is lite0.get_layer("lite_head")  # training it trains the model
    stripped = without_quantisation_noise(noisy)
    assert not any(layer.name.endswith("_qnoise") for layer in stripped.layers)
    np.testing.assert_array_equal(stripped(x).numpy(), clean)


def _cli(*argv) -> int:
    from fakeface.edge.cli import main

    return main([str(a) for a in argv])


def test_quant_noise_phase_saves_a_clean_model(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    import keras

    from tiny_models import build_tiny_model, write_synthetic_crops

    crops = write_synthetic_crops(tmp_path / "crops", n=120, size=32)
    base = build_tiny_model(tmp_path / "base", steps=20)
    assert _cli("train", crops, "--out", tmp_path / "bad", "--arch", "tiny", "--quant-noise", "1", "--quiet") == 2
    assert "--init-from" in capsys.readouterr().err
    assert _cli("train", crops, "--out", tmp_path / "run", "--arch", "tiny", "--init-from", base, "--quant-noise",
                "1", "--epochs", "1", "--no-augment") == 0
    assert "int8 rounding noise" in capsys.readouterr().out
    model = keras.models.load_model(tmp_path / "run" / "model.keras", safe_mode=True)
    assert not any(layer.name.endswith("_qnoise") for layer in model.layers)
    assert len(model.layers) == len(keras.models.load_model(base, safe_mode=True).layers)
