"""`fakeface generalise shortcuts` and `generalise jitter` on models that really have (or
lack) the property under test.

The shortcut audit must flag a shortcut that a model really learned: a tiny model is
trained on synthetic faces whose only difference between the classes is the background
(flat behind fakes, textured behind reals), and the audit must name "background_flat".
The jitter report must measure zero change for unmoved boxes and some change otherwise.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fakeface.edge.atomic import write_bytes_atomic, write_text_atomic

pytestmark = pytest.mark.tf

MARGIN = 0.4
SIZE = 48


def _background_shortcut_crops(root, n=240, seed=0):
    """Synthetic face crops, identical in distribution inside the face box; outside it,
    reals get a random texture and fakes a flat colour."""
    from fakeface.train.reports.shortcut_audit import outside_face_mask
    from tiny_models import synthetic_faces

    rng = np.random.default_rng(seed)
    faces, labels = synthetic_faces(2 * n, SIZE, seed)
    faces = faces[labels == 0]  # only the plain faces: nothing inside the box tells the classes apart
    outside = outside_face_mask(SIZE, MARGIN, feather=0.01)
    for i, face in enumerate(faces):
        fake = i % 2 == 1
        background = np.ones_like(face, np.float32) * rng.integers(60, 200, 3)  # same colours in both classes
        if not fake:  # reals: the same colour, textured
            background += cv2.GaussianBlur(rng.uniform(-120, 120, face.shape).astype(np.float32), (0, 0), 1.0)
        img = np.clip(face * (1 - outside) + background * outside, 0, 255).astype(np.uint8)
        cls = "fake" if fake else "real"
        ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        write_bytes_atomic(root / cls / "synthetic" / f"face{i:04d}.jpg.png", png.tobytes())
    write_text_atomic(root / "crops.json", json.dumps({"input_size": SIZE, "crop_margin": MARGIN}) + "\n")
    return root


def _cli(*argv) -> int:
    from fakeface.edge.cli import main

    return main([str(a) for a in argv])


def test_shortcut_audit_flags_a_background_shortcut(tmp_path, capsys):
    from tiny_models import build_tiny_model

    crops = _background_shortcut_crops(tmp_path / "crops")
    model = build_tiny_model(tmp_path / "model", crops_dir=crops, steps=200, input_size=SIZE)
    assert _cli("generalise", "shortcuts", model, crops, "--split", "all", "--threshold", "0.5",
                "--out", tmp_path / "audit", "--quiet") == 0
    out = capsys.readouterr().out
    rep = json.loads((tmp_path / "audit" / "shortcuts.json").read_text())
    rows = {r["name"]: r for r in rep["rows"]}
    flat = rows["background_flat"]
    assert flat["shortcut"] and flat["mean_change"] > 0.1, flat  # the learned cue really moves reals to fake
    assert flat["accepted"] < rep["accepted"]
    assert max(rows.values(), key=lambda r: r["mean_change"])["name"] == "background_flat"  # the strongest cue
    assert not rows["saturation_1.4"]["shortcut"]  # colour says nothing about the class here
    for r in rep["rows"]:
        lo, hi = r["mean_change_ci"]
        assert lo <= r["mean_change"] <= hi
    assert "| background_flat:" in out and "**yes**" in out
    assert (tmp_path / "audit" / "shortcuts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # --sources: one held-out source's faces only (a leave-one-out fold's), named as a folder or its end
    assert _cli("generalise", "shortcuts", model, crops, "--split", "all", "--threshold", "0.5", "--json",
                "--sources", "synthetic", "--quiet") == 0
    only = json.loads(capsys.readouterr().out)
    assert only["sources"] == ["real/synthetic"] and only["n_real"] == rep["n_real"]
    assert only["rows"][0]["mean_change"] == pytest.approx(rep["rows"][0]["mean_change"])
    assert _cli("generalise", "shortcuts", model, crops, "--sources", "real/studio", "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert "--sources real/studio: no such source folder" in err and "real/synthetic" in err and "\n" not in err


def _photos_with_manifest(root, n=12, seed=3):
    """Photos with one synthetic face each, and the manifest 'prepare' would write for them."""
    from tiny_models import synthetic_faces

    faces, labels = synthetic_faces(n, 64, seed)
    photos, crops = root / "photos", root / "crops"
    lines = []
    for i, (face, label) in enumerate(zip(faces, labels)):
        canvas = np.full((160, 160, 3), 128, np.uint8)
        canvas[48:112, 48:112] = face
        rel = f"{'fake' if label else 'real'}/synthetic/p{i:03d}.png"
        ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
        write_bytes_atomic(photos / rel, png.tobytes())
        lines.append(json.dumps({"source": rel, "status": "ok", "box": [56.0, 52.0, 48.0, 58.0], "face": 0}))
    lines.append('{"source": "real/synthetic/torn')  # an interrupted prepare's last line is ignored
    write_text_atomic(crops / "manifest.jsonl", "\n".join(lines) + "\n")
    return photos, crops


def test_jitter_report_measures_box_moves(tmp_path, capsys):
    from fakeface.train.reports.box_stability import jitter_report, moved_boxes
    from tiny_models import build_tiny_model

    photos, crops = _photos_with_manifest(tmp_path)
    model = build_tiny_model(tmp_path / "model", steps=40)
    still = jitter_report(model, crops, photos, split="all", shift=0.0, scale=0.0, progress=False)
    assert still.n_faces == 12 and still.maximum == 0.0 and still.decision_flips == 0.0
    moved = jitter_report(model, crops, photos, split="all", progress=False)
    assert moved.maximum > 0.0 and 0.0 <= moved.median <= moved.p90 <= moved.maximum <= 1.0
    assert set(moved.per_source) == {"real/synthetic", "fake/synthetic"}
    # the 1-px input move does not depend on the box moves: the same with and without them
    assert still.pixel_p90 == pytest.approx(moved.pixel_p90, abs=1e-6) and 0.0 <= moved.pixel_median <= moved.pixel_p90

    boxes = moved_boxes((10, 20, 40, 50), 0.05, 0.10)
    assert boxes[0] == (12.5, 20, 40, 50) and boxes[3] == (10, 17.5, 40, 50)  # 5 % of the longer side
    assert boxes[4] == pytest.approx((12, 22.5, 36, 45)) and boxes[5] == pytest.approx((8, 17.5, 44, 55))

    assert _cli("generalise", "jitter", model, crops, "--photos", photos, "--split", "all",
                "--out", tmp_path / "rep", "--quiet") == 0
    assert "90th percentile" in capsys.readouterr().out
    assert json.loads((tmp_path / "rep" / "jitter.json").read_text())["n_faces"] == 12


def test_one_pixel_moves_shift_the_content_without_resampling():
    from fakeface.train.reports.box_stability import one_pixel_moves

    crop = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
    right, left, down, up = one_pixel_moves(crop)
    assert right.shape == left.shape == down.shape == up.shape == crop.shape
    assert (right[:, 1:] == crop[:, :-1]).all() and (right[:, 0] == crop[:, 0]).all()
    assert (left[:, :-1] == crop[:, 1:]).all() and (left[:, -1] == crop[:, -1]).all()
    assert (down[1:] == crop[:-1]).all() and (down[0] == crop[0]).all()
    assert (up[:-1] == crop[1:]).all() and (up[-1] == crop[-1]).all()


def test_jitter_report_needs_the_photo_folder(tmp_path, capsys):
    photos, crops = _photos_with_manifest(tmp_path, n=2)
    code = _cli("generalise", "jitter", crops / "none.keras", crops, "--photos", tmp_path / "missing")
    assert code == 2
    err = capsys.readouterr().err
    assert "missing" in err and "Traceback" not in err
