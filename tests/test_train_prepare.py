"""`fakeface prepare`: crops cut like the edge runtime, a manifest, resumable, never fatal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from fakeface.edge.contract import ModelContract, crop_face
from fakeface.edge.imageio import load_image
from fakeface.train.data.prepare import DEFAULT_CROP_MARGIN, DEFAULT_CROP_MODE, DEFAULT_INPUT_SIZE

pytestmark = pytest.mark.tf


def _cli(*argv) -> int:
    from fakeface.edge.cli import main

    return main([str(a) for a in argv])


def _manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture
def messy_folder(tmp_path, sample_photo):
    pytest.importorskip("tensorflow")
    src = tmp_path / "src"
    (src / "real" / "people").mkdir(parents=True)
    (src / "fake" / "gan" / "nested").mkdir(parents=True)
    if Path(sample_photo).is_file():
        shutil.copy(sample_photo, src / "real" / "people" / "astronaut.jpg")
    (src / "fake" / "gan" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    sky = np.zeros((120, 160, 3), np.uint8)
    sky[:] = np.linspace(80, 220, 160)[None, :, None].astype(np.uint8)
    cv2.imwrite(str(src / "fake" / "gan" / "nested" / "sky.png"), sky)
    return src


def test_prepare_is_tolerant_and_resumable(messy_folder, tmp_path, capsys):
    out = tmp_path / "crops"
    assert _cli("prepare", messy_folder, out, "--workers", "1", "--quiet", "--crop", "native", "--input-size", "64", "--context", "160") == 0
    records = {r["source"]: r for r in _manifest(out)}
    assert records["fake/gan/broken.jpg"]["status"] == "unreadable"
    assert records["fake/gan/nested/sky.png"]["status"] == "no_face"
    err = capsys.readouterr().err
    assert "broken.jpg" in err and "no face" in err
    if "real/people/astronaut.jpg" in records:
        r = records["real/people/astronaut.jpg"]
        assert r["status"] == "ok" and len(r["landmarks"]) == 5
        crop = load_image(out / r["crop"])
        # the crop is exactly what the edge runtime cuts from the stored box
        g = json.loads((out / "crops.json").read_text())
        contract = ModelContract(input_size=64, crop_margin=g["crop_margin"], crop_mode=g["crop_mode"],
                                 native_max_side=g["native_max_side"])
        expected = crop_face(load_image(messy_folder / r["source"]), r["box"], contract)
        np.testing.assert_array_equal(crop, expected)
        # --context keeps a wider window of the same face for training, centred on the crop
        assert g["context"] == 160
        wide = load_image(out / "context" / r["crop"])
        side = wide.shape[0]
        assert 64 < side <= 160
        off = (side - 64) // 2
        np.testing.assert_array_equal(wide[off:off + 64, off:off + 64], crop)

    # a run killed mid-line left a torn manifest line; a rerun skips finished photos and repairs it
    with open(out / "manifest.jsonl", "a") as f:
        f.write('{"source": "real/peo')
    (out / "fake" / "gan").mkdir(parents=True, exist_ok=True)
    (out / "fake" / "gan" / ".x.png.abc.partial").write_bytes(b"half")
    n_before = len(_manifest_lines(out))
    assert _cli("prepare", messy_folder, out, "--workers", "1", "--quiet", "--crop", "native", "--input-size", "64", "--context", "160") == 0
    assert "3 already done, 0 processed" in capsys.readouterr().out
    assert not list(out.rglob("*.partial"))
    assert len(_manifest_lines(out)) == n_before  # nothing redone

    # another geometry into the same folder is refused, not mixed
    assert _cli("prepare", messy_folder, out, "--workers", "1", "--quiet", "--crop", "native", "--input-size", "96") == 2
    assert _cli("prepare", messy_folder, out, "--workers", "1", "--quiet", "--crop", "native", "--input-size", "64") == 2
    # an odd context margin could not put the crop at its centre
    assert _cli("prepare", messy_folder, tmp_path / "odd", "--quiet", "--crop", "native", "--input-size", "64", "--context", "97") == 2
    assert "must be even" in capsys.readouterr().err


def test_prepare_defaults_are_the_shipped_models_geometry():
    from fakeface.edge.classifier import default_model_path
    from fakeface.edge.contract import load_contract

    shipped = load_contract(default_model_path())
    assert (shipped.input_size, shipped.crop_margin, shipped.crop_mode) == \
        (DEFAULT_INPUT_SIZE, DEFAULT_CROP_MARGIN, DEFAULT_CROP_MODE)


def _manifest_lines(out: Path) -> list[dict]:
    lines = []
    for line in (out / "manifest.jsonl").read_text().splitlines():
        try:
            lines.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return lines


@pytest.mark.data
@pytest.mark.slow
def test_prepare_real_photos_and_recut_from_boxes(faces_dir, tmp_path):
    pytest.importorskip("tensorflow")
    src = tmp_path / "src"
    for cls, source in (("real", "ffhq-128"), ("fake", "stylegan2-tpdne-128")):
        (src / cls / source).mkdir(parents=True)
        for p in sorted((faces_dir / cls / source).iterdir())[:3]:
            shutil.copy(p, src / cls / source / p.name)
    out = tmp_path / "crops"
    assert _cli("prepare", src, out, "--workers", "2", "--quiet") == 0
    ok = [r for r in _manifest(out) if r["status"] == "ok"]
    assert len(ok) >= 5
    # recut at another size from the stored boxes, without a detector
    out2 = tmp_path / "crops128"
    assert _cli("prepare", src, out2, "--workers", "1", "--quiet", "--input-size", "128",
                "--reuse-boxes", out / "manifest.jsonl") == 0
    for r in _manifest(out2):
        if r["status"] == "ok":
            assert load_image(out2 / r["crop"]).shape == (128, 128, 3)
            assert r["box"] == next(o["box"] for o in ok if o["source"] == r["source"])
    # recut at native pixel scale: the crop is the contract's native window of the photo
    out3 = tmp_path / "crops_native"
    assert _cli("prepare", src, out3, "--workers", "1", "--quiet", "--crop", "native",
                "--reuse-boxes", out / "manifest.jsonl") == 0
    geometry = json.loads((out3 / "crops.json").read_text())
    assert geometry["crop_mode"] == "native" and geometry["input_size"] == DEFAULT_INPUT_SIZE
    contract = ModelContract(input_size=DEFAULT_INPUT_SIZE, crop_margin=geometry["crop_margin"], crop_mode="native",
                             native_max_side=geometry["native_max_side"])
    r = next(r for r in _manifest(out3) if r["status"] == "ok")
    expected = crop_face(load_image(src / r["source"]), r["box"], contract)
    assert np.array_equal(load_image(out3 / r["crop"]), expected)
    # the same folder cannot be continued with another crop mode
    assert _cli("prepare", src, out3, "--workers", "1", "--quiet", "--crop", "resize",
                "--reuse-boxes", out / "manifest.jsonl") != 0
