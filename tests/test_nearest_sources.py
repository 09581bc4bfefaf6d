"""The nearest-sources probe places a face among the training sources its model's features
put it next to: a held-out real source that looks like the reals lands among the reals."""

from __future__ import annotations

import shutil

import numpy as np
import pytest


def test_nearest_counts_follow_the_feature_clusters():
    from fakeface.train.reports.nearest_sources import nearest_counts

    rng = np.random.default_rng(0)
    pool = np.vstack([rng.normal((3, 0), 0.3, (40, 2)), rng.normal((0, 3), 0.3, (40, 2))])
    sources = ["real/a"] * 40 + ["fake/x"] * 40
    queries = np.array([[2.8, 0.2], [0.1, 3.1]])
    near_real, near_fake = nearest_counts(queries, pool, sources, k=10)
    assert near_real == {"real/a": 10} and near_fake == {"fake/x": 10}
    assert sum(nearest_counts(queries, pool, sources, k=500)[0].values()) == 80  # k capped at the pool


@pytest.mark.tf
def test_a_held_out_real_source_lands_among_the_reals(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from tiny_models import build_tiny_model, write_synthetic_crops

    from fakeface.train.reports.nearest_sources import main, nearest_sources

    crops = write_synthetic_crops(tmp_path / "crops", n=320, size=32)
    held = crops / "real" / "held"
    held.mkdir()
    for f in sorted((crops / "real" / "synthetic").iterdir())[::4]:  # a quarter of the reals: the "unseen studio"
        shutil.move(str(f), held / f.name)
    model = build_tiny_model(tmp_path / "model", crops_dir=crops, steps=120, input_size=32)

    rows = nearest_sources(model, crops, ["real/held"], pool_split="all", per_source=200, k=9)
    assert len(rows) == len(list(held.iterdir()))
    assert all(sum(r["nearest"].values()) == 9 and "real/held" not in r["nearest"] for r in rows)
    # a model that learned the task puts real faces next to reals (with a constant one every
    # face would tie with every crop, and its neighbours would be whatever comes first)
    assert np.mean([r["fake_neighbours"] for r in rows]) < 0.3

    assert main([str(model), str(crops), "--sources", "real/held", "-k", "5", "--pool-split", "all"]) == 0
    assert "| face | p(fake) | fakes among 5 nearest |" in capsys.readouterr().out
    assert main([str(model), str(crops), "--sources", "real/nowhere"]) == 2
    assert "--sources real/nowhere: no such source folder" in capsys.readouterr().err
