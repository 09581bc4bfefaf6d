"""Ctrl-C and SIGTERM in the middle of `prepare`, `train` and `export`.

Each command runs in a subprocess, as a user or a job scheduler runs it; once it has
visibly made progress it gets the signal.  What it leaves must be complete files only
(no *.partial, every PNG decodes, every manifest line parses, no model under a runtime
name without a sidecar that matches it), and running it again must resume (prepare,
train --resume) or start cleanly (export).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fakeface.edge.tf_environment import quiet_tf_env
from conftest import SAMPLE_PHOTO

pytestmark = [pytest.mark.tf, pytest.mark.slow]

SIZE = 32


def _env() -> dict:
    return quiet_tf_env()


def _argv(*argv) -> list[str]:
    return [sys.executable, "-m", "fakeface.edge.cli", *map(str, argv)]


def run_cli(*argv, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(_argv(*argv), capture_output=True, text=True, env=_env(), timeout=timeout)


def _as_if_from_a_terminal() -> None:
    # A test run started in the background by a non-interactive shell (`make test &`, some CI
    # runners) inherits SIGINT as *ignored*, and Python then never installs its Ctrl-C
    # handler; a user at a terminal has the default, so give the child that.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when(argv, ready, sig: int, timeout: float = 120) -> subprocess.CompletedProcess:
    """Start the CLI, wait until ``ready()`` is true, send ``sig``, return the finished process."""
    proc = subprocess.Popen(_argv(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
                            preexec_fn=_as_if_from_a_terminal)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"finished (rc {proc.returncode}) before it could be interrupted:\n{err[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail("made no visible progress in time")
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def assert_stopped_cleanly(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 130, f"rc {proc.returncode} (negative: killed without cleanup)\n{proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "interrupted" in proc.stderr


def assert_no_partials(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if ".partial" in p.name]
    assert not left, f"temporary files left behind: {left}"


def _manifest_lines(out: Path) -> list[dict]:
    text = (out / "manifest.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]  # every line parses


# -- prepare ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def many_photos(tmp_path_factory) -> tuple[Path, int]:
    pytest.importorskip("tensorflow")
    src = tmp_path_factory.mktemp("photos") / "src"
    n = 0
    for cls in ("real", "fake"):
        (src / cls / "people").mkdir(parents=True)
        for i in range(60):
            shutil.copy(SAMPLE_PHOTO, src / cls / "people" / f"p{i:03d}.jpg")
            n += 1
    return src, n


@pytest.mark.parametrize("workers,sig", [(1, signal.SIGTERM), (2, signal.SIGINT)], ids=["1-worker-SIGTERM", "2-workers-SIGINT"])
def test_prepare_interrupted_leaves_complete_files_and_resumes(many_photos, tmp_path, workers, sig):
    from fakeface.edge.imageio import load_image

    src, n = many_photos
    out = tmp_path / "crops"
    argv = ("prepare", src, out, "--input-size", SIZE, "--workers", workers, "--quiet")

    def started() -> bool:
        m = out / "manifest.jsonl"
        return m.is_file() and m.stat().st_size > 0

    first = interrupt_when(argv, started, sig)
    assert_stopped_cleanly(first)
    assert "run the same command again to resume" in first.stderr
    assert_no_partials(out)
    lines = _manifest_lines(out)
    assert 0 < len(lines) < n
    for r in lines:  # a line on disk means its crop is on disk, whole
        assert r["status"] == "ok", r
        assert load_image(out / r["crop"]).shape == (SIZE, SIZE, 3)
    for png in out.rglob("*.png"):  # and no crop is half-written
        assert load_image(png).shape == (SIZE, SIZE, 3)

    again = run_cli(*argv)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr[-2000:]
    assert f"{len(lines)} already done, {n - len(lines)} processed" in again.stdout
    final = _manifest_lines(out)
    assert sorted(r["source"] for r in final) == sorted({r["source"] for r in final})  # nothing done twice
    assert len(final) == n
    assert_no_partials(out)


# -- train ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic_crops(tmp_path_factory) -> Path:
    pytest.importorskip("tensorflow")
    from tiny_models import write_synthetic_crops

    return write_synthetic_crops(tmp_path_factory.mktemp("syn") / "crops", n=400, size=SIZE)


def test_train_sigterm_then_resume_finishes(synthetic_crops, tmp_path):
    import keras

    from fakeface.edge.contract import load_contract

    run = tmp_path / "run"
    epochs = 4
    # small batches: an epoch lasts long enough to be interrupted after the first checkpoint
    argv = ("train", synthetic_crops, "--out", run, "--arch", "tiny", "--epochs", epochs, "--batch-size", 4,
            "--limit", 160)
    state = run / "checkpoint" / "state.json"
    first = interrupt_when(argv, state.is_file, signal.SIGTERM)
    assert_stopped_cleanly(first)
    assert_no_partials(run)
    done = json.loads(state.read_text(encoding="utf-8"))["epoch"]
    assert 1 <= done < epochs
    keras.models.load_model(run / "checkpoint" / "last.keras", safe_mode=True)  # a whole, loadable checkpoint
    model = run / "model.keras"
    if model.is_file():  # a model under its final name always comes with a sidecar that matches it
        load_contract(model, verify_hash=True)

    # what SIGKILL inside a save would leave: never under a final name, removed by the next run
    (run / "checkpoint" / ".last.partial.keras").write_bytes(b"half a zip")
    (run / ".metrics.json.abc123.partial").write_bytes(b"{")

    again = run_cli(*argv, "--resume", "--quiet")
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["epochs_run"] == epochs  # the interrupted epochs were not lost nor repeated
    assert len(metrics["history"]["loss"]) == epochs
    assert load_contract(model, verify_hash=True).input_size == SIZE
    assert_no_partials(run)


# -- export -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_keras(synthetic_crops, tmp_path_factory) -> Path:
    from tiny_models import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"), crops_dir=synthetic_crops, steps=20, input_size=SIZE)


def _assert_published_files_valid(dist: Path) -> list[Path]:
    from fakeface.edge.contract import load_contract

    published = [p for p in dist.iterdir() if p.suffix in (".tflite", ".onnx") and ".failed." not in p.name]
    for p in published:
        load_contract(p, verify_hash=True)  # never a runtime-named model without its matching sidecar
    assert not list(dist.glob(".export-*")), "staging folder left behind"
    assert_no_partials(dist)
    return published


def test_export_sigterm_leaves_only_valid_models_and_reruns_cleanly(tiny_keras, synthetic_crops, tmp_path):
    from fakeface.edge.backends import open_model

    dist = tmp_path / "dist"
    argv = ("export", tiny_keras, "--out", dist, "--formats", "tflite-fp32,tflite-int8",
            "--calib", synthetic_crops, "--calib-count", 32, "--eval", synthetic_crops, "--eval-count", 64,
            "--latency-runs", 2, "--max-acc-drop", 100, "--min-agreement", 0)

    def staging() -> bool:
        return dist.is_dir() and any(dist.glob(".export-*"))

    first = interrupt_when(argv, staging, signal.SIGTERM)
    assert_stopped_cleanly(first)
    _assert_published_files_valid(dist)

    dead = dist / ".export-999999999-abcd"  # no such process: what a SIGKILLed export leaves
    dead.mkdir()
    (dead / "model.fp32.tflite").write_bytes(b"half")

    again = run_cli(*argv)
    assert again.returncode == 0 and "Traceback" not in again.stderr, again.stderr[-2000:]
    published = _assert_published_files_valid(dist)  # the dead staging folder is gone too
    assert sorted(p.name for p in published) == ["model.fp32.tflite", "model.int8.tflite"]
    import numpy as np

    for p in published:
        out = open_model(p, backend="auto").run(np.full((1, SIZE, SIZE, 3), 128, np.float32))
        assert np.isfinite(out[0]).all()
