"""Export a really trained tiny model to every format and run every file in the edge runtime.

One module-scoped export (all seven formats) feeds most tests; the gate tests run
small extra exports with impossible thresholds, which fail deterministically.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

import cv2  # noqa: E402

from fakeface.edge.backends import available_backends, open_model  # noqa: E402
from fakeface.edge.classifier import Classifier  # noqa: E402
from fakeface.edge.cli import main as fakeface_main  # noqa: E402
from fakeface.edge.contract import (ModelContract, fake_probabilities, file_sha256, load_contract,  # noqa: E402
                                    save_contract, sidecar_path)
from fakeface.edge.errors import BackendError, ModelError  # noqa: E402
from fakeface.export.api import export_model  # noqa: E402
from fakeface.export.errors import ExportError  # noqa: E402
from fakeface.export.formats import FORMATS, FORMATS_BY_KEY  # noqa: E402

SIZE = 32


def _crops(kind: str, n: int, rng) -> list[np.ndarray]:
    """'real' = smooth colour blobs, 'fake' = high-frequency noise: learnable in a few epochs."""
    out = []
    for _ in range(n):
        if kind == "real":
            low = rng.uniform(0, 255, (4, 4, 3)).astype(np.float32)
            img = cv2.resize(low, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        else:
            img = rng.uniform(40, 215, (SIZE, SIZE, 3)).astype(np.float32)
            img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.3, 1.0))
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return out


def _write_split(root, n, rng):
    for kind in ("real", "fake"):
        for i, img in enumerate(_crops(kind, n, rng)):
            d = root / kind / f"source{i % 2}"
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{i:03d}.png"), img[:, :, ::-1])


def _train_tiny_model(path, rng):
    import keras

    keras.utils.set_random_seed(0)
    x = np.stack(_crops("real", 200, rng) + _crops("fake", 200, rng)).astype(np.float32)
    y = np.array([0] * 200 + [1] * 200, np.float32)
    inp = keras.Input((SIZE, SIZE, 3), name="crop")
    h = keras.layers.Rescaling(1 / 127.5, offset=-1.0)(inp)  # normalisation lives in the model
    h = keras.layers.Conv2D(8, 3, activation="relu", name="conv_a")(h)
    h = keras.layers.Conv2D(12, 3, strides=2, activation="relu", name="conv_b")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    out = keras.layers.Dense(1, activation="sigmoid", name="head")(h)
    model = keras.Model(inp, out, name="tiny")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=4, batch_size=32, shuffle=True, verbose=0)
    model.save(path)
    save_contract(path, ModelContract(input_size=SIZE, name="tiny", architecture="tiny-cnn", sha256=file_sha256(path)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """tiny.keras + calib/ + eval/ crop folders; the train layer's tiny model when it is there."""
    root = tmp_path_factory.mktemp("export")
    try:
        from tiny_models import build_tiny_model, write_synthetic_crops
    except ImportError:  # export tests must not depend on the train layer's helpers
        rng = np.random.default_rng(0)
        _write_split(root / "calib", 40, rng)
        _write_split(root / "eval", 60, rng)
        _train_tiny_model(root / "tiny.keras", rng)
        return root
    write_synthetic_crops(root / "calib", n=80, size=SIZE, seed=1)
    write_synthetic_crops(root / "eval", n=120, size=SIZE, seed=2)
    built = build_tiny_model(root / "train", steps=60, input_size=SIZE)
    shutil.copy(built, root / "tiny.keras")
    shutil.copy(sidecar_path(built), sidecar_path(root / "tiny.keras"))
    return root


@pytest.fixture(scope="module")
def keras_model(tiny):
    import keras

    return keras.saving.load_model(tiny / "tiny.keras", safe_mode=True)


@pytest.fixture(scope="module")
def conv_layers(keras_model):
    return [layer.name for layer in keras_model.layers if type(layer).__name__ == "Conv2D"]


@pytest.fixture(scope="module")
def exported(tiny):
    out = tiny / "out"
    report = export_model(tiny / "tiny.keras", out, calib_dir=tiny / "calib", eval_dir=tiny / "eval", latency_runs=5)
    return out, report


def test_tiny_model_really_learned(exported):
    _, report = exported
    assert report.keras.accuracy >= 0.9
    assert report.n_real == report.n_fake >= 60


