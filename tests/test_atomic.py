"""Atomic writes: a reader never sees half a file, and what a killed writer left is cleared."""

from __future__ import annotations

import pytest

from fakeface.edge.atomic import atomic_path, remove_stale_partials


def test_temporary_name_keeps_the_suffix_when_asked(tmp_path):
    target = tmp_path / "model.keras"
    with atomic_path(target, keep_suffix=True) as tmp:
        assert tmp.name.startswith(".model.") and tmp.name.endswith(".partial.keras")
        tmp.write_bytes(b"weights")
    assert target.read_bytes() == b"weights" and not tmp.exists()


def test_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_stale_partials_of_both_name_forms_are_removed_and_nothing_else(tmp_path):
    (tmp_path / "fake" / "gan").mkdir(parents=True)
    stale = [tmp_path / "fake" / "gan" / ".x.png.abc123.partial", tmp_path / ".last.k9.partial.keras"]
    kept = [tmp_path / "fake" / "gan" / "x.png", tmp_path / "partial.txt", tmp_path / "last.keras"]
    for p in stale + kept:
        p.write_bytes(b"x")
    (tmp_path / ".kit.partial-dir").mkdir()  # a folder is not an atomic_path leftover
    remove_stale_partials(tmp_path)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    assert (tmp_path / ".kit.partial-dir").is_dir()
