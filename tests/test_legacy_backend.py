"""The legacy interpreter (tflite-runtime 2.14, the [legacy] extra) runs int8 files on XNNPACK.

The 2.14 wheel's default XNNPACK delegate leaves int8 ops out, so the shipped full-int8
classifier ran on TFLite's built-in int8 kernels, ~10x slower than litert; edge/tflite_legacy.py
makes the delegate with the int8 flag and caps the threads (its pools spin).  These tests check
what ``--backend auto`` opens under [legacy] and that the files still give the same outputs; the
speed itself is measured side by side by ``python -m fakeface.benchmarks.legacy_speed`` (no
timing here: the machine is shared).  Most tests run only in the legacy venv (make test-legacy).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from conftest import installed_backends
from fakeface.edge import tflite_legacy
from fakeface.edge.backends import TFLiteRunner, available_backends, open_model
from fakeface.edge.classifier import MODELS_DIR, Classifier
from fakeface.edge.cpus import usable_cpus

SHIPPED = MODELS_DIR / "fakeface.tflite"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
LOGIT_INT8 = FIXTURES / "tiny_logit.int8.tflite"  # made by fixtures/make_tiny_logit_int8.py

legacy_only = pytest.mark.skipif(importlib.util.find_spec("tflite_runtime") is None,
                                 reason="tflite-runtime is not installed here (the [legacy] venv has it)")


def _ops(runner) -> list[tuple[str, str]]:
    """(op name, dtype of its first input) of every node the interpreter lists."""
    interp = runner._interp
    dtypes = {t["index"]: t["dtype"] for t in interp.get_tensor_details()}
    return [(op["op_name"], np.dtype(dtypes[op["inputs"][0]]).name if len(op["inputs"]) else "")
            for op in interp._get_ops_details()]


@legacy_only
@pytest.mark.skipif("litert" in available_backends(), reason="auto picks litert where it is installed")
def test_auto_under_legacy_opens_tflite_runtime_with_int8_ops_on_xnnpack():
    # The int8 fixture, a small model whose expected logits are stored beside it:
    # on fakeface's XNNPACK delegate its int8 layers give litert's logits bit for bit; the
    # wheel's own default leaves them on its built-in int8 kernels, whose logits differ.
    expected = np.load(FIXTURES / "tiny_logit.int8.expected.npz")
    crops, litert_logits = expected["crops"].astype(np.float32), expected["logits"].reshape(-1)
    with open_model(LOGIT_INT8, backend="auto", threads=1) as runner:
        assert runner.backend == "tflite-runtime"
        assert runner.note == tflite_legacy.NOTE_INT8
        assert tflite_legacy.delegated(runner._interp)
        assert np.array_equal(runner.run(crops)[0].reshape(-1), litert_logits)
    with TFLiteRunner(LOGIT_INT8, 1, "tflite-runtime", stock=True) as stock:
        assert stock.note == tflite_legacy.NOTE_STOCK
        assert np.abs(stock.run(crops)[0].reshape(-1) - litert_logits).max() > 1e-3


@legacy_only
def test_legacy_threads_are_one_unless_asked_and_capped_at_the_usable_cpus():
    with open_model(SHIPPED, backend="tflite-runtime") as runner:
        assert runner.threads == tflite_legacy.DEFAULT_THREADS == 1
    cpus = usable_cpus()
    with open_model(SHIPPED, backend="tflite-runtime", threads=cpus + 3) as runner:
        assert runner.threads == cpus
    with TFLiteRunner(SHIPPED, cpus + 3, "tflite-runtime", stock=True) as stock:
        assert stock.threads == cpus + 3  # as asked: the comparison row of legacy_speed


@legacy_only
def test_without_the_xnnpack_c_api_it_opens_as_before_and_says_why(monkeypatch):
    monkeypatch.setattr(tflite_legacy, "_xnnpack_api", lambda: "no XNNPACK C API in this tflite-runtime (test)")
    with open_model(SHIPPED, backend="tflite-runtime", threads=1) as runner:
        assert "built-in kernels" in runner.note and "(no XNNPACK C API" in runner.note
        assert runner.run(np.full((1, 128, 128, 3), 128, np.float32))[0].shape == (1, 1)


@legacy_only
def test_int8_on_xnnpack_re_plans_on_a_batch_size_change(sample_photo):
    import cv2

    from fakeface.edge.imageio import load_image

    rgb = load_image(sample_photo)
    h, w = rgb.shape[:2]
    s = min(h, w)
    square = rgb[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    crops = np.stack([cv2.resize(square, (128, 128), interpolation=cv2.INTER_AREA), square[:128, :128],
                      square[-128:, -128:]]).astype(np.float32)
    with open_model(SHIPPED, backend="tflite-runtime", threads=1) as runner:
        one = [runner.run(c[None])[0] for c in crops]
        three = runner.run(crops)[0]
        assert tflite_legacy.delegated(runner._interp)
    assert np.array_equal(np.concatenate(one), three)


@pytest.mark.parametrize("backend", installed_backends("litert", "tflite-runtime"))
def test_a_logit_int8_file_with_a_float_last_layer_runs_and_matches_litert(backend):
    """Every int8 export since logits keeps its last FULLY_CONNECTED in float after int8
    layers; tflite-runtime 2.14 must run it (on XNNPACK) and give litert's logits."""
    expected = np.load(FIXTURES / "tiny_logit.int8.expected.npz")
    crops, litert_logits = expected["crops"], expected["logits"]
    with open_model(LOGIT_INT8, backend=backend, threads=1) as runner:
        ops = _ops(runner)
        assert ("FULLY_CONNECTED", "float32") in ops and ("CONV_2D", "int8") in ops
        if backend == "tflite-runtime":
            assert runner.note == tflite_legacy.NOTE_INT8 and tflite_legacy.delegated(runner._interp)
        logits = runner.run(crops.astype(np.float32))[0].reshape(-1)
    assert np.allclose(logits, litert_logits, rtol=0, atol=0.05 if backend == "tflite-runtime" else 1e-6)
    clf = Classifier(LOGIT_INT8, backend=backend, threads=1)
    try:
        assert clf.contract.output == "logit"
        p = clf.predict_crops(crops)
    finally:
        clf.close()
    assert np.allclose(p, 1 / (1 + np.exp(-logits.astype(np.float64))), rtol=0, atol=1e-6)


def test_the_bench_note_names_how_tflite_runtime_runs_int8(monkeypatch):
    note = tflite_legacy.int8_xnnpack_note()
    if importlib.util.find_spec("tflite_runtime") is None:
        assert note is None
        return
    assert note == tflite_legacy.NOTE_INT8
    monkeypatch.setattr(tflite_legacy, "_xnnpack_api", lambda: "no XNNPACK C API in this tflite-runtime (test)")
    assert "built-in kernels" in tflite_legacy.int8_xnnpack_note()
