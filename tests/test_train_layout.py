"""The fixed split and the metrics: plain numpy, no TensorFlow needed."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pytest

from fakeface.train.data.layout import crop_relpath, scan_folder, source_key_of_crop, split_of
from fakeface.train.reports.metrics import classification_report, roc_auc, roc_curve, threshold_for_real_acceptance


def test_split_follows_the_baseline_rule_and_never_changes():
    key = "fake/stylegan1-140k/00012.jpg"
    digit = int(hashlib.md5(key.encode()).hexdigest(), 16) % 10
    assert split_of(key) == ("train" if digit <= 7 else "val" if digit == 8 else "test")
    counts = Counter(split_of(f"real/src/{i:05d}.jpg") for i in range(5000))
    assert 0.77 < counts["train"] / 5000 < 0.83
    assert 0.08 < counts["val"] / 5000 < 0.12 and 0.08 < counts["test"] / 5000 < 0.12


def test_a_crop_has_the_split_of_its_photo(tmp_path):
    for i in range(40):
        rel = f"real/a/{i}.jpg"
        assert source_key_of_crop(crop_relpath(rel)) == rel
        assert source_key_of_crop(crop_relpath(rel, 2)) == rel
        assert split_of(source_key_of_crop(crop_relpath(rel, 1))) == split_of(rel)
    (tmp_path / "real" / "a").mkdir(parents=True)
    (tmp_path / "fake" / "b" / "c").mkdir(parents=True)
    (tmp_path / "real" / "a" / "x.jpg.png").write_bytes(b"")
    (tmp_path / "fake" / "b" / "c" / "y.jpg.face1.png").write_bytes(b"")
    (tmp_path / "fake" / "b" / ".z.png.partial").write_bytes(b"")  # a torn temp file is no sample
    samples = scan_folder(tmp_path, cropped=True)
    assert [(s.key, s.label, s.source) for s in samples] == [
        ("fake/b/c/y.jpg", 1, "fake/b/c"), ("real/a/x.jpg", 0, "real/a")]


def test_roc_auc_matches_pairwise_definition():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300) * 0.5 + y * 0.3, 2)  # many ties on purpose
    pos, neg = p[y == 1], p[y == 0]
    pairwise = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert roc_auc(y, p) == pytest.approx(pairwise, abs=1e-12)
    fpr, tpr, _ = roc_curve(y, p)
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy 1.26 (legacy env) has only trapz
    assert trapezoid(tpr, fpr) == pytest.approx(pairwise, abs=1e-9)
    assert np.isnan(roc_auc(np.zeros(4), np.arange(4)))


@pytest.mark.parametrize("target", [0.5, 0.9, 0.95, 0.99, 1.0])
def test_threshold_accepts_at_least_the_target_share_of_reals(target):
    rng = np.random.default_rng(1)
    real = rng.beta(2, 8, 777).astype(np.float32)
    t = threshold_for_real_acceptance(real, target)
    accepted = (real < t).mean()
    assert accepted >= target
    # and it is the tightest such threshold: one real fewer would miss the target
    assert (real < np.sort(real)[int(np.ceil(target * len(real))) - 1]).mean() < target


def test_every_source_threshold_is_set_by_the_least_accepted_big_source():
    from fakeface.train.reports.metrics import threshold_for_every_source

    rng = np.random.default_rng(2)
    easy = rng.beta(1, 20, 400)  # a source the model is sure about
    hard = rng.beta(4, 4, 60)  # a source it often doubts: the pooled 95 % leaves many of it out
    tiny = np.full(5, 0.99)  # too few faces to set the threshold alone
    scores = np.concatenate([easy, hard, tiny])
    sources = ["real/easy"] * 400 + ["real/hard"] * 60 + ["real/tiny"] * 5
    pooled = threshold_for_real_acceptance(scores, 0.95)
    assert (hard < pooled).mean() < 0.95  # the pooled rule turns the hard source away
    t, by = threshold_for_every_source(scores, sources, 0.95, min_faces=20)
    assert by == "real/hard" and t == threshold_for_real_acceptance(hard, 0.95) > pooled
    assert (easy < t).mean() >= 0.95 and (hard < t).mean() >= 0.95 and (scores < t).mean() >= 0.95
    # the tiny source counts in the pool but not alone; when all agree the pool sets it
    assert threshold_for_every_source(easy, ["real/easy"] * 400, 0.95, 20) == (
        threshold_for_real_acceptance(easy, 0.95), "all reals")


@pytest.mark.parametrize("share", [0.5, 0.9, 0.95, 0.99, 1.0])
def test_fake_catch_threshold_is_the_highest_that_still_catches_the_share(share):
    from fakeface.train.reports.metrics import threshold_for_fake_catch

    rng = np.random.default_rng(3)
    fake = np.round(rng.beta(8, 2, 555), 3)  # rounded: ties on purpose
    t = threshold_for_fake_catch(fake, share)
    assert (fake >= t).mean() >= share
    # any threshold above the next fake score up loses the last fake that kept the share
    higher = fake[fake > t].min()
    assert (fake >= np.nextafter(higher, 2.0)).mean() < share
    # halfway in the gap, not on a score: round-off cannot flip a calibration face
    assert not np.isclose(fake, t, rtol=0, atol=1e-9).any() or share == 1.0


def test_fake_catch_threshold_refuses_an_empty_split_or_a_zero_share():
    from fakeface.train.reports.metrics import threshold_for_fake_catch

    assert threshold_for_fake_catch(np.array([0.0, 0.0]), 1.0) == 0.0  # every fake caught, even at 0
    with pytest.raises(ValueError):
        threshold_for_fake_catch(np.array([0.5, 0.9]), 0.0)
    with pytest.raises(ValueError):
        threshold_for_fake_catch(np.zeros(0), 0.9)


def test_classification_report_counts():
    rep = classification_report([0, 0, 1, 1], [0.1, 0.7, 0.8, 0.2], 0.5, ["r", "r", "f", "f"])
    assert rep.confusion == [[1, 1], [1, 1]]
    assert rep.balanced_accuracy == 0.5 and rep.per_source["r"].accuracy == 0.5
    assert "| r | 2 | 0.5000 [0.0945, 0.9055] |" in rep.markdown_table()  # Wilson, z = 1.96


def test_intervals_cover_the_estimate_and_shrink_with_more_faces():
    from fakeface.train.reports.metrics import auc_interval, rate_interval, roc_auc

    assert rate_interval(0, 20)[0] == 0.0 and rate_interval(20, 20)[1] == 1.0
    lo, hi = rate_interval(30, 88)
    assert lo < 30 / 88 < hi
    assert rate_interval(58, 88) == pytest.approx(tuple(1 - v for v in reversed((lo, hi))))  # symmetric
    assert rate_interval(300, 880)[1] - rate_interval(300, 880)[0] < (hi - lo) / 2.5
    rng = np.random.default_rng(0)
    widths = []
    for n in (80, 800):
        y = np.r_[np.ones(n), np.zeros(n)]
        p = np.r_[rng.normal(1, 1, n), rng.normal(0, 1, n)]
        a, b = auc_interval(y, p)
        assert a < roc_auc(y, p) < b
        widths.append(b - a)
    assert widths[1] < widths[0] / 2  # ~1/sqrt(n)
    assert auc_interval(y, p) == auc_interval(y, p)  # seeded: the same report twice
    assert all(np.isnan(auc_interval([1, 1], [0.2, 0.3])))


def test_source_balance_gives_every_source_of_a_class_the_same_weight():
    from fakeface.train.data.dataset import CropSet, sample_weights

    sources = ["real/big"] * 60 + ["real/small"] * 20 + ["fake/only"] * 40
    labels = np.array([0] * 80 + [1] * 40, np.int32)
    cs = CropSet(images=np.zeros((120, 1, 1, 3), np.uint8), labels=labels, sources=sources, paths=[""] * 120)
    by_class = sample_weights(cs, "class")
    assert by_class[:80].sum() == pytest.approx(by_class[80:].sum())
    w = sample_weights(cs, "source")
    assert w.mean() == pytest.approx(1.0)
    assert w[:60].sum() == pytest.approx(w[60:80].sum()) == pytest.approx(w[80:].sum() / 2)
    with pytest.raises(Exception, match="balance"):
        sample_weights(cs, "photo")


def test_the_probe_subset_caps_big_sources_and_keeps_small_ones_whole():
    from fakeface.train.data.dataset import CropSet, at_most_per_source

    sources = ["real/big"] * 60 + ["real/small"] * 20 + ["fake/only"] * 40
    labels = np.array([0] * 80 + [1] * 40, np.int32)
    images = np.arange(120, dtype=np.uint8).reshape(120, 1, 1, 1).repeat(3, axis=3)
    cs = CropSet(images=images, labels=labels, sources=sources, paths=[f"p{i}" for i in range(120)])
    sub = at_most_per_source(cs, 25, seed=3)
    assert Counter(sub.sources) == {"real/big": 25, "real/small": 20, "fake/only": 25}
    # Rows stay together: each kept crop has its own label, source, path and pixels.
    kept = [int(p[1:]) for p in sub.paths]
    assert kept == sorted(kept) and len(set(kept)) == len(kept)
    assert [int(v) for v in sub.images[:, 0, 0, 0]] == kept
    assert sub.labels.tolist() == [int(labels[i]) for i in kept]
    assert at_most_per_source(cs, 25, seed=3).paths == sub.paths  # the seed fixes the choice
    assert at_most_per_source(cs, 60) is cs


def test_crops_of_another_size_are_resized_or_refused_one_by_one(tmp_path):
    import cv2

    from fakeface.train.data.dataset import WRONG_SIZE, load_crops

    for rel, side in (("real/a/x.jpg.png", 8), ("fake/b/y.jpg.png", 8), ("fake/b/stray.png", 20)):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(tmp_path / rel), np.full((side, side, 3), 90, np.uint8))
    samples = scan_folder(tmp_path, cropped=True)
    resized, bad = load_crops(samples, size=8, progress=False)
    assert resized.images.shape == (3, 8, 8, 3) and bad == []
    strict, bad = load_crops(samples, size=8, progress=False, resize=False)
    assert sorted(strict.paths) == ["fake/b/y.jpg.png", "real/a/x.jpg.png"]
    assert [rel for rel, _ in bad] == ["fake/b/stray.png"] and bad[0][1].endswith(WRONG_SIZE)


def test_int8_training_and_the_export_calibrate_on_the_same_crops(tmp_path):
    """`train --int8-consistency` imitates the rounding of the ranges `fakeface export --calib`
    measures, so both must pick the same crops; prepare's context/ windows are not crops."""
    from fakeface.export.crops import calibration_paths
    from fakeface.train.data.layout import CONTEXT_DIR, calibration_choice, select_split

    for cls in ("real", "fake"):
        for i in range(60):
            for top in (cls, f"{CONTEXT_DIR}/{cls}"):
                f = tmp_path / top / "src" / f"{i:03d}.jpg.png"
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_bytes(b"")  # only the names matter here
    exported = [p.relative_to(tmp_path).as_posix() for p in calibration_paths(tmp_path, 20, "train")]
    train = [s.rel for s in select_split(scan_folder(tmp_path, cropped=True), "train")]
    assert len(exported) == 20 and not any(r.startswith(CONTEXT_DIR) for r in exported)
    assert [train[i] for i in calibration_choice(train, 20)] == exported
    assert {r.split("/")[0] for r in exported} == {"real", "fake"}  # the order mixes the classes


