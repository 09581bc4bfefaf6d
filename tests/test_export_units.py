"""Export-layer pieces that need no TensorFlow: scoring, the format table, the gate, crop loading."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakeface.edge.contract import ModelContract
from fakeface.export.crops import load_calibration_set, load_eval_set
from fakeface.export.errors import ExportError
from fakeface.export.formats import FORMATS, FORMATS_BY_KEY, select_formats
from fakeface.export.layer_names import match_layer_names
from fakeface.export.parity import ParityRow, apply_gate
from fakeface.train.data.dataset import model_pixels


def test_parity_scores_use_the_shared_metrics():
    from fakeface.export.parity import score

    y = np.array([0, 0, 0, 0, 1, 1])
    probs = np.array([0.1, 0.2, 0.3, 0.4, 0.45, 0.9])
    row = score(ParityRow("x", "x"), y, probs, probs, threshold=0.5)
    assert row.accuracy == pytest.approx(5 / 6)
    assert row.balanced_accuracy == pytest.approx((1.0 + 0.5) / 2)
    assert row.roc_auc == pytest.approx(1.0) and row.agreement == 1.0 and row.max_abs_diff == 0.0


def test_format_table_is_consistent():
    keys = [f.key for f in FORMATS]
    assert len(set(keys)) == len(keys) == 7
    assert len({f.suffix for f in FORMATS}) == len(FORMATS)
    for f in FORMATS:
        assert f.suffix.endswith((".tflite", ".onnx"))
        assert f.failed_filename("m") != f.filename("m")
        assert f.failed_filename("m").endswith(f.suffix.rsplit(".", 1)[1])
    assert [f.key for f in select_formats("onnx-int8, tflite-fp32")] == ["tflite-fp32", "onnx-int8"]
    assert select_formats("all") == FORMATS
    with pytest.raises(ExportError, match="unknown format"):
        select_formats("tflite-int4")
    assert FORMATS_BY_KEY["tflite-int8"].needs_calibration and not FORMATS_BY_KEY["onnx-fp32"].needs_calibration


def test_layer_names_match_keras_names_as_path_components():
    names = ["m/conv_a/Relu;m/conv_a/BiasAdd", "m/conv_ab/Relu", "m/head/MatMul"]
    assert match_layer_names(["conv_a"], names) == ["m/conv_a/Relu;m/conv_a/BiasAdd"]
    assert match_layer_names(["m/head/MatMul"], names) == ["m/head/MatMul"]
    assert match_layer_names(["nothing"], names) == []


def test_gate_thresholds():
    keras = ParityRow("keras", "Keras", accuracy=0.90)
    ok = apply_gate(ParityRow("a", "a", accuracy=0.896, agreement=0.996), keras, 0.5, 99.5)
    assert ok.passed and not ok.reasons
    drop = apply_gate(ParityRow("b", "b", accuracy=0.894, agreement=1.0), keras, 0.5, 99.5)
    assert not drop.passed and "points below Keras" in drop.reasons[0]
    disagree = apply_gate(ParityRow("c", "c", accuracy=0.90, agreement=0.99), keras, 0.5, 99.5)
    assert not disagree.passed and "agreement" in disagree.reasons[0]


def _write(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rgb[:, :, ::-1])


def test_crop_loading_labels_by_top_folder_and_feeds_rgb_0_255(tmp_path, capsys):
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 200
    _write(tmp_path / "eval" / "real" / "ffhq" / "a.png", red)
    _write(tmp_path / "eval" / "fake" / "sg2" / "deep" / "b.png", red)
    (tmp_path / "eval" / "fake" / "junk.png").write_bytes(b"not an image at all")
    contract = ModelContract(input_size=32)
    ev = load_eval_set(tmp_path / "eval", contract)
    assert sorted(ev.labels.tolist()) == [0, 1]
    assert sorted(ev.sources) == ["fake/sg2/deep", "real/ffhq"]
    x = model_pixels(ev, contract).astype(np.float32)
    assert x.shape == (2, 32, 32, 3)
    assert x[..., 0].max() == pytest.approx(200) and x[..., 2].max() == 0  # RGB order, no scaling
    skipped = [line for line in capsys.readouterr().err.splitlines() if "skipping" in line]
    assert len(skipped) == 1 and "junk.png" in skipped[0]


def test_calibration_crops_come_in_the_models_colour_order(tmp_path):
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 200
    _write(tmp_path / "calib" / "a.png", red)
    x = load_calibration_set(tmp_path / "calib", ModelContract(input_size=32, color_order="BGR"))
    assert x.shape == (1, 32, 32, 3) and x.dtype == np.float32
    assert x[..., 2].max() == pytest.approx(200) and x[..., 0].max() == 0


def test_calibration_needs_real_crops(tmp_path):
    contract = ModelContract(input_size=32)
    with pytest.raises(ExportError, match="--calib"):
        load_calibration_set(None, contract)
    with pytest.raises(ExportError, match="not found"):
        load_calibration_set(tmp_path / "missing", contract)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="no PNG/JPG"):
        load_calibration_set(tmp_path / "empty", contract)


def test_traced_scopes_keep_auto_named_layers_distinct():
    # What TF tracing really produced for Keras layers scale, conv2d, conv2d_1, head.
    names = ["m_1/scale_1/mul", "m_1/conv2d_1/Relu;m_1/conv2d_1/BiasAdd", "m_1/conv2d_1_2/Relu", "m_1/head_1/MatMul"]
    keras = ["pixels", "scale", "conv2d", "conv2d_1", "head"]
    assert match_layer_names(["conv2d"], names, keras) == ["m_1/conv2d_1/Relu;m_1/conv2d_1/BiasAdd"]
    assert match_layer_names(["conv2d_1"], names, keras) == ["m_1/conv2d_1_2/Relu"]
    assert match_layer_names(["head"], ["m/conv2d/Relu", "m/head/MatMul"], keras) == ["m/head/MatMul"]
    assert match_layer_names(["m_1/head_1/MatMul"], names, keras) == ["m_1/head_1/MatMul"]


@pytest.fixture
def export_dir(tmp_path):
    """An export folder as `fakeface export` leaves it: int8 TFLite failed, fp16 TFLite and int8 ONNX passed."""
    import json

    from fakeface.edge.contract import file_sha256, save_contract

    folder = tmp_path / "export"
    folder.mkdir()
    rows = []
    for key, name, passed in [("tflite-int8", "m.int8.tflite", False), ("tflite-fp16", "m.fp16.tflite", True),
                              ("onnx-int8", "m.int8.onnx", True)]:
        f = folder / name
        f.write_bytes(name.encode())
        if passed:
            save_contract(f, ModelContract(input_size=8, sha256=file_sha256(f), format=key))
        rows.append({"format": key, "file": name, "passed": passed, "reasons": [] if passed else ["agreement"]})
    (folder / "parity.json").write_text(json.dumps({"rows": rows}))
    (folder / "parity.md").write_text("table")
    return folder


def test_ship_takes_the_first_format_that_passed(export_dir, tmp_path):
    from fakeface.edge.contract import load_contract
    from fakeface.export.ship import ship

    models = tmp_path / "models"
    ship(export_dir, models)
    assert (models / "fakeface.tflite").read_bytes() == b"m.fp16.tflite"
    assert load_contract(models / "fakeface.tflite").format == "tflite-fp16"
    assert (models / "fakeface.onnx").read_bytes() == b"m.int8.onnx"
    with pytest.raises(ExportError, match="no format passed"):
        ship(export_dir, models, tflite="tflite-int8")


def test_ship_preference_comes_from_the_format_table():
    from fakeface.export.formats import RUNTIMES, ship_preference

    assert RUNTIMES == ("tflite", "onnx")
    assert [f.key for f in ship_preference("tflite")] == ["tflite-int8", "tflite-fp16", "tflite-fp32"]
    assert [f.key for f in ship_preference("onnx")] == ["onnx-int8", "onnx-fp32"]


def test_ship_subcommand_and_its_module_alias_install_the_same_files(export_dir, tmp_path, capsys):
    from fakeface.edge.cli import main
    from fakeface.export.ship import main as ship_main

    assert main(["export", "ship", str(export_dir), "--to", str(tmp_path / "a"), "--onnx", "onnx-fp32,onnx-int8"]) == 0
    assert "shipped" in capsys.readouterr().out
    assert ship_main([str(export_dir), "--to", str(tmp_path / "b")]) == 0
    for name in ("fakeface.tflite", "fakeface.tflite.json", "fakeface.onnx", "fakeface.onnx.json", "parity.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_ship_without_to_is_a_usage_error_and_writes_nothing(export_dir, capsys, monkeypatch):
    """No default target: an installed package's models/ (site-packages) is never replaced unasked."""
    import fakeface.export.ship as ship_module
    from fakeface.edge.cli import main

    monkeypatch.setattr(ship_module, "_copy_atomic", lambda *a: pytest.fail("ship copied a file without --to"))
    with pytest.raises(SystemExit) as stop:
        main(["export", "ship", str(export_dir)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "the following arguments are required: --to" in err


def test_ship_refuses_a_format_of_the_other_runtime(export_dir, tmp_path, capsys):
    from fakeface.edge.cli import main

    assert main(["export", "ship", str(export_dir), "--to", str(tmp_path / "m"), "--tflite", "onnx-int8"]) == 2
    assert "onnx-int8: not tflite format" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_mtcnn_nets_subcommand_takes_only_the_tables_fp32_rows(tmp_path, capsys):
    from fakeface.edge.cli import main
    from fakeface.export.formats import MTCNN_NET_FORMATS

    assert all(not FORMATS_BY_KEY[k].needs_calibration for k in MTCNN_NET_FORMATS)
    assert main(["export", "mtcnn-nets", "--out", str(tmp_path), "--formats", "tflite-int8"]) == 2
    assert "tflite-fp32, onnx-fp32 only, not tflite-int8" in capsys.readouterr().err
    assert main(["export", "mtcnn-nets", "--out", str(tmp_path), "--formats", "tflite-fp33"]) == 2
    assert "unknown format(s) tflite-fp33" in capsys.readouterr().err
