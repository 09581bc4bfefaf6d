"""Shared fixtures: where the face data is, sample photos, and the edge-only guard."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PHOTO = REPO / "edge" / "assets" / "astronaut.jpg"
EDGE_ONLY = os.environ.get("FAKEFACE_EDGE_ONLY") == "1"
# `make test-full` sets it: the TF suite must not go green by skipping every test that needs
# TensorFlow or the mtcnn package.  There, `pytest.importorskip` of either fails instead.
REQUIRE_TF = os.environ.get("FAKEFACE_REQUIRE_TF") == "1"
TF_PACKAGES = ("tensorflow", "mtcnn")


# How far the shipped int8 TFLite and int8 ONNX files may score a face apart when the model
# is sure of it: both outputs saturate, TFLite's in steps of 1/256 (its top value is 255/256),
# ONNX's in steps of 1/255 (top 1.0), so they differ by a step or two (0.004 on the fakes of
# test_fake_photos, at most 0.008 on its reals, 0.0 on the sample), not by the 0.15-0.17 that
# edge/models/parity.md measured for either file on its least certain test faces.
SURE_FACE_BACKEND_GAP = 0.02


# Where the astronaut's face is in the 512x512 sample (checked by eye on an annotated copy).
ASTRONAUT_FACE = (180, 65, 85, 107)


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def data_root() -> Path:
    """../shared/data beside the repository (as in CI), or $FAKEFACE_DATA."""
    env = os.environ.get("FAKEFACE_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def faces_root() -> Path:
    return data_root() / "faces"


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    root = faces_root()
    if not (root / "real").is_dir():
        pytest.skip(f"face data not found at {root} (set FAKEFACE_DATA); it is not shipped with the repository")
    return root


@pytest.fixture(scope="session")
def sample_photo() -> Path:
    return SAMPLE_PHOTO


def installed_backends(*wanted: str) -> list:
    """The backends among ``wanted`` this environment can run, each skipped with a reason if not
    (the legacy numpy<2 environment has tflite-runtime but no ai-edge-litert, for example)."""
    from fakeface.edge.backends import available_backends

    have = available_backends()
    return [b if b in have else pytest.param(b, marks=pytest.mark.skip(reason=f"{b} is not installed here"))
            for b in wanted]


def _importorskip_that_fails_for_tf(original):
    def importorskip(modname, *args, **kwargs):
        if modname.split(".")[0] not in TF_PACKAGES:
            return original(modname, *args, **kwargs)
        try:
            return importlib.import_module(modname)
        except ImportError as exc:
            pytest.fail(f"FAKEFACE_REQUIRE_TF=1 (the TF suite): {modname} must import, not be skipped: "
                        f"{type(exc).__name__}: {exc}", pytrace=False)

    importorskip.fails_for_tf = True
    return importorskip


def pytest_configure(config):
    if not REQUIRE_TF:
        return
    missing = [name for name in TF_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise pytest.UsageError(f"FAKEFACE_REQUIRE_TF=1 (the TF suite), but not installed: {', '.join(missing)} "
                                "(pip install '.[train,dev]')")
    if not getattr(pytest.importorskip, "fails_for_tf", False):
        pytest.importorskip = _importorskip_that_fails_for_tf(pytest.importorskip)


def pytest_collection_modifyitems(config, items):
    if EDGE_ONLY:
        if importlib.util.find_spec("tensorflow") is not None:
            raise pytest.UsageError("FAKEFACE_EDGE_ONLY=1 but tensorflow is installed: this is not an edge-only env")


@pytest.fixture(autouse=True)
def _tensorflow_never_imported_on_edge(request):
    """In the edge-only run, every test must leave TensorFlow unimported."""
    yield
    if EDGE_ONLY:
        leaked = sorted(m for m in ("tensorflow", "keras", "mtcnn") if m in sys.modules)
        assert not leaked, f"{request.node.nodeid} imported {leaked} in the edge-only environment"
