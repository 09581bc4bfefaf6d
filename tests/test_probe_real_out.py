"""The frozen-feature leave-one-real-out probe scores a held-out source honestly: a source whose
features look like the fakes' is turned away, one that looks like the other reals is accepted."""

from __future__ import annotations

import numpy as np

from fakeface.train.data.dataset import CropSet
from fakeface.train.reports.probe_real_out import fold_row


def _split(rng, n_per_source: int, held_like: str, split: str):
    sources = ["real/a", "real/b", "fake/x", "fake/y", "real/held"]
    feats, labels, srcs, paths = [], [], [], []
    for s in sources:
        fake = s.startswith("fake/") or (s == "real/held" and held_like == "fake")
        centre = 1.5 if fake else -1.5
        feats.append(rng.normal(centre, 1.0, (n_per_source, 4)))
        labels += [1 if s.startswith("fake/") else 0] * n_per_source
        srcs += [s] * n_per_source
        paths += [f"{s}/{split}{i}.jpg.png" for i in range(n_per_source)]
    images = np.zeros((len(labels), 2, 2, 3), np.uint8)
    return np.vstack(feats), CropSet(images, np.array(labels, np.int32), srcs, paths)


def _row(held_like: str) -> dict:
    rng = np.random.default_rng(0)
    splits, feats = {}, {}
    for name, n in (("train", 60), ("val", 30), ("test", 30)):
        x, cs = _split(rng, n, held_like, name)
        splits[name], feats[name] = cs, {"head": x}
    return fold_row(feats, splits, "real/held", "head")


def test_a_held_out_source_that_looks_real_is_accepted():
    row = _row("real")
    assert row["accepted"] > 0.85 and row["held_out_auc"] > 0.95
    assert row["test_fakes_caught"] > 0.85


def test_a_held_out_source_that_looks_fake_is_turned_away():
    row = _row("fake")
    assert row["accepted"] < 0.2 and row["held_out_auc"] < 0.6
    assert row["people"] == 120  # no person numbers in these names: every photo counts alone


def test_dropping_the_fake_source_that_teaches_the_confusion_is_measured():
    rng = np.random.default_rng(1)
    splits, feats = {}, {}
    for name, n in (("train", 60), ("val", 30), ("test", 30)):
        x, cs = _split(rng, n, "real", name)
        # fake/y sits where the held-out reals sit, on the other side of feature 1
        y_rows = np.array([s == "fake/y" for s in cs.sources])
        held_rows = np.array([s == "real/held" for s in cs.sources])
        x[held_rows, 1] += 6.0
        x[y_rows] = x[held_rows] + rng.normal(0, 0.3, x[held_rows].shape)
        splits[name], feats[name] = cs, {"head": x}
    with_y = fold_row(feats, splits, "real/held", "head")
    without_y = fold_row(feats, splits, "real/held", "head", drop=("fake/y",))
    assert with_y["accepted"] < 0.3
    assert without_y["dropped"] == ["fake/y"]
    assert without_y["held_out_auc_seen_fakes"] > 0.9 > with_y["held_out_auc"]
