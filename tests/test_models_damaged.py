"""Damaged, mismatched or missing models are refused at load time with a clear message."""

from __future__ import annotations

import json
import shutil

import pytest

from fakeface.edge.classifier import Classifier, default_model_path
from fakeface.edge.contract import file_sha256, sidecar_path
from fakeface.edge.errors import FakeFaceError, ModelError
from fakeface.edge.cli import main

from conftest import SURE_FACE_BACKEND_GAP, installed_backends


def copy_model(tmp_path, backend="litert"):
    src = default_model_path(backend)
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    shutil.copy(sidecar_path(src), sidecar_path(dst))
    return dst


def rewrite_sidecar(model, **changes):
    meta = json.loads(sidecar_path(model).read_text())
    meta.update(changes)
    sidecar_path(model).write_text(json.dumps(meta))


@pytest.mark.parametrize("backend", installed_backends("litert", "onnxruntime"))
def test_truncated_model_is_refused(tmp_path, backend):
    model = copy_model(tmp_path, backend)
    model.write_bytes(model.read_bytes()[:300])
    rewrite_sidecar(model, sha256=file_sha256(model))  # the hash matches; the content is broken
    with pytest.raises(ModelError, match=model.name):
        Classifier(model, backend=backend)


@pytest.mark.parametrize("backend", installed_backends("litert", "onnxruntime"))
def test_model_not_matching_its_metadata_is_refused(tmp_path, backend):
    model = copy_model(tmp_path, backend)
    with open(model, "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match="does not match its metadata"):
        Classifier(model, backend=backend)


def test_wrong_input_shape_is_refused(tmp_path):
    model = copy_model(tmp_path)
    meta = json.loads(sidecar_path(model).read_text())
    rewrite_sidecar(model, input_size=meta["input_size"] + 16)
    with pytest.raises(ModelError, match="input shape"):
        Classifier(model)


def test_missing_model_and_wrong_backend(tmp_path, capsys):
    assert main(["check", "x.jpg", "--model", str(tmp_path / "none.tflite")]) == 2
    assert "model file not found" in capsys.readouterr().err
    model = copy_model(tmp_path)
    with pytest.raises(FakeFaceError, match="cannot run .tflite"):
        Classifier(model, backend="onnxruntime")


def test_legacy_tflite_runtime_is_explained_or_agrees(tmp_path, sample_photo):
    """tflite-runtime is not in the edge extra: asking for it must say what to install.
    Where it is installed (the legacy numpy<2 env) it must give litert's answer."""
    import importlib.util

    import numpy as np

    from fakeface.edge.errors import BackendError

    model = copy_model(tmp_path)
    if importlib.util.find_spec("tflite_runtime") is None:
        with pytest.raises(BackendError, match=r"fakeface\[legacy\]"):
            Classifier(model, backend="tflite-runtime")
        return
    from fakeface.edge.backends import available_backends

    from fakeface.edge.contract import crop_face
    from fakeface.edge.imageio import load_image
    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    legacy = Classifier(model, backend="tflite-runtime")
    with FakeFaceChecker.create_from_options(CheckerOptions(backend="onnxruntime")) as checker:
        report = checker.check_file(sample_photo)
    face = crop_face(load_image(sample_photo), report.faces[0].box, legacy.contract)
    crops = np.stack([face, face[:, ::-1], np.random.default_rng(0).integers(0, 256, face.shape, dtype=np.uint8)])
    if "litert" in available_backends():  # same file, other interpreter: equal
        reference = Classifier(model, backend="litert")
        assert np.allclose(legacy.predict_crops(crops), reference.predict_crops(crops), atol=1e-5)
    else:
        # The legacy env has no litert: compare with the ONNX export of the same Keras model, on
        # the two face crops (the noise crop is no face: two int8 files may score it anything).
        # The sample's face is one the model is sure of, where the two int8 files differ by an
        # output step or two (conftest.SURE_FACE_BACKEND_GAP explains the bound).
        reference = Classifier(default_model_path("onnxruntime"), backend="onnxruntime")
        a, b = legacy.predict_crops(crops[:2]), reference.predict_crops(crops[:2])
        assert np.abs(a - b).max() <= SURE_FACE_BACKEND_GAP, (a, b)
        t = legacy.contract.threshold
        assert ((a >= t) == (b >= t)).all()
