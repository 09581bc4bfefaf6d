"""The TF suite cannot pass by skipping: with FAKEFACE_REQUIRE_TF=1 (`make test-full`), a
TensorFlow or mtcnn that does not import fails the run instead of skipping its tests.

Each case runs pytest in a child process, with this folder's conftest as a plugin and stand-in
`tensorflow` and `mtcnn` packages that fail to import, as a broken install would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

NEEDS_TF = '''
import pytest

def test_needs_tensorflow():
    pytest.importorskip("tensorflow")

def test_needs_something_else():
    pytest.importorskip("no_such_package_here")
'''

NEEDS_MTCNN_AT_IMPORT = '''
import pytest

mtcnn = pytest.importorskip("mtcnn")

def test_parity():
    assert mtcnn
'''


def run_pytest(tmp_path, source: str, require: bool, broken_stand_ins: bool = True) -> subprocess.CompletedProcess:
    path = [str(TESTS)]
    if broken_stand_ins:
        stubs = tmp_path / "stubs"
        for name in ("tensorflow", "mtcnn"):
            (stubs / name).mkdir(parents=True, exist_ok=True)
            (stubs / name / "__init__.py").write_text(f"raise ModuleNotFoundError('{name} is broken here')\n")
        path.insert(0, str(stubs))
    (tmp_path / "test_case.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAKEFACE_")}
    env["PYTHONPATH"] = os.pathsep.join(path)
    if require:
        env["FAKEFACE_REQUIRE_TF"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "conftest", "-p", "no:cacheprovider",
                           str(tmp_path / "test_case.py")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_without_the_flag_a_broken_tensorflow_skips(tmp_path):
    proc = run_pytest(tmp_path, NEEDS_TF, require=False)
    assert proc.returncode == 0 and "2 skipped" in proc.stdout, proc.stdout + proc.stderr


def test_the_tf_suite_fails_when_tensorflow_does_not_import(tmp_path):
    proc = run_pytest(tmp_path, NEEDS_TF, require=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout and "1 skipped" in proc.stdout, proc.stdout  # other packages still skip
    assert "FAKEFACE_REQUIRE_TF=1" in proc.stdout and "tensorflow is broken here" in proc.stdout


def test_the_tf_suite_fails_when_mtcnn_does_not_import(tmp_path):
    proc = run_pytest(tmp_path, NEEDS_MTCNN_AT_IMPORT, require=True)
    assert proc.returncode != 0 and "1 error" in proc.stdout, proc.stdout + proc.stderr
    assert "mtcnn is broken here" in proc.stdout


def test_the_tf_suite_refuses_to_start_without_tensorflow(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed here: this case is for the edge-only environment")
    proc = run_pytest(tmp_path, NEEDS_TF, require=True, broken_stand_ins=False)
    assert proc.returncode != 0 and "not installed: tensorflow" in proc.stderr, proc.stdout + proc.stderr
