"""`fakeface --help` marks only what needs TensorFlow (issue 29, item 9).

prepare, evaluate and calibrate run in an [edge] install on .tflite/.onnx models (test_calibrate
runs calibrate there; the issue's check ran prepare and evaluate there too), as do the generalise
reports other than leave-one-out, and export's kit and ship.
"""

from __future__ import annotations

import importlib.util

import pytest

import fakeface.edge.cli as cli


@pytest.fixture()
def help_lines(monkeypatch):
    """Each command's one-line help as an [edge] install shows it (TensorFlow not importable)."""
    real = importlib.util.find_spec
    monkeypatch.setattr(cli.importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    action = cli.build_parser()._subparsers._group_actions[0]
    return {a.dest: a.help for a in action._choices_actions}


def test_commands_that_run_without_tensorflow_are_not_marked(help_lines):
    for command in ("prepare", "evaluate", "calibrate", "check", "watch", "bench"):
        assert "[needs" not in help_lines[command], (command, help_lines[command])


def test_what_needs_tensorflow_is_marked_and_named(help_lines):
    assert help_lines["train"].endswith('[needs: pip install "fakeface[train]"]')
    assert 'fakeface[train]" for leave-one-out' in help_lines["generalise"]
    assert 'fakeface[train]" for exporting a .keras model and mtcnn-nets' in help_lines["export"]
