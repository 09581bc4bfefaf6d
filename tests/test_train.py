"""The training layer for real: tiny models trained in seconds, then evaluated and calibrated."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fakeface.edge.contract import file_sha256, load_contract

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def synthetic_crops(tmp_path_factory):
    from tiny_models import write_synthetic_crops

    return write_synthetic_crops(tmp_path_factory.mktemp("crops"), n=320, size=32)


def _cli(*argv) -> int:
    from fakeface.edge.cli import main

    return main([str(a) for a in argv])


def test_registering_the_commands_does_not_import_tensorflow():
    code = ("import sys; from fakeface.edge.cli import build_parser; p = build_parser(); "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'; "
            "h = p._subparsers._group_actions[0].choices['train'].format_help(); "
            "assert 'example' in h and '--arch' in h")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_resume_evaluate_calibrate(tf, synthetic_crops, tmp_path, capsys):
    run = tmp_path / "run"
    assert _cli("train", synthetic_crops, "--out", run, "--arch", "tiny", "--epochs", "2", "--batch-size", "16", "--no-augment", "--learning-rate", "0.01",
                "--quiet") == 0
    for name in ("model.keras", "model.keras.json", "metrics.json", "history.png", "roc.png", "confusion.png",
                 "checkpoint/last.keras", "checkpoint/state.json"):
        assert (run / name).is_file(), name
    assert not list(run.rglob("*.partial*"))
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 2 and m["input_size"] == 32 and m["crop_margin"] == 0.15
    assert set(m["test"]["per_source"]) == {"real/synthetic", "fake/synthetic"}
    assert 0.0 <= m["test"]["roc_auc"] <= 1.0 and m["val"]["n"] > 10
    contract = load_contract(run / "model.keras")  # verifies the sha256
    assert contract.input_size == 32 and contract.architecture.startswith("tiny")

    # --resume continues from the epoch checkpoint instead of starting over
    assert _cli("train", synthetic_crops, "--out", run, "--arch", "tiny", "--epochs", "3", "--batch-size", "16", "--no-augment", "--learning-rate", "0.01",
                "--resume", "--quiet") == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["epochs_run"] == 3 and len(m["history"]["loss"]) == 3
    capsys.readouterr()

    model = run / "model.keras"
    assert _cli("evaluate", model, synthetic_crops, "--cropped", "--split", "all", "--json") == 0
    before = json.loads(capsys.readouterr().out)
    assert before["n"] == 320 and before["threshold"] == 0.5 and before["no_face"] == 0
    assert before["roc_auc"] > 0.8  # it really learned something

    sha = file_sha256(model)
    # validation holds 14 real crops of the 320: too few to calibrate on (exit 2, nothing written)
    assert _cli("calibrate", model, synthetic_crops, "--cropped", "--write") == 2
    assert "fewer than 20 of each" in capsys.readouterr().err and load_contract(model).threshold == 0.5
    assert _cli("calibrate", model, synthetic_crops, "--cropped", "--split", "train", "--write",
                "--json") == 0
    cal = json.loads(capsys.readouterr().out)
    contract = load_contract(model)
    assert contract.threshold == pytest.approx(cal["threshold"]) and cal["reals_accepted"] >= 0.95
    assert cal["target_real_acceptance"] == 0.95 and contract.calibration["previous_threshold"] == 0.5
    assert contract.calibration["split"] == "train" and file_sha256(model) == sha == contract.sha256

    assert cal["set_by"] == "all reals" and cal["worst_real_accepted"] <= 1.0

    # per real source: no source below the share, and the threshold is never lower than pooled
    assert _cli("calibrate", model, synthetic_crops, "--cropped", "--split", "train", "--write",
                "--every-real-source", "--json") == 0
    every = json.loads(capsys.readouterr().out)
    assert every["every_real_source"] and every["threshold"] >= cal["threshold"]
    assert every["worst_real_accepted"] >= 0.95 and load_contract(model).calibration["every_real_source"]
    assert _cli("calibrate", model, synthetic_crops, "--cropped", "--split", "train", "--write",
                "--json") == 0
    assert json.loads(capsys.readouterr().out)["threshold"] == pytest.approx(cal["threshold"])

    # evaluate now uses the stored threshold, and the calibration reals are accepted as promised
    assert _cli("evaluate", model, synthetic_crops, "--cropped", "--split", "train", "--json") == 0
    after = json.loads(capsys.readouterr().out)
    assert after["threshold"] == pytest.approx(cal["threshold"]) and after["reals_accepted"] >= 0.95


def test_validation_every_nth_epoch_and_no_test_split(tf, synthetic_crops, tmp_path, capsys):
    run = tmp_path / "run"
    assert _cli("train", synthetic_crops, "--out", run, "--arch", "tiny", "--epochs", "3", "--batch-size", "16",
                "--no-augment", "--learning-rate", "0.01", "--validate-every", "2", "--skip-test",
                "--source-share", "fake/synthetic=0.5", "--quiet") == 0
    m = json.loads((run / "metrics.json").read_text())
    # --source-share reaches the training set: half of the fakes' photos, all the reals
    from fakeface.train.data.dataset import load_split

    whole, _ = load_split(synthetic_crops, "train", progress=False)
    reals = int((whole.labels == 0).sum())
    assert m["source_shares"] == {"fake/synthetic": 0.5}
    assert 0.35 * (len(whole) - reals) < m["train_crops"] - reals < 0.65 * (len(whole) - reals)
    val_auc = m["history"]["val_auc"]
    # one entry per epoch; only epoch 2 was validated
    assert len(val_auc) == len(m["history"]["loss"]) == 3
    assert val_auc[0] is None and val_auc[2] is None and 0.0 <= val_auc[1] <= 1.0
    assert m["test"] is None and not m["test_scored"] and m["val"]["n"] > 10 and m["validate_every"] == 2
    assert (run / "history.png").is_file() and (run / "model.keras").is_file()
    assert "test:" not in capsys.readouterr().out

    assert _cli("train", synthetic_crops, "--out", tmp_path / "bad", "--arch", "tiny", "--epochs", "2",
                "--validate-every", "2", "--patience", "1", "--quiet") != 0
    err = capsys.readouterr().err
    assert "--patience" in err and "--validate-every 1" in err and "Traceback" not in err


def test_focal_gamma_trains_on_the_focal_loss_and_bad_values_are_one_line_errors(tf, synthetic_crops, tmp_path,
                                                                                  capsys):
    import keras

    run = tmp_path / "run"
    assert _cli("train", synthetic_crops, "--out", run, "--arch", "tiny", "--epochs", "3", "--batch-size", "16",
                "--no-augment", "--learning-rate", "0.01", "--focal-gamma", "2", "--quiet") == 0
    m = json.loads((run / "metrics.json").read_text())
    assert m["focal_gamma"] == 2.0 and m["test"]["roc_auc"] > 0.8  # it still learns
    # the checkpoint was compiled with the focal loss at that gamma, not plain cross-entropy
    from fakeface.train.models.face_oval import register

    register()
    loss = keras.models.load_model(run / "checkpoint" / "last.keras", compile=True).loss
    assert isinstance(loss, keras.losses.BinaryFocalCrossentropy) and loss.gamma == 2.0
    capsys.readouterr()
    # --resume keeps the checkpoint's compiled loss: another --focal-gamma is refused, not ignored
    before = (run / "metrics.json").read_bytes()
    resume = ("train", synthetic_crops, "--out", run, "--arch", "tiny", "--epochs", "4", "--batch-size", "16",
              "--no-augment", "--learning-rate", "0.01", "--resume", "--quiet")
    assert _cli(*resume) == 2
    err = capsys.readouterr().err
    assert "--focal-gamma 0 does not match" in err and "--focal-gamma 2" in err and "Traceback" not in err
    assert (run / "metrics.json").read_bytes() == before
    assert _cli(*resume, "--focal-gamma", "2") == 0
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 4
    capsys.readouterr()

    for bad in ("-1", "9", "two"):
        with pytest.raises(SystemExit) as exit_:
            _cli("train", synthetic_crops, "--out", tmp_path / "bad", "--arch", "tiny", "--focal-gamma", bad)
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        assert "--focal-gamma" in err and "Traceback" not in err
    assert not (tmp_path / "bad").exists()
    assert _cli("train", synthetic_crops, "--out", tmp_path / "int8", "--arch", "tiny", "--init-from",
                run / "model.keras", "--int8-consistency", "10", "--focal-gamma", "1", "--quiet") == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--focal-gamma" in errors[0] and "cross-entropy" in errors[0]
    assert "Traceback" not in err and not (tmp_path / "int8").exists()


def test_evaluate_refuses_crops_of_another_size(tf, synthetic_crops, tmp_path, capsys):
    from tiny_models import build_tiny_model

    model = build_tiny_model(tmp_path / "m", steps=5, input_size=24)
    assert _cli("evaluate", model, synthetic_crops, "--cropped", "--split", "all") == 2
    assert "--input-size 24" in capsys.readouterr().err


def test_build_tiny_model_really_learns(tf, tmp_path):
    import keras

    from fakeface.train.reports.metrics import roc_auc
    from tiny_models import build_tiny_model, synthetic_faces

    path = build_tiny_model(tmp_path / "tiny", steps=60)
    contract = load_contract(path)
    assert contract.input_size == 32 and contract.sha256 == file_sha256(path)
    model = keras.models.load_model(path, safe_mode=True)
    x, y = synthetic_faces(200, 32, seed=7)  # faces it never saw
    p = model.predict(x.astype(np.float32), verbose=0).reshape(-1)
    assert roc_auc(y, p) > 0.9


def test_srm_architecture_loads_in_safe_mode_with_frozen_filters(tf, tmp_path):
    import keras

    from fakeface.train.models.architectures import build_model, count_macs, srm_kernels

    model = build_model("srm", 48)
    path = tmp_path / "d.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x, training=False), loaded(x, training=False), atol=1e-5)
    srm = loaded.get_layer("srm")
    assert not srm.trainable
    np.testing.assert_allclose(srm.get_weights()[0][:, :, 0, :], srm_kernels())
    assert count_macs(build_model("srm", 96)) < count_macs(build_model("seed", 128))


def test_compact_architecture_fits_the_small_edge_budget(tf, tmp_path):
    import keras

    from fakeface.train.models.arch_compact import high_pass_3x3
    from fakeface.train.models.architectures import build_model, count_macs

    model = build_model("compact_q", 96)
    # <= 0.5 ms int8 per face on one x86 core (benchmarks/) needs at most ~15M multiply-adds.
    assert count_macs(model) < 15e6 < count_macs(build_model("seed", 128)) / 9
    path = tmp_path / "c.keras"
    model.save(path)
    loaded = keras.models.load_model(path, safe_mode=True)
    x = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3)).astype(np.float32)
    np.testing.assert_allclose(model(x, training=False), loaded(x, training=False), atol=1e-5)
    assert high_pass_3x3().sum(axis=(0, 1)) == pytest.approx(np.zeros(3), abs=1e-6)  # zero-sum filters


def test_augmentation_keeps_pixels_valid(tf):
    from fakeface.train.data.augment import AugmentOptions, make_augment

    aug = make_augment(32, AugmentOptions(jpeg_p=1.0, rescale_p=1.0, blur_p=1.0, color_p=1.0))
    img = tf.constant(np.random.default_rng(0).integers(0, 256, (32, 32, 3)), tf.uint8)
    out, label = aug(img, tf.constant([1.0]))
    out = out.numpy()
    assert out.shape == (32, 32, 3) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255 and np.all(out == np.round(out))
    assert float(label[0]) == 1.0


def test_exposure_augment_scales_brightness_within_its_gain_range(tf):
    from dataclasses import replace

    from fakeface.train.data.augment import AugmentOptions, make_augment

    # A mid-grey face with a bright patch: the patch clips, the rest scales by one gain.
    img = np.full((32, 32, 3), 100, np.uint8)
    img[:4, :4] = 240
    plain = AugmentOptions(flip=False, max_shift=0, jpeg_p=0, rescale_p=0, blur_p=0, color_p=0)
    unchanged, _ = make_augment(32, plain)(tf.constant(img), tf.constant([0.0]))
    assert np.array_equal(unchanged.numpy(), img.astype(np.float32))

    aug = make_augment(32, replace(plain, exposure_p=1.0))
    tf.random.set_seed(3)
    gains = []
    for _ in range(12):
        out = aug(tf.constant(img), tf.constant([0.0]))[0].numpy()
        grey = out[8:, 8:]
        assert np.ptp(grey) == 0  # one gain for the whole face
        gains.append(grey[0, 0, 0] / 100.0)
        assert out.max() <= 255
    assert 0.7 - 0.01 <= min(gains) and max(gains) <= 1.4 + 0.01
    assert max(gains) - min(gains) > 0.2  # it really varies from face to face


def test_outside_face_augment_keeps_the_face_and_replaces_the_rest(tf):
    from dataclasses import replace

    from fakeface.train.data.augment import AugmentOptions, make_augment

    rng = np.random.default_rng(0)
    img = rng.integers(0, 150, (64, 64, 3), dtype=np.uint8)  # noise (mean ~75, not grey): a blur loses variance
    plain = AugmentOptions(flip=False, max_shift=0, jpeg_p=0, rescale_p=0, blur_p=0, color_p=0)
    aug = make_augment(64, replace(plain, outside_face_p=1.0), crop_margin=0.25)
    tf.random.set_seed(5)  # the augmentation draws from TF's global generator: 24 draws, all three kinds
    kinds = set()
    for _ in range(24):
        out = aug(tf.constant(img), tf.constant([1.0]))[0].numpy()
        # the face's centre (a 16-px square around the middle) is untouched...
        assert np.array_equal(out[24:40, 24:40], img[24:40, 24:40].astype(np.float32))
        corner = out[:8, :8]
        # ...and the corners, well outside the ellipse, are replaced
        assert not np.array_equal(corner, img[:8, :8].astype(np.float32))
        if np.ptp(corner, axis=(0, 1)).max() == 0:  # one colour
            kinds.add("grey" if np.all(corner == 128) else "mean colour")
        else:
            assert corner.std() < 0.5 * img[:8, :8].std()  # strongly blurred
            kinds.add("blur")
    assert kinds == {"grey", "mean colour", "blur"}


def test_int8_stem_snaps_the_folded_kernel_onto_the_int8_grid(tf):
    from fakeface.train.models.architectures import build_model
    from fakeface.train.models.int8_stem import freeze_stem, snap_stem_to_int8_grid

    model = build_model("compact_q", 48)
    bn = model.get_layer("stem_bn")
    rng = np.random.default_rng(0)
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([rng.uniform(0.5, 2, gamma.shape), beta, mean, rng.uniform(0.01, 1, var.shape)])
    x = rng.integers(0, 256, (4, 48, 48, 3)).astype(np.float32)
    before = np.asarray(model(x, training=False))
    change = snap_stem_to_int8_grid(model)
    assert 0 < change <= 0.5 / 127 + 1e-6
    gamma, _, _, var = bn.get_weights()
    folded = model.get_layer("stem").get_weights()[0] * gamma / np.sqrt(var + bn.epsilon)
    steps = np.abs(folded).reshape(-1, folded.shape[-1]).max(axis=0) / 127
    q = folded / steps
    np.testing.assert_allclose(q, np.round(q), atol=1e-3)  # what the converter computes is exact in int8
    assert np.abs(np.asarray(model(x, training=False)) - before).max() < 0.05
    freeze_stem(model)
    assert not model.get_layer("stem").trainable and not bn.trainable
    with pytest.raises(Exception, match="stem"):
        snap_stem_to_int8_grid(build_model("seed", 32))


def test_training_windows_come_from_the_context(tf, tmp_path):
    import cv2

    from fakeface.train.data.augment import AugmentOptions, make_window
    from fakeface.train.data.dataset import CropSet, attach_context, make_dataset

    rng = np.random.default_rng(3)
    wide = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)  # a face's 48-px context window
    odd = rng.integers(0, 256, (41, 41, 3), dtype=np.uint8)  # a smaller face: 41 px of context
    crops = np.stack([wide[8:40, 8:40], odd[4:36, 4:36], rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)])
    paths = ["fake/a/1.png", "real/b/2.png", "real/b/3.png"]  # the third has no context file
    for p, img in zip(paths[:2], (wide, odd)):
        (tmp_path / "context" / p).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / "context" / p), img[:, :, ::-1])
    cs = CropSet(crops, np.array([1, 0, 0], np.int32), ["fake/a", "real/b", "real/b"], paths)
    assert attach_context(cs, tmp_path, 48, progress=False) == 2
    assert cs.context_sides.tolist() == [48, 41, 32]
    bigs = (wide, odd, crops[2])

    def windows(window):
        seen = [set() for _ in range(3)]
        for x, y, _ in make_dataset(cs, 3, training=True, window=window).repeat(12):
            for img, label in zip(x.numpy().astype(np.uint8), y.numpy()[:, 0]):
                i = next(k for k in range(3) if _is_window_of(img, bigs[k]))
                seen[i].add(img.tobytes())
                assert label == cs.labels[i]
        return [len(s) for s in seen]

    # by default the centre: exactly the crop the model sees in use
    for x, _, _ in make_dataset(cs, 3, training=True):
        assert sorted(a.tobytes() for a in x.numpy().astype(np.uint8)) == sorted(c.tobytes() for c in crops)
    # window_shift: windows of real neighbouring pixels, within reach of the centre
    n = windows(make_window(32, AugmentOptions(window_shift=3)))
    assert n[0] > 5 and n[1] > 5 and n[2] == 1
    # scale_p: the face shrunk first (never below the crop size), so not windows of the original
    shrunk = make_window(32, AugmentOptions(scale_p=1.0, scale_range=(0.7, 0.7)))
    out = shrunk(tf.constant(cs.context[0]), tf.constant(48)).numpy()
    small = cv2.resize(wide, (34, 34), interpolation=cv2.INTER_AREA)
    assert out.shape == (32, 32, 3) and np.abs(out.astype(int) - small[1:33, 1:33]).max() <= 1


def _is_window_of(img, big) -> bool:
    n = img.shape[0]
    return any(np.array_equal(img, big[y:y + n, x:x + n])
               for y in range(big.shape[0] - n + 1) for x in range(big.shape[1] - n + 1))


def test_scale_augment_without_context_windows_is_a_clear_error(tf, synthetic_crops, tmp_path, capsys):
    assert _cli("train", synthetic_crops, "--out", tmp_path / "run", "--arch", "tiny", "--epochs", "1",
                "--scale-augment", "0.25", "--quiet") == 2
    err = capsys.readouterr().err
    assert "--context 160" in err and "Traceback" not in err


def test_learning_curve_of_runs_trained_on_shares_of_a_source(tf, synthetic_crops, tmp_path, capsys):
    """Two tiny runs, one on half of each source's training photos: the report must read each
    run's shares, count what each saw, score the photos a share left out as unseen, and pair
    the half run against the whole one on the photos neither saw."""
    runs = {}
    for name, shares in (("half", ["--source-share", "fake/synthetic=0.5", "--source-share", "real/synthetic=0.5"]),
                         ("whole", [])):
        runs[name] = tmp_path / name
        assert _cli("train", synthetic_crops, "--out", runs[name], "--arch", "tiny", "--epochs", "3",
                    "--batch-size", "16", "--no-augment", "--learning-rate", "0.01", "--skip-test", *shares,
                    "--quiet") == 0
    capsys.readouterr()
    out = tmp_path / "curve"
    argv = ["generalise", "learning-curve", runs["whole"] / "model.keras", runs["half"] / "model.keras",
            synthetic_crops, "--fake", "fake/synthetic", "--real", "real/synthetic", "--out", out, "--quiet"]
    assert _cli(*argv) == 0
    assert "| reference |" in capsys.readouterr().out
    report = json.loads((out / "learning_curve.json").read_text())
    assert (out / "learning_curve.md").is_file() and (out / "learning_curve.png").stat().st_size > 1000
    half, whole = report["points"]  # sorted by share
    assert (half["fake_share"], half["real_share"], whole["fake_share"], whole["real_share"]) == (0.5, 0.5, 1, 1)
    for i in (0, 1):
        assert 0.35 * whole["seen"][i] < half["seen"][i] < 0.65 * whole["seen"][i]
        # what the half run did not train on is unseen to it; both runs left out validation + test
        assert half["seen"][i] + half["unseen"][i] == whole["seen"][i] + whole["unseen"][i]
    assert report["common_unseen"] == whole["unseen"]
    assert whole["vs_most"] is None and half["vs_most"] is not None
    lo, hi = half["vs_most_ci"]
    assert lo <= half["vs_most"] <= hi
    assert whole["auc_seen"] > 0.9 and whole["auc_unseen"] > 0.8  # the tiny model really learned

    assert _cli("generalise", "learning-curve", runs["whole"] / "model.keras", synthetic_crops,
                "--fake", "fake/synthetic") == 2
    err = capsys.readouterr().err
    assert "--fake fake/synthetic has no real twin" in err and "Traceback" not in err
    assert _cli("generalise", "learning-curve", runs["whole"] / "model.keras", synthetic_crops,
                "--fake", "fake/nope", "--real", "real/synthetic") == 2
    err = capsys.readouterr().err
    assert "--fake fake/nope: no such source" in err and len(err.strip().splitlines()) == 1