def test_every_format_passes_and_runs_in_every_available_backend(tiny, exported):
    out, report = exported
    assert report.passed, report.to_markdown()
    crops = np.stack([cv2.imread(str(p))[:, :, ::-1] for p in sorted((tiny / "eval").rglob("*.png"))[:8]])
    have = available_backends()
    for fmt in FORMATS:
        path = out / fmt.filename("tiny")
        assert path.is_file(), fmt.key
        ran = 0
        for backend in fmt.backends:
            if backend not in have:
                with pytest.raises(BackendError):
                    open_model(path, backend=backend, threads=1)
                continue
            with open_model(path, backend=backend, threads=1) as runner:
                raw = runner.run(crops.astype(np.float32))[0]
            probs = fake_probabilities(raw, load_contract(path).output)
            assert probs.shape == (8,) and np.all((probs >= 0) & (probs <= 1)), fmt.key
            ran += 1
        assert ran >= 1, f"{fmt.key}: no backend ran it"


def test_int8_io_file_really_has_int8_io(exported):
    out, _ = exported
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(out / FORMATS_BY_KEY["tflite-int8-io"].filename("tiny")))
    assert interp.get_input_details()[0]["dtype"] == np.int8
    assert interp.get_output_details()[0]["dtype"] == np.int8
    interp = Interpreter(model_path=str(out / FORMATS_BY_KEY["tflite-int8"].filename("tiny")))
    assert interp.get_input_details()[0]["dtype"] == np.float32


def test_sidecars_carry_format_and_hashes(tiny, exported, tmp_path):
    out, _ = exported
    source = file_sha256(tiny / "tiny.keras")
    for fmt in FORMATS:
        path = out / fmt.filename("tiny")
        c = load_contract(path)  # verifies the file's hash
        assert c.format == fmt.key and c.input_size == SIZE
        assert c.name == load_contract(tiny / "tiny.keras").name
        assert c.sha256 == file_sha256(path) and c.source_sha256 == source
    # A changed file is refused by the edge loader.
    victim = tmp_path / "tampered.int8.tflite"
    shutil.copy(out / "tiny.int8.tflite", victim)
    shutil.copy(sidecar_path(out / "tiny.int8.tflite"), sidecar_path(victim))
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        load_contract(victim)


def test_parity_report_files_and_targets(exported):
    out, report = exported
    d = json.loads((out / "parity.json").read_text())
    assert d["passed"] is True
    assert [r["format"] for r in d["rows"]] == [f.key for f in FORMATS]
    md = (out / "parity.md").read_text()
    assert md.count("| pass |") == len(FORMATS)
    for fmt in FORMATS:
        row = report.row(fmt.key)
        assert row.latency_ms and row.latency_ms > 0 and row.size_bytes > 0
        assert row.roc_auc is not None and row.balanced_accuracy is not None
        assert f"`{fmt.filename('tiny')}`" in md
    for key in ("onnx-fp32", "tflite-fp32"):
        assert report.row(key).agreement == 1.0 and report.row(key).max_abs_diff <= 1e-5
    assert d["keras"]["output"] == "probability" and {r["output"] for r in d["rows"]} == {"logit"}
    assert "| distinct p |" in md
    for key in ("tflite-int8", "onnx-int8"):  # p(fake) from a float logit: one value per crop
        assert report.row(key).distinct_p >= 0.9 * (report.n_real + report.n_fake), report.to_markdown()
    assert report.row("tflite-int8").size_bytes < report.row("tflite-fp32").size_bytes
    assert not list(out.glob(".export-*")), "staging folder left behind"


def test_gate_failure_exits_nonzero_and_keeps_nothing_under_runtime_name(tiny, exported, tmp_path, capsys,
                                                                         monkeypatch):
    import fakeface.export.api as export_api

    out = tmp_path / "gate"
    out.mkdir()
    # An older export under the runtime name must not survive a failed re-export.
    shutil.copy(exported[0] / "tiny.int8.tflite", out / "tiny.int8.tflite")
    shutil.copy(sidecar_path(exported[0] / "tiny.int8.tflite"), sidecar_path(out / "tiny.int8.tflite"))
    # An agreement above 100 % is impossible, so every format fails; the command line refuses
    # such a --min-agreement, so the gate gets it behind the parser's back.
    real_export = export_api.export_model
    monkeypatch.setattr(export_api, "export_model", lambda *a, **k: real_export(*a, **{**k, "min_agreement": 100.01}))
    rc = fakeface_main([
        "export", str(tiny / "tiny.keras"), "--out", str(out), "--formats", "tflite-int8,onnx-int8",
        "--calib", str(tiny / "calib"), "--eval", str(tiny / "eval"), "--latency-runs", "3",
    ])
    assert rc == 1
    printed = capsys.readouterr()
    assert "failed the parity gate" in printed.err and "| FAIL |" in printed.out
    for key in ("tflite-int8", "onnx-int8"):
        fmt = FORMATS_BY_KEY[key]
        assert not (out / fmt.filename("tiny")).exists()
        assert not sidecar_path(out / fmt.filename("tiny")).exists()
        kept = out / fmt.failed_filename("tiny")
        assert kept.is_file() and not sidecar_path(kept).exists()
        with pytest.raises(ModelError, match="sidecar"):
            load_contract(kept)
    d = json.loads((out / "parity.json").read_text())
    assert d["passed"] is False
    for row in d["rows"]:
        assert row["passed"] is False and "agreement" in row["reasons"][0]
        assert row["diagnostics"], f"{row['format']}: no per-layer diagnostics"
        assert row["kept_as"]