def test_source_share_keeps_a_nested_share_of_one_source_and_names_bad_sources(tmp_path, capsys):
    """`train --source-share` is for learning curves: the kept photos of a source must nest
    (0.25 within 0.5), keep a photo's faces together, leave other sources whole, and a name
    that matches no source, or several, is refused in one line."""
    import cv2

    from fakeface.edge.cli import main
    from fakeface.edge.errors import FakeFaceError
    from fakeface.train.data.dataset import load_split

    pixel = np.zeros((4, 4, 3), np.uint8)
    for source in ("fake/stylegan1-140k", "real/ffhq-140k", "real/a", "fake/a"):
        (tmp_path / source).mkdir(parents=True)
        for i in range(300):
            cv2.imwrite(str(tmp_path / source / f"{i:03d}.jpg.png"), pixel)
            if i % 10 == 0:  # a second face in some photos
                cv2.imwrite(str(tmp_path / source / f"{i:03d}.jpg.face1.png"), pixel)

    def kept(shares):
        cs, _ = load_split(tmp_path, "train", progress=False, shares=shares)
        return Counter(cs.sources), set(cs.paths)

    whole, all_paths = kept(None)
    half, half_paths = kept({"stylegan1-140k": 0.5, "real/ffhq-140k": 0.5})
    quarter, quarter_paths = kept({"fake/stylegan1-140k": 0.25, "ffhq-140k": 0.25})
    for source in ("fake/stylegan1-140k", "real/ffhq-140k"):
        assert 0.38 < half[source] / whole[source] < 0.62, (source, half, whole)
        assert 0.14 < quarter[source] / whole[source] < 0.36, (source, quarter, whole)
    assert half["real/a"] == whole["real/a"] and quarter["fake/a"] == whole["fake/a"]
    assert quarter_paths < half_paths < all_paths
    photos_with_two = [p for p in half_paths if p.endswith(".face1.png")]
    assert photos_with_two and all(p.replace(".face1.png", ".png") in half_paths for p in photos_with_two)
    assert kept({"stylegan1-140k": 1.0}) == (whole, all_paths)

    with pytest.raises(FakeFaceError, match=r"--source-share stylegan9: has no train crops"):
        load_split(tmp_path, "train", progress=False, shares={"stylegan9": 0.5})
    with pytest.raises(FakeFaceError, match=r"--source-share a: names several sources"):
        load_split(tmp_path, "train", progress=False, shares={"a": 0.5})
    for bad in ("fake/a=0", "fake/a=1.5", "fake/a", "=0.5", "fake/a=half"):
        with pytest.raises(SystemExit) as stop:
            main(["train", str(tmp_path), "--out", str(tmp_path / "run"), "--source-share", bad])
        ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fakeface ")]
        assert stop.value.code == 2 and len(ours) == 1 and "argument --source-share" in ours[0], (bad, ours)


