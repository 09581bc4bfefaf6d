"""pipeline.json follows the code: change a constant, an option or the contract, and it changes too."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fakeface.edge.checker_options import CheckerOptions
from fakeface.edge.mtcnn import stages
from fakeface.edge.mtcnn.detector import DetectorOptions
from fakeface.export.kit.models import classifier_variants
from fakeface.export.kit.pipeline import CONSTANTS, build_pipeline

NET_FILES = {"pnet": ["pnet.tflite"], "rnet": ["rnet.tflite"], "onet": ["onet.tflite"]}


@pytest.fixture(scope="module")
def variants():
    return classifier_variants()


def lookup(tree: dict, path: str):
    for key in path.split("."):
        tree = tree[key]
    return tree


def changed(value):
    """A different value of the same kind."""
    if isinstance(value, (float, np.floating)):
        return type(value)(float(value) * 0.5 + 0.125)
    return value + 3


@pytest.mark.parametrize("path, module, attribute", CONSTANTS, ids=[c[0] for c in CONSTANTS])
def test_every_constant_is_read_from_its_module(variants, monkeypatch, path, module, attribute):
    before = lookup(build_pipeline(CheckerOptions(), variants, NET_FILES), path)
    assert before == pytest.approx(float(getattr(module, attribute)))
    monkeypatch.setattr(module, attribute, changed(getattr(module, attribute)))
    after = lookup(build_pipeline(CheckerOptions(), variants, NET_FILES), path)
    assert after == pytest.approx(float(getattr(module, attribute))) and after != before


def test_the_cascade_uses_the_nms_overlaps_pipeline_json_states(variants):
    """The stage functions' own defaults: the names pipeline.json reads are the ones stages.py runs with."""
    nms = build_pipeline(CheckerOptions(), variants, NET_FILES)["nms"]
    assert [nms[k]["overlap"] for k in ("pnet_level", "pnet_all", "rnet", "onet")] == [
        stages.NMS_PNET_LEVEL, stages.NMS_PNET_ALL, stages.NMS_RNET, stages.NMS_ONET]
    assert [nms[k]["kind"] for k in ("pnet_level", "pnet_all", "rnet", "onet")] == ["union", "union", "union", "min"]


def test_detector_settings_follow_the_options(variants):
    options = CheckerOptions(min_face_size=40, detector=DetectorOptions(thresholds=(0.5, 0.6, 0.9), scale_factor=0.8))
    tree = build_pipeline(options, variants, NET_FILES)
    assert tree["detection"]["thresholds"] == {"pnet": 0.5, "rnet": 0.6, "onet": 0.9}
    assert tree["detection"]["min_face_size"] == tree["pyramid"]["min_face_size"] == 40
    assert tree["pyramid"]["scale_factor"] == 0.8
    default = build_pipeline(CheckerOptions(), variants, NET_FILES)
    assert default["detection"]["thresholds"] == dict(zip(("pnet", "rnet", "onet"), DetectorOptions().thresholds))


def test_crop_contract_and_threshold_come_from_the_sidecar(variants):
    moved = [dataclasses.replace(variants[0], contract=dataclasses.replace(variants[0].contract, threshold=0.4242,
                                                                          crop_margin=0.3))]
    contract = build_pipeline(CheckerOptions(), moved, NET_FILES)["classifier"]["contract"]
    assert contract["threshold"] == 0.4242 and contract["crop_margin"] == 0.3
    shipped = build_pipeline(CheckerOptions(), variants, NET_FILES)["classifier"]
    assert shipped["contract"]["input_size"] == variants[0].contract.input_size
    assert [v["format"] for v in shipped["variants"]] == [v.fmt.key for v in variants]
    for row in shipped["variants"]:
        assert row["input"]["shape"][1:] == [variants[0].contract.input_size] * 2 + [3]
