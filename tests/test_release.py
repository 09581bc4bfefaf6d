"""close() frees what a checker holds: interpreters, sessions and their worker threads.

Threads are counted in /proc/self/task (native threads too: XNNPack's and ONNX Runtime's
pools are not Python threads).  Each count is taken while the checker object is still
referenced, so garbage collection cannot be what freed them.
"""

from __future__ import annotations

import gc
import os

import pytest

from fakeface.edge.backends import open_model
from fakeface.edge.errors import BackendError
from fakeface.edge.classifier import default_model_path
from fakeface.edge.imageio import load_image
from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

from conftest import installed_backends

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc/self/task")


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def settled_baseline(backend: str, image) -> int:
    """The thread count once the backend's process-wide pools exist (a first checker opened,
    used and dropped), so that only what one checker holds is measured."""
    with FakeFaceChecker(CheckerOptions(backend=backend, threads=2)) as warm:
        warm.check(image)
    del warm
    gc.collect()
    return native_threads()


@pytest.mark.parametrize("backend", installed_backends("litert", "onnxruntime"))
def test_close_joins_every_interpreter_thread(backend, sample_photo):
    image = load_image(sample_photo)
    before = settled_baseline(backend, image)
    checker = FakeFaceChecker(CheckerOptions(backend=backend, threads=2))
    checker.check(image)
    # Two threads per interpreter: each keeps a worker thread of its own while open.
    assert native_threads() > before, "the open checker should hold interpreter threads"
    checker.close()
    assert native_threads() == before, "close() left interpreter threads running"
    assert checker.classifier.runner.closed
    checker.close()  # a second close is harmless


@pytest.mark.parametrize("backend", installed_backends("litert", "onnxruntime"))
def test_runner_close_frees_its_threads_and_refuses_to_run(backend):
    import numpy as np

    path = default_model_path(backend)
    with open_model(path, backend, threads=2) as warm:
        warm.run(np.zeros((1, 128, 128, 3), np.float32))
    del warm
    gc.collect()
    before = native_threads()
    runner = open_model(path, backend, threads=2)
    runner.run(np.zeros((1, 128, 128, 3), np.float32))
    assert native_threads() > before
    runner.close()
    assert native_threads() == before
    with pytest.raises(BackendError, match="closed"):
        runner.run(np.zeros((1, 128, 128, 3), np.float32))


def test_a_detector_that_fails_to_load_does_not_leak_the_classifier(monkeypatch, sample_photo):
    from fakeface.edge import pipeline

    before = settled_baseline("auto", load_image(sample_photo))
    opened = []
    real_classifier = pipeline.Classifier

    def recording_classifier(*args, **kwargs):
        opened.append(real_classifier(*args, **kwargs))
        return opened[-1]

    def broken_detector(options):
        raise pipeline.FakeFaceError("detector models missing")

    monkeypatch.setattr(pipeline, "Classifier", recording_classifier)
    monkeypatch.setattr(pipeline, "Detector", broken_detector)
    with pytest.raises(pipeline.FakeFaceError, match="detector models missing") as info:
        FakeFaceChecker(CheckerOptions(threads=2))
    # The traceback in ``info`` still references the half-built checker and its classifier.
    assert info.traceback and opened
    assert opened[0].runner.closed
    assert native_threads() == before