def test_people_numbered_in_file_names_stay_in_one_split_and_fill_every_split():
    from fakeface.train.data.layout import group_of, person_of

    frames = [f"real/nuaa-webcam/nuaa_{p:04d}_00_00_01_{f}.jpg" for p in range(1, 11) for f in range(40)]
    by_person = {}
    for key in frames:
        by_person.setdefault(person_of(key), set()).add(split_of(key))
    assert len(by_person) == 10 and all(len(splits) == 1 for splits in by_person.values())  # never split a person
    # ten people numbered 1-10: eight train, one validation, one test (an md5 of the names left val/test empty)
    assert Counter(next(iter(s)) for s in by_person.values()) == {"train": 8, "val": 1, "test": 1}
    assert person_of("real/taiwanese-studio/tw_0309c14.jpg") == "real/taiwanese-studio/tw_03"
    assert split_of("real/taiwanese-studio/tw_0309c14.jpg") == split_of("real/taiwanese-studio/tw_0301a02.jpg")
    # no person in the name: the photo is its own group and keeps the md5 rule
    assert person_of("real/utkface/26_1_2_2017.jpg.chip.jpg") is None
    assert group_of("real/utkface/26_1_2_2017.jpg.chip.jpg") == "real/utkface/26_1_2_2017.jpg.chip.jpg"