def test_discard_failed_removes_the_file(tiny, tmp_path):
    report = export_model(tiny / "tiny.keras", tmp_path, formats="tflite-fp32", eval_dir=tiny / "eval",
                          max_acc_drop=-1.0, keep_failed=False, latency_runs=3)
    assert not report.passed and "points below Keras" in report.rows[0].reasons[0]
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tflite"]


def test_float_layers_keep_named_layers_in_float(tiny, keras_model, conv_layers, tmp_path):
    first, last = conv_layers[0], conv_layers[-1]  # Keras names, e.g. conv2d and conv2d_1
    head = keras_model.layers[-1].name
    report = export_model(tiny / "tiny.keras", tmp_path, formats="tflite-int8-io,onnx-int8", calib_dir=tiny / "calib",
                          eval_dir=tiny / "eval", float_layers=last, latency_runs=3)
    assert report.passed, report.to_markdown()
    for row in report.rows:
        assert row.float_layers, row.format
        # Only the named layer (and onnx-int8's logit layer, kept in float by default): an
        # auto-named neighbour (conv2d vs conv2d_1) must not be caught too.
        named = [n for n in row.float_layers if head not in n]
        assert all(last in n for n in named), row.float_layers
        assert len({n.split("/")[-2] if "/" in n else n for n in named}) == 1, row.float_layers
        assert len(named) < len(row.float_layers) if row.format == "onnx-int8" else named == row.float_layers
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tmp_path / "tiny.int8io.tflite"))
    assert interp.get_input_details()[0]["dtype"] == np.int8  # I/O stays int8 with float layers inside
    kept = set(report.row("tflite-int8-io").float_layers)
    dtypes = {t["name"]: t["dtype"] for t in interp.get_tensor_details()}
    assert any(dtypes.get(n) == np.float32 for n in kept), "the named layer was not kept in float"
    assert first != last


def test_int8_without_calibration_crops_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(ExportError, match="--calib"):
        export_model(tiny / "tiny.keras", tmp_path, formats="tflite-int8", eval_dir=tiny / "eval")
    assert not list(tmp_path.iterdir())


def test_missing_interpreter_fails_the_format_clearly(tiny, tmp_path, monkeypatch):
    import fakeface.export.parity as parity

    monkeypatch.setattr(parity, "available_backends", lambda: ["onnxruntime"])
    report = export_model(tiny / "tiny.keras", tmp_path, formats="tflite-fp32", eval_dir=tiny / "eval", latency_runs=3)
    assert not report.passed and "no edge backend installed" in report.rows[0].reasons[0]


