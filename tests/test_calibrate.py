"""`fakeface calibrate` cannot silently ruin a model (issue 29, item 3).

A copy of the shipped model is calibrated in the edge environment: too few faces per class
are refused with exit 2, and the model's sidecar changes only with --write.
"""

from __future__ import annotations

import json
import shutil

import pytest

from fakeface.edge.cli import main
from fakeface.edge.contract import load_contract, sidecar_path
from fakeface.edge.strict_json import loads_strict

from conftest import REPO
from tiny_models import write_synthetic_crops

SHIPPED = REPO / "edge" / "models" / "fakeface.tflite"


@pytest.fixture()
def model(tmp_path):
    """A copy of the shipped model with its sidecar (the installed one is never touched)."""
    dest = tmp_path / "model" / SHIPPED.name
    dest.parent.mkdir()
    shutil.copyfile(SHIPPED, dest)
    shutil.copyfile(sidecar_path(SHIPPED), sidecar_path(dest))
    return dest


@pytest.fixture(scope="module")
def crops_40(tmp_path_factory):
    """40 photos' crops: their validation split holds 1 real and 2 fakes."""
    return write_synthetic_crops(tmp_path_factory.mktemp("c40"), n=40, size=128, crop_margin=0.25)


@pytest.fixture(scope="module")
def crops_60(tmp_path_factory):
    """30 real and 30 fake crops: enough for --split all."""
    return write_synthetic_crops(tmp_path_factory.mktemp("c60"), n=60, size=128, crop_margin=0.25)


def test_forty_photos_are_refused_with_exit_2_and_nothing_written(model, crops_40, capsys):
    before = sidecar_path(model).read_bytes()
    code = main(["calibrate", str(model), str(crops_40), "--cropped", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    old = load_contract(model).threshold
    assert "1 real and 2 fake faces, fewer than 20 of each" in err and f"threshold stays {old:.4g}" in err
    assert sidecar_path(model).read_bytes() == before
    assert sorted(p.name for p in model.parent.iterdir()) == [model.name, sidecar_path(model).name]


def test_write_refused_too(model, crops_40, capsys):
    before = sidecar_path(model).read_bytes()
    assert main(["calibrate", str(model), str(crops_40), "--cropped", "--quiet", "--write"]) == 2
    assert sidecar_path(model).read_bytes() == before


def test_default_proposes_beside_the_sidecar_and_keeps_it(model, crops_60, capsys):
    before = sidecar_path(model).read_bytes()
    old = load_contract(model).threshold
    assert main(["calibrate", str(model), str(crops_60), "--cropped", "--split", "all", "--json"]) == 0
    result = loads_strict(capsys.readouterr().out)
    assert result["target_real_acceptance"] == 0.95  # the recipe's default
    assert result["written"] is False and result["previous_threshold"] == old
    assert sidecar_path(model).read_bytes() == before  # untouched
    proposed = sidecar_path(model).with_name(sidecar_path(model).name + ".calibrated")
    assert result["proposed_sidecar"] == str(proposed)
    doc = loads_strict(proposed.read_text())
    assert doc["threshold"] == pytest.approx(result["threshold"]) and doc["threshold"] != old
    assert doc["calibration"]["previous_threshold"] == old and doc["sha256"] == json.loads(before)["sha256"]

    main(["calibrate", str(model), str(crops_60), "--cropped", "--split", "all"])
    out = capsys.readouterr().out
    assert "NOT installed" in out and f"still says {old:.4g}" in out and "--write" in out


def test_write_installs_and_keeps_the_old_value(model, crops_60, capsys):
    old = load_contract(model).threshold
    assert main(["calibrate", str(model), str(crops_60), "--cropped", "--split", "all", "--write"]) == 0
    out = capsys.readouterr().out
    assert "-> " in out and f"written to {sidecar_path(model)}" in out and "previous_threshold" in out
    contract = load_contract(model)  # still verifies the sha256: the model file is untouched
    assert contract.threshold != old and contract.calibration["previous_threshold"] == old
    loads_strict(sidecar_path(model).read_text())
    assert not sidecar_path(model).with_name(sidecar_path(model).name + ".calibrated").exists()
