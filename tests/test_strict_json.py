"""Every JSON the project writes parses with a strict parser: null, never NaN (issue 29, item 5).

A mobile app's or a browser's JSON parser rejects ``NaN`` and ``Infinity``, which Python's
json writes by default.  The last test runs a tiny train -> calibrate -> export and parses
every JSON file the run left behind, and every JSON line the commands printed.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from fakeface.edge.strict_json import dumps, json_safe, loads_strict, write_json


def test_non_finite_numbers_become_null():
    doc = {"a": float("nan"), "b": [1.0, float("inf"), -float("inf")], "c": (np.float32("nan"), np.float64(2.5)),
           "d": np.array([0.5, np.nan]), "e": np.int64(3), "f": True, "g": None, "h": "NaN"}
    assert json_safe(doc) == {"a": None, "b": [1.0, None, None], "c": [None, 2.5], "d": [0.5, None], "e": 3,
                              "f": True, "g": None, "h": "NaN"}
    assert loads_strict(dumps(doc)) == json_safe(doc)


def test_strict_parser_refuses_what_python_writes_by_default(tmp_path):
    with pytest.raises(ValueError, match="not strict JSON: NaN"):
        loads_strict(json.dumps({"x": math.nan}))
    path = write_json(tmp_path / "x.json", {"x": math.inf}, indent=2)
    assert path.read_text() == '{\n  "x": null\n}\n'


def test_the_writers_go_through_the_helper():
    """No module writes JSON with json.dump/json.dumps of its own: a new writer would bring NaN back.
    """
    from conftest import REPO

    allowed = {"edge/strict_json.py"}
    offenders = []
    for folder in ("edge", "train", "export", "benchmarks"):
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel not in allowed and re.search(r"(?<![\w.])json\.dumps?\(", path.read_text()):
                offenders.append(rel)
    assert offenders == []


def _json_files(root):
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.suffix in (".json", ".jsonl")
                                                                  or p.name.endswith(".json.calibrated")))


def _parse_strictly(path):
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text, path
    if path.suffix == ".jsonl":
        return [loads_strict(line) for line in text.splitlines() if line.strip()]
    return loads_strict(text)


@pytest.mark.tf
@pytest.mark.slow
def test_files_of_a_tiny_train_calibrate_export_run_are_strict_json(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from fakeface.edge.cli import main
    from fakeface.train.calibrate import calibrate_model

    from tiny_models import write_synthetic_crops

    crops = write_synthetic_crops(tmp_path / "crops", n=320, size=32)
    reals = tmp_path / "reals-only"  # a split without fakes: "fakes caught" is undefined
    write_synthetic_crops(reals, n=60, size=32)
    (reals / "fake" / "synthetic").rename(tmp_path / "set-aside")
    (reals / "fake" / "synthetic").mkdir()
    run = tmp_path / "run"
    assert main(["train", str(crops), "--out", str(run), "--arch", "tiny", "--epochs", "1", "--batch-size", "16",
                 "--no-augment", "--quiet"]) == 0
    model = run / "model.keras"

    # the API may calibrate on reals alone (the command refuses): fakes_caught is then null
    result = calibrate_model(model, reals, cropped=True, split="all", write=True, progress=False, min_per_class=0)
    assert math.isnan(result.fakes_caught)
    assert json.loads((run / "model.keras.json").read_text())["calibration"]["fakes_caught"] is None
    capsys.readouterr()
    assert main(["calibrate", str(model), str(crops), "--cropped", "--split", "train", "--json", "--quiet"]) == 0
    printed = [capsys.readouterr().out]
    assert (run / "model.keras.json.calibrated").is_file()

    # the exported sidecars carry the calibration (null, not NaN) and parity.json the gate's numbers;
    # 60 crops of each class pass the gate, with a warning (one label is more than 0.5 % of them)
    out = tmp_path / "export"
    evalset = write_synthetic_crops(tmp_path / "eval", n=120, size=32, seed=2)
    assert main(["export", str(model), "--out", str(out), "--formats", "tflite-fp32", "--eval", str(evalset),
                 "--latency-runs", "2"]) == 0
    err = capsys.readouterr().err
    assert "fakeface export: warning: parity is measured on 60 real and 60 fake evaluation crops" in err
    assert json.loads((out / "model.fp32.tflite.json").read_text())["calibration"]["fakes_caught"] is None

    # five evaluation crops: the gate fails every format, with the reason
    few = write_synthetic_crops(tmp_path / "few", n=5, size=32)
    assert main(["export", str(model), "--out", str(tmp_path / "export-few"), "--formats", "tflite-fp32",
                 "--eval", str(few), "--latency-runs", "2"]) == 1
    parity = loads_strict((tmp_path / "export-few" / "parity.json").read_text())
    assert not parity["passed"] and "too few crops to judge" in parity["rows"][0]["reasons"][0]
    capsys.readouterr()

    assert main(["evaluate", str(model), str(crops), "--cropped", "--split", "val", "--json"]) == 0
    printed.append(capsys.readouterr().out)
    for text in printed:
        loads_strict(text)
    files = _json_files(tmp_path)
    names = {p.name for p in files}
    assert {"metrics.json", "model.keras.json", "state.json", "crops.json", "model.keras.json.calibrated",
            "parity.json", "model.fp32.tflite.json"} <= names
    for path in files:
        _parse_strictly(path)