def test_source_balance_counts_every_person_of_a_source_the_same():
    from fakeface.train.data.dataset import CropSet, sample_weights

    # one webcam person with 30 frames, another with 10, and 40 single web photos; fakes alone
    paths = ([f"real/cam/nuaa_0001_{i}.jpg.png" for i in range(30)] + [f"real/cam/nuaa_0002_{i}.jpg.png" for i in range(10)]
             + [f"real/web/{i}.jpg.png" for i in range(40)] + [f"fake/f/{i}.jpg.png" for i in range(40)])
    sources = ["real/cam"] * 40 + ["real/web"] * 40 + ["fake/f"] * 40
    labels = np.array([0] * 80 + [1] * 40, np.int32)
    cs = CropSet(images=np.zeros((120, 1, 1, 3), np.uint8), labels=labels, sources=sources, paths=paths)
    w = sample_weights(cs, "source")
    assert w.mean() == pytest.approx(1.0)
    assert w[:30].sum() == pytest.approx(w[30:40].sum())  # person 1 and person 2 weigh the same in all
    assert w[:40].sum() == pytest.approx(w[40:80].sum()) == pytest.approx(w[80:].sum() / 2)
    assert np.allclose(w[40:80], w[40])  # photos without a person: as before, all alike


def test_a_source_weight_moves_its_share_to_the_rest_of_its_class():
    from fakeface.edge.errors import FakeFaceError
    from fakeface.train.data.dataset import CropSet, resolve_source_weights, sample_weights

    sources = ["real/a"] * 20 + ["fake/studio-like"] * 20 + ["fake/gan"] * 20
    paths = [f"{s}/{i}.jpg.png" for i, s in enumerate(sources)]
    cs = CropSet(images=np.zeros((60, 1, 1, 3), np.uint8), labels=np.array([0] * 20 + [1] * 40, np.int32),
                 sources=sources, paths=paths)
    plain = sample_weights(cs, "source")
    weights = resolve_source_weights({"studio-like": 0.25}, cs.sources)
    assert weights == {"fake/studio-like": 0.25}
    w = sample_weights(cs, "source", weights)
    assert w[:20].sum() == pytest.approx(plain[:20].sum())  # the real class is untouched
    assert w[20:].sum() == pytest.approx(plain[20:].sum())  # the fake class keeps its total...
    assert w[20:40].sum() == pytest.approx(0.25 * w[40:].sum())  # ...a quarter of it for studio-like
    assert sample_weights(cs, "source", {"fake/studio-like": 0.0})[20:40].sum() == 0.0
    with pytest.raises(FakeFaceError, match="--source-weight nowhere: no such source folder"):
        resolve_source_weights({"nowhere": 1.0}, cs.sources)
    with pytest.raises(FakeFaceError, match="leaves the fake class with no weight"):
        sample_weights(cs, "source", {"fake/studio-like": 0.0, "fake/gan": 0.0})


def test_rates_counted_by_person_count_each_person_once():
    from fakeface.train.reports.metrics import rate_by_group

    # 40 accepted frames of one person and 0 of 2 photos of another: 0.5 by person, 0.95 by frame
    hits = [True] * 40 + [False] * 2
    rate, groups = rate_by_group(hits, ["a"] * 40 + ["b"] * 2)
    assert (rate, groups) == (pytest.approx(0.5), 2)
    assert rate_by_group(hits, [str(i) for i in range(42)])[0] == pytest.approx(40 / 42)
    assert rate_by_group([], [])[1] == 0
