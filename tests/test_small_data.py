"""Tiny data does not pass in silence (issue 29, item 6): train warns, the export gate fails.

No TensorFlow: the warning and the gate are checked on their own; test_strict_json.py runs
them in a real tiny train and export.
"""

from __future__ import annotations

import numpy as np
import pytest

from fakeface.export.parity import ParityRow, apply_gate
from fakeface.train.cli.train import warn_small_validation
from fakeface.train.reports.sample_size import MIN_PER_CLASS, shortfall

from tiny_models import write_synthetic_crops


def test_shortfall_states_what_there_is_and_what_is_needed():
    assert shortfall([0] * 20 + [1] * 20, 20) is None
    assert shortfall([0, 0, 0, 1, 1], 20, "crops") == "3 real and 2 fake crops, fewer than 20 of each"
    assert shortfall(np.zeros(50), 20) == "50 real and 0 fake faces, fewer than 20 of each"


def test_gate_fails_every_format_on_five_crops():
    keras = ParityRow("keras", "Keras", accuracy=1.0)
    row = apply_gate(ParityRow("a", "a", accuracy=1.0, agreement=1.0), keras, 0.5, 99.5,
                     eval_labels=np.array([0, 0, 0, 1, 1]))
    assert not row.passed
    assert row.reasons == ["too few crops to judge: 3 real and 2 fake evaluation crops, fewer than 20 of each "
                           "(pass a larger --eval)"]
    enough = np.r_[np.zeros(MIN_PER_CLASS), np.ones(MIN_PER_CLASS)]
    assert apply_gate(ParityRow("b", "b", accuracy=1.0, agreement=1.0), keras, 0.5, 99.5, eval_labels=enough).passed


def test_train_warns_about_a_small_validation_split(tmp_path, capsys):
    small = write_synthetic_crops(tmp_path / "small", n=40, size=32)  # validation: 1 real, 2 fake
    warn_small_validation(small)
    err = capsys.readouterr().err
    assert "fakeface train: warning: the validation split has 1 real and 2 fake crops, fewer than 20 of each" in err
    assert "validation AUC is undefined" in err

    large = write_synthetic_crops(tmp_path / "large", n=480, size=16)  # validation: 21 real, 28 fake
    warn_small_validation(large)
    assert capsys.readouterr().err == ""
    warn_small_validation(tmp_path / "nothing")  # a bad folder is train's own error to report
    assert capsys.readouterr().err == ""


@pytest.mark.tf
def test_a_one_class_validation_split_plots_a_gap_not_a_flat_zero_auc(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from fakeface.edge.cli import main
    from fakeface.edge.strict_json import loads_strict
    from fakeface.train.data.layout import scan_folder

    crops = write_synthetic_crops(tmp_path / "crops", n=120, size=32)
    for s in scan_folder(crops, cropped=True):
        if s.split == "val" and s.label == 0:
            s.path.unlink()  # validation keeps its fakes only: AUC is undefined
    assert main(["train", str(crops), "--out", str(tmp_path / "run"), "--arch", "tiny", "--epochs", "1"]) == 0
    assert "1 epoch in" in capsys.readouterr().out
    metrics = loads_strict((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["history"]["val_auc"] == [None]  # Keras logged 0.0


@pytest.mark.tf
def test_train_takes_a_source_weight_and_records_it(tmp_path, capsys):
    pytest.importorskip("tensorflow")
    from fakeface.edge.cli import main
    from fakeface.edge.strict_json import loads_strict

    crops = write_synthetic_crops(tmp_path / "crops", n=60, size=32)
    out = tmp_path / "run"
    assert main(["train", str(crops), "--out", str(out), "--arch", "tiny", "--epochs", "1", "--quiet",
                 "--source-weight", "fake/synthetic=0.5"]) == 0
    assert loads_strict((out / "metrics.json").read_text())["source_weights"] == {"fake/synthetic": 0.5}
    assert main(["train", str(crops), "--out", str(tmp_path / "bad"), "--arch", "tiny", "--epochs", "1",
                 "--source-weight", "synthetic=0.5"]) == 2
    assert "--source-weight synthetic: names more than one source folder" in capsys.readouterr().err