def test_tflite_runtime_backend_error_is_one_clear_line(exported, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tflite_runtime(name, *a, **kw):
        if name.startswith("tflite_runtime"):
            raise ImportError("No module named 'tflite_runtime'")
        return real_import(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", no_tflite_runtime)
    with pytest.raises(BackendError, match="tflite-runtime is not importable"):
        open_model(exported[0] / "tiny.fp32.tflite", backend="tflite-runtime", threads=1)


@pytest.mark.slow
def test_mtcnn_nets_subcommand_checks_the_shipped_nets(capsys):
    pytest.importorskip("mtcnn")
    from fakeface.edge.mtcnn.nets import MODEL_DIR

    assert fakeface_main(["export", "mtcnn-nets", "--check-only", "--out", str(MODEL_DIR), "--formats", "onnx-fp32"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "e-" in line]
    assert [row.split("|")[1:3] for row in rows] == [[f" {net} ", " onnx "] for net in ("pnet", "rnet", "onet")]
    for row in rows:
        assert all(float(cell) < 1e-4 for cell in row.split("|")[3:-1] if cell.strip() != "-")


# p(fake) of an exported file against Keras on the same crops: the fp32 files reproduce it,
# fp16 and dynamic-range within a few thousandths, the int8 ones with their quantisation
# error (the parity gate judges their labels).
P_ATOL = {"tflite-fp32": 1e-5, "onnx-fp32": 1e-5, "tflite-fp16": 5e-3, "tflite-dynamic": 5e-3}
INT8_P_MEAN_ATOL = 0.03
N_CROPS = 64


def _eval_crops(tiny, n: int = N_CROPS) -> np.ndarray:
    return np.stack([cv2.imread(str(p))[:, :, ::-1] for p in sorted((tiny / "eval").rglob("*.png"))[:n]])


def _classify(path, crops) -> tuple[np.ndarray, np.ndarray]:
    """(the file's own outputs, the edge classifier's p(fake)) for a batch of crops."""
    classifier = Classifier(path, threads=1)
    try:
        return classifier.model_outputs(crops), classifier.predict_crops(crops)
    finally:
        classifier.close()


def test_every_file_outputs_the_logit_and_the_edge_classifier_matches_keras(tiny, exported, keras_model):
    """... and `fakeface evaluate`'s scorer reads each file as the edge classifier does."""
    from fakeface.train.reports.scoring import open_scorer

    out, _ = exported
    crops = _eval_crops(tiny)
    keras_p = keras_model.predict(crops.astype(np.float32), verbose=0).reshape(-1).astype(np.float64)
    for fmt in FORMATS:
        path = out / fmt.filename("tiny")
        assert json.loads(sidecar_path(path).read_text())["output"] == "logit", fmt.key
        logits, p = _classify(path, crops)
        assert logits.min() < 0 < 1 < logits.max(), fmt.key  # logits, not probabilities
        assert np.allclose(p, 1.0 / (1.0 + np.exp(-logits.astype(np.float64))), rtol=0, atol=1e-7), fmt.key
        assert np.allclose(open_scorer(path)[1](crops.astype(np.float32)), p, rtol=0, atol=1e-6), fmt.key
        diff = np.abs(p - keras_p)
        if fmt.needs_calibration:
            assert diff.mean() <= INT8_P_MEAN_ATOL, (fmt.key, diff.mean())
        else:
            assert diff.max() <= P_ATOL[fmt.key], (fmt.key, diff.max())


def _on_the_256_grid(p: np.ndarray) -> np.ndarray:
    return np.isclose(p * 256.0, np.round(p * 256.0), rtol=0, atol=1e-3)


def test_int8_p_fake_is_continuous_where_a_quantised_probability_is_a_staircase(tiny, exported, keras_model,
                                                                              tmp_path):
    from fakeface.export.crops import load_calibration_set
    from fakeface.export.formats import ExportJob
    from fakeface.export.tflite_export import export_int8

    out, _ = exported
    crops = _eval_crops(tiny)
    for key in ("tflite-int8", "onnx-int8"):
        _, p = _classify(out / FORMATS_BY_KEY[key].filename("tiny"), crops)
        assert len(np.unique(p)) >= 50, (key, len(np.unique(p)))
        assert _on_the_256_grid(p).mean() < 0.2, key
    # The export before logits, on the same model and crops: the sigmoid's output quantised
    # to int8 (scale 1/256), so every p(fake) is k/256.
    contract = load_contract(tiny / "tiny.keras")
    job = ExportJob(model=keras_model, keras_path=tiny / "tiny.keras", contract=contract,
                    calib=load_calibration_set(tiny / "calib", contract), workdir=tmp_path)
    export_int8(job, tmp_path / "old.int8.tflite", [])
    with open_model(tmp_path / "old.int8.tflite", threads=1) as runner:
        old = runner.run(crops.astype(np.float32))[0].reshape(-1)
    assert _on_the_256_grid(old).all()
    assert len(np.unique(old)) <= len(np.unique(p))


def test_int8_files_keep_the_logit_layer_in_float_and_stay_static_qdq(exported):
    import onnx
    from ai_edge_litert.interpreter import Interpreter

    out, report = exported
    interp = Interpreter(model_path=str(out / FORMATS_BY_KEY["tflite-int8"].filename("tiny")))
    ops = interp._get_ops_details()  # no public API lists ops
    assert ops[-1]["op_name"] == "FULLY_CONNECTED"  # the logit layer, not a DEQUANTIZE of an int8 one
    assert interp.get_output_details()[0]["dtype"] == np.float32
    assert "QUANTIZE" in {op["op_name"] for op in ops} and report.row("tflite-int8").float_layers
    from fakeface.export.tflite_export import require_integer_only

    require_integer_only((out / "tiny.int8.tflite").read_bytes(), report.row("tflite-int8").float_layers)
    with pytest.raises(ExportError, match="stayed in float"):
        require_integer_only((out / "tiny.fp32.tflite").read_bytes(), [])
    graph = onnx.load(str(out / FORMATS_BY_KEY["onnx-int8"].filename("tiny"))).graph
    producer = next(n for n in graph.node if graph.output[0].name in n.output)
    assert producer.op_type != "DequantizeLinear"  # the logit is computed in float
    kinds = {n.op_type for n in graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= kinds and "DynamicQuantizeLinear" not in kinds
