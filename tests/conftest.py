"""Shared fixtures: where the face data is, sample photos, and the edge-only guard."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_PHOTO = REPO / "edge" / "assets" / "astronaut.jpg"
EDGE_ONLY = os.environ.get("FAKEFACE_EDGE_ONLY") == "1"


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


def pytest_collection_modifyitems(config, items):
    if EDGE_ONLY:
        import importlib.util

        if importlib.util.find_spec("tensorflow") is not None:
            raise pytest.UsageError("FAKEFACE_EDGE_ONLY=1 but tensorflow is installed: this is not an edge-only env")


@pytest.fixture(autouse=True)
def _tensorflow_never_imported_on_edge(request):
    """In the edge-only run, every test must leave TensorFlow unimported."""
    yield
    if EDGE_ONLY:
        leaked = sorted(m for m in ("tensorflow", "keras", "mtcnn") if m in sys.modules)
        assert not leaked, f"{request.node.nodeid} imported {leaked} in the edge-only environment"
