"""`fakeface generalise`: the three reports run end to end on small synthetic crop folders.

The folder mimics the real data's layout: two fake sources, one with its same-pipeline
real twin (fake/stylegan1-140k <-> real/ffhq-140k) and one without (fake/generated-photos),
so the twin and no-twin paths of every report are exercised with really trained models.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.tf

SOURCES = {  # folder in the test layout <- (seed of write_synthetic_crops, its class folder)
    "fake/stylegan1-140k": (1, "fake"), "real/ffhq-140k": (1, "real"),
    "fake/generated-photos": (2, "fake"), "real/utkface": (2, "real"),
}


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def crops(tmp_path_factory, tf):
    from tiny_models import write_synthetic_crops

    root = tmp_path_factory.mktemp("gen")
    made = {seed: write_synthetic_crops(root / f"seed{seed}", n=120, size=32, seed=seed) for seed in (1, 2)}
    out = root / "crops"
    for dest, (seed, cls) in SOURCES.items():
        shutil.copytree(made[seed] / cls / "synthetic", out / dest)
    shutil.copyfile(made[1] / "crops.json", out / "crops.json")
    return out


@pytest.fixture(scope="module")
def model(tmp_path_factory, crops, tf):
    from tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model"), crops_dir=crops, steps=60)


def _cli(*argv) -> int:
    from fakeface.edge.cli import main

    return main([str(a) for a in argv])


def test_twins_report(crops, model, tmp_path, capsys):
    assert _cli("generalise", "twins", model, crops, "--split", "all", "--out", tmp_path, "--quiet") == 0
    out = capsys.readouterr().out
    assert "| twin | fake/stylegan1-140k | real/ffhq-140k |" in out
    rep = json.loads((tmp_path / "twins.json").read_text())
    kinds = {(r["kind"], r["fake"]): r for r in rep["rows"]}
    twin = kinds[("twin", "fake/stylegan1-140k")]
    assert twin["reals"] == "real/ffhq-140k" and twin["n_fake"] == 60 and twin["n_real"] == 60
    assert ("style", "fake/generated-photos") in kinds and ("overall", "all fakes") in kinds
    assert kinds[("overall", "all fakes")]["n_real"] == 120
    for r in rep["rows"]:
        assert 0.0 <= r["auc"] <= 1.0 and 0.0 <= r["fakes_caught_095"] <= 1.0
        lo, hi = r["auc_ci"]  # 95 % bootstrap interval around every AUC, and a Wilson one for caught
        c_lo, c_hi = r["fakes_caught_095_ci"]
        assert lo <= r["auc"] <= hi and c_lo <= r["fakes_caught_095"] <= c_hi
    assert f"{twin['auc']:.3f} [{twin['auc_ci'][0]:.3f}, {twin['auc_ci'][1]:.3f}]" in out
    assert kinds[("overall", "all fakes")]["auc"] > 0.8  # the tiny model really learned the synthetic trace
    assert rep["calibration_split"] == "val"
    assert (tmp_path / "twins.md").read_text().startswith("Twins")
    assert (tmp_path / "twins.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_perturb_report(crops, model, tmp_path, capsys):
    assert _cli("generalise", "perturb", model, crops, "--split", "all", "--out", tmp_path, "--json") == 0
    printed = json.loads(capsys.readouterr().out)
    rep = json.loads((tmp_path / "perturb.json").read_text())
    assert printed == rep
    names = [r["name"] for r in rep["rows"]]
    assert names == ["jpeg_q90", "jpeg_q70", "jpeg_q50", "rescale_0.5x", "blur_1.0", "shift_4px", "crop_0.9"]
    assert rep["n_real"] == rep["n_fake"] == 120 and rep["clean_auc"] > 0.8
    by = {r["name"]: r for r in rep["rows"]}
    for r in rep["rows"]:
        assert r["auc_change"] == pytest.approx(r["auc"] - rep["clean_auc"])
    # The synthetic fakes' only trace is a pixel checkerboard: blur and a 0.5x rescale wipe it out.
    assert by["blur_1.0"]["auc"] < rep["clean_auc"] - 0.1 and by["rescale_0.5x"]["auc"] < rep["clean_auc"] - 0.1
    assert abs(by["jpeg_q90"]["auc_change"]) < abs(by["blur_1.0"]["auc_change"])
    assert (tmp_path / "perturb.png").stat().st_size > 1000


def test_perturbations_keep_shape_and_shift_whole_pixels():
    from fakeface.train.reports.perturbations import PERTURBATIONS, shift

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    for name, (_, f) in PERTURBATIONS.items():
        y = f(x)
        assert y.shape == x.shape and y.dtype == np.uint8, name
    s = shift(x, 4, 4)
    assert np.array_equal(s[:, 4:, 4:], x[:, :-4, :-4])


def test_leave_one_out(crops, tmp_path, capsys):
    out = tmp_path / "loo"
    argv = ["generalise", "leave-one-out", crops, "--out", out, "--arch", "tiny", "--epochs", "1", "--limit", "0",
            "--quiet"]
    assert _cli(*argv) == 0
    rep = json.loads((out / "leave_one_out.json").read_text())
    folds = {f["held_out_fake"]: f for f in rep["folds"]}
    assert set(folds) == {"fake/generated-photos", "fake/stylegan1-140k"}
    twin, lone = folds["fake/stylegan1-140k"], folds["fake/generated-photos"]
    # held out: test + val crops of the held-out source (and of its twin)
    assert twin["held_out_real"] == "real/ffhq-140k" and 0 < twin["n_fake"] < 60 and 0 < twin["n_real"] < 60
    assert lone["held_out_real"] is None and lone["reals_compared"].startswith("all test reals")
    for f in rep["folds"]:
        assert 0.0 <= f["auc"] <= 1.0 and 0.0 <= f["fakes_caught"] <= 1.0 and 0.0 <= f["reals_accepted"] <= 1.0
        assert f["threshold_source"].startswith("calibrated")
        assert f["auc_ci"][0] <= f["auc"] <= f["auc_ci"][1]
    # the fold trained without the held-out source: none of its crops in the fold's training set
    run = json.loads((out / "folds" / "fake__stylegan1-140k" / "run" / "metrics.json").read_text())
    assert set(run["test"]["per_source"]) == {"fake/generated-photos", "real/utkface"}
    assert not (out / "folds" / "fake__stylegan1-140k" / "view").exists()  # links cleaned up
    assert (out / "leave_one_out.png").is_file() and "SHORT schedule" in (out / "leave_one_out.md").read_text()
    capsys.readouterr()
    # a rerun with the same options reuses the finished folds instead of training again
    assert _cli(*argv[:-1]) == 0
    assert capsys.readouterr().out.count("reusing") == 2


def test_leave_one_real_source_out(crops, tmp_path, capsys):
    out = tmp_path / "loso-real"
    argv = ["generalise", "leave-one-out", crops, "--out", out, "--arch", "tiny", "--epochs", "1", "--limit", "0",
            "--real-source", "utkface", "--focal-gamma", "1", "--outside-face-augment", "0.5", "--quiet"]
    assert _cli(*argv) == 0
    rep = json.loads((out / "leave_one_real_out.json").read_text())
    (fold,) = rep["folds"]
    assert fold["held_out_real"] == "real/utkface" and fold["counted_by"] == "photo"
    assert fold["n_faces"] == fold["n_people"] == 60  # every photo of the held-out source, all splits
    assert fold["accepted"] == pytest.approx(fold["accepted_per_photo"])
    assert fold["accepted_ci"][0] <= fold["accepted"] <= fold["accepted_ci"][1]
    # the fold never trained on the held-out source, and its threshold came from its own calibration
    run = json.loads((out / "folds" / "real__utkface" / "run" / "metrics.json").read_text())
    assert "real/utkface" not in run["test"]["per_source"]
    # the recipe flags reach the fold's training run, and the report's header names them
    assert run["focal_gamma"] == 1.0 and run["augment"]["outside_face_p"] == 0.5
    assert "--outside-face-augment 0.5 --focal-gamma 1" in (out / "leave_one_real_out.md").read_text()
    assert fold["threshold_source"].startswith("calibrated") and 0.0 <= fold["test_fakes_caught"] <= 1.0
    # whom it turned away: every listed photo really was, and none is missing when fewer than ten were
    assert all(share < 1.0 for _, share, _ in fold["turned_away"])
    assert len(fold["turned_away"]) == min(10, round((1 - fold["accepted_per_photo"]) * fold["n_faces"]))
    assert (out / "leave_one_real_out.png").is_file() and "by person" in (out / "leave_one_real_out.md").read_text()
    assert _cli("generalise", "leave-one-out", crops, "--out", out, "--real-source", "nobody", "--quiet") == 2
    assert "no such real source" in capsys.readouterr().err

    # another threshold rule keeps the fold's trained model and only calibrates and scores it again
    model = out / "folds" / "real__utkface" / "run" / "model.keras"
    trained = model.stat().st_mtime_ns
    assert _cli(*argv[:-1], "--fake-catch", "0.5") == 0
    assert "trained model reused" in capsys.readouterr().out and model.stat().st_mtime_ns == trained
    (again,) = json.loads((out / "leave_one_real_out.json").read_text())["folds"]
    assert again["threshold"] >= fold["threshold"] and again["accepted_per_photo"] >= fold["accepted_per_photo"]
    assert again["train_seconds"] == fold["train_seconds"]  # the first run's training, not a new one
    raised = again["threshold"] > fold["threshold"]
    words = "still catch 0.5 of fold val fakes" if raised else "--fake-catch 0.5 left no room"
    assert words in again["threshold_source"]
    assert "raised as far as still catching 0.5" in (out / "leave_one_real_out.md").read_text()


def test_least_accepted_groups_are_listed_worst_first():
    from fakeface.train.reports.leave_one_real_out import least_accepted_groups

    groups = ["real/s/p1"] * 4 + ["real/s/p2"] * 2 + ["real/s/p3"] * 2
    accepted = [True, True, False, False, False, False, True, True]
    p_fake = [0.1, 0.2, 0.8, 0.9, 0.7, 0.6, 0.1, 0.1]
    assert least_accepted_groups(accepted, p_fake, groups) == [["p2", 0.0, pytest.approx(0.65)],
                                                               ["p1", 0.5, pytest.approx(0.5)]]
    assert least_accepted_groups(accepted, p_fake, groups, listed=1)[0][0] == "p2"
    assert least_accepted_groups([True], [0.1], ["x"]) == []


def test_calibrate_fake_catch_raises_the_threshold_into_the_fakes_margin(crops, model, capsys):
    """A trained model leaves a margin between its real and fake faces: the plain rule puts the
    threshold at its real edge, --fake-catch moves it up to where the fakes allow."""
    argv = ["calibrate", model, crops, "--cropped", "--split", "all", "--json"]
    assert _cli(*argv) == 0
    plain = json.loads(capsys.readouterr().out)
    assert _cli(*argv, "--fake-catch", "0.9") == 0
    raised = json.loads(capsys.readouterr().out)
    assert plain["fakes_caught"] > 0.9 and plain["set_by"] == "all reals"  # room above the real target
    assert raised["set_by"] == "fake catch 0.9" and raised["threshold"] > plain["threshold"]
    assert 0.9 <= raised["fakes_caught"] < plain["fakes_caught"]
    assert raised["reals_accepted"] >= plain["reals_accepted"] >= 0.95


def test_bad_inputs_are_one_line_errors(crops, model, tmp_path, capsys):
    assert _cli("generalise", "twins", tmp_path / "none.keras", crops) == 2
    assert _cli("generalise", "perturb", model, tmp_path / "nothing") == 2
    assert _cli("generalise", "leave-one-out", tmp_path / "nothing", "--out", tmp_path / "o") == 2
    assert _cli("generalise", "leave-one-out", crops, "--out", tmp_path / "o", "--source", "fake/nope") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("fakeface generalise: error: ") for line in err)


def test_evaluate_perturb_flag(crops, model, capsys):
    assert _cli("evaluate", model, crops, "--cropped", "--split", "all", "--perturb", "--json") == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["n"] == 240 and rep["perturb"]["clean_auc"] == pytest.approx(rep["roc_auc"])
    assert len(rep["perturb"]["rows"]) == 7
    assert _cli("evaluate", model, crops, "--perturb") == 2  # raw photos: not supported, one-line error
    assert "--perturb needs --cropped" in capsys.readouterr().err


def test_evaluate_compare_tells_a_trained_model_from_an_untrained_one(crops, model, tmp_path, capsys):
    from tiny_models import build_tiny_model

    untrained = build_tiny_model(tmp_path / "untrained", crops_dir=crops, steps=1, seed=3)  # one step
    assert _cli("evaluate", untrained, crops, "--cropped", "--split", "all", "--compare", model, "--json",
                "--quiet") == 0
    rep = json.loads(capsys.readouterr().out)["compare"]
    assert rep["n_matched"] == 240
    rows = {(r["fakes"], r["reals"]): r for r in rep["slices"]}
    # overall, each fake source against all reals, and the twin against its own real twin
    assert set(rows) == {("all fakes", "all reals"), ("fake/generated-photos", "all reals"),
                         ("fake/stylegan1-140k", "all reals"), ("fake/stylegan1-140k", "real/ffhq-140k")}
    overall = rows[("all fakes", "all reals")]
    assert overall["difference"] == pytest.approx(overall["auc_b"] - overall["auc_a"])
    assert overall["difference_ci"][0] > 0 and overall["verdict"] == "B better"  # trained beats untrained
    # a model against itself: every difference is exactly 0, so nothing can be told apart
    assert _cli("evaluate", model, crops, "--cropped", "--split", "all", "--compare", model, "--quiet") == 0
    out = capsys.readouterr().out
    assert "| all fakes | all reals | 120 | 120 |" in out and "B better" not in out and "A better" not in out
    assert _cli("evaluate", model, crops, "--cropped", "--compare", tmp_path / "missing.keras") == 2
    assert "missing.keras" in capsys.readouterr().err


def test_paired_bootstrap_cancels_what_two_models_share():
    from fakeface.train.reports.compare import compare_scores
    from fakeface.train.reports.metrics import auc_interval

    rng = np.random.default_rng(0)
    n = 90
    labels = np.r_[np.ones(n), np.zeros(n)].astype(int)
    sources = np.array(["fake/x"] * n + ["real/y"] * n, dtype=object)
    a = np.r_[rng.normal(1.0, 1, n), rng.normal(0, 1, n)]
    b = a + labels * 0.15  # B = A, with every fake scored a little higher: B is better on every resample
    (row,) = [r for r in compare_scores(labels, sources, a, b) if r.fakes == "all fakes"]
    assert row.difference > 0 and row.difference_ci[0] > 0 and row.verdict == "B better"
    # the unpaired intervals of the two AUCs overlap: comparing them would call this noise
    assert auc_interval(labels, b)[0] < auc_interval(labels, a)[1]


def test_a_fold_header_says_whether_its_schedule_is_the_default_models():
    from fakeface.train.reports.leave_one_out import schedule_words

    assert "SHORT" in schedule_words({"limit": 4000, "epochs": 10})
    assert "SHORT" in schedule_words({"limit": 0, "epochs": 2})
    assert "full schedule" in schedule_words({"limit": 0, "epochs": 10})


def test_a_fold_header_names_its_recipe_flags():
    from fakeface.train.reports.leave_one_out import recipe_words

    words = recipe_words({"augment_options": {"box_jitter_p": 0.5, "style_p": 0.0, "exposure_p": 0.25},
                          "source_weights": {"fake/generated-photos": 0.25}})
    assert words == "--box-jitter 0.5 --exposure-augment 0.25 --source-weight fake/generated-photos=0.25"
    assert "no augmentation" in recipe_words({"augment_options": None, "source_weights": {}})
    assert recipe_words({"freeze_blocks": 8, "focal_gamma": 2.0}) == "--freeze-blocks 8 --focal-gamma 2"
    assert recipe_words({"augment_options": {"outside_face_p": 0.5}}) == "--outside-face-augment 0.5"
    assert "no augmentation" in recipe_words({"freeze_blocks": 0, "focal_gamma": 0.0})


def test_a_fold_saved_before_an_augmentation_existed_is_reused_only_when_it_is_off():
    from dataclasses import asdict

    from fakeface.train.data.augment import AugmentOptions
    from fakeface.train.reports.leave_one_out import _same_options
    from fakeface.train.reports.metrics import json_safe

    now = json_safe({"epochs": 10, "augment_options": asdict(AugmentOptions(style_p=0.3))})
    older = json_safe({"epochs": 10, "augment_options": asdict(AugmentOptions(style_p=0.3))})
    del older["augment_options"]["exposure_p"]
    assert _same_options(older, now)
    with_exposure = json_safe({"epochs": 10, "augment_options": asdict(AugmentOptions(style_p=0.3, exposure_p=0.5))})
    assert not _same_options(older, with_exposure)
    assert not _same_options({**older, "epochs": 2}, now)
    assert not _same_options(None, now)
    # a fold saved before --focal-gamma existed trained on plain cross-entropy
    assert _same_options(older, {**now, "focal_gamma": 0.0})
    assert not _same_options(older, {**now, "focal_gamma": 2.0})
